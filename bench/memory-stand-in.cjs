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

const templates = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const hex = (n, algo) => createHash(algo).update(`vtbrief-memory-${n}`).digest('hex');

const server = createServer((req, res) => {
  const m = /^\/api\/v3\/files\/([0-9a-f]{64})$/.exec(req.url || '');
  if (!m) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"NotFoundError","message":"not found"}}');
    return;
  }
  const n = Number.parseInt(m[1], 16);
  const o = JSON.parse(templates[n % templates.length]);
  o.id = m[1];
  o.attributes = Object.assign({}, o.attributes, { sha256: m[1], md5: hex(n, 'md5'), sha1: hex(n, 'sha1') });
  const body = JSON.stringify({ data: o });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
