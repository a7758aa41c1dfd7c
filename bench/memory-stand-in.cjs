/**
 * A stand-in VirusTotal for memory measurements, in a process of its own so that its allocations are
 * not the measured process's. GET /api/v3/files/<64 hex digits> answers the n-th distinct file report,
 * n being the hex number: a recorded report (one of the templates, round robin) under hashes of its
 * own. Plain CommonJS, so it runs without a build.
 *
 *   node bench/memory-stand-in.cjs <templates.json>   prints its port on stdout
 */
const { createServer } = require('node:http');
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');

// Each template serialised once, with placeholders where the hashes go: a request only splices them
// in (parsing and serialising each report per request cost the test more CPU than the server under test).
const MARK = { id: '@@ID@@', sha256: '@@SHA256@@', md5: '@@MD5@@', sha1: '@@SHA1@@' };
const bodies = JSON.parse(readFileSync(process.argv[2], 'utf8')).map((t) => {
  const o = JSON.parse(t);
  o.id = MARK.id;
  o.attributes = Object.assign({}, o.attributes, { sha256: MARK.sha256, md5: MARK.md5, sha1: MARK.sha1 });
  return JSON.stringify({ data: o });
});
const hex = (n, algo) => createHash(algo).update(`vtbrief-memory-${n}`).digest('hex');

const server = createServer((req, res) => {
  const m = /^\/api\/v3\/files\/([0-9a-f]{64})$/.exec(req.url || '');
  if (!m) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"NotFoundError","message":"not found"}}');
    return;
  }
  const n = Number.parseInt(m[1], 16);
  const body = bodies[n % bodies.length]
    .replace(MARK.id, m[1])
    .replace(MARK.sha256, m[1])
    .replace(MARK.md5, hex(n, 'md5'))
    .replace(MARK.sha1, hex(n, 'sha1'));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
