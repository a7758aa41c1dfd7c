/**
 * The stand-in VirusTotal of bench/tenants.mjs: a plain node:http server on 127.0.0.1, in the bench's own
 * process, that answers any file report (GET /files/<hash>) and any URL report (GET /urls/<url id>) from
 * one recorded report of each kind, with the ids spliced in, after an optional delay. It counts what it
 * is asked, per tenant: `classify(hash)` names the tenant a file hash belongs to. It needs no build (the
 * recordings are read from fixtures/vt/), so the same stand-in serves an older checkout's bin.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const fixtures = fileURLToPath(new URL('../fixtures/vt/', import.meta.url));
const read = (name) => JSON.parse(readFileSync(`${fixtures}${name}`, 'utf8')).data;
const FILE = read('file_report_pe_full_crowdsourced.json');
const URL_REPORT = read('url_report_example_com_vtx.json');

const digest = (algo, s) => createHash(algo).update(s).digest('hex');

/** A 64-hex hash of its own for each (tenant, n): distinct files that no recording shares. */
export const benchHash = (tenant, n) => digest('sha256', `vtbrief-tenants-${tenant}-${n}`);

function fileBody(hash) {
  const sha256 = hash.length === 64 ? hash : digest('sha256', hash);
  return JSON.stringify({
    data: {
      ...FILE,
      id: sha256,
      attributes: {
        ...FILE.attributes,
        sha256,
        sha1: digest('sha1', sha256),
        md5: digest('md5', sha256),
      },
    },
  });
}

function urlBody(urlId) {
  const url = Buffer.from(urlId, 'base64url').toString('utf8');
  return JSON.stringify({
    data: {
      ...URL_REPORT,
      id: digest('sha256', url),
      attributes: { ...URL_REPORT.attributes, url, last_final_url: url },
    },
  });
}

/**
 * Starts the stand-in. `delayMs` holds every answer that long; `classify(hash)` returns a tenant name
 * (or undefined) for a file hash. Returns its API base `url`, `counts()` (total, per kind, per tenant),
 * `reset()` and `close()`.
 */
export async function startStandIn({ delayMs = 0, classify = () => undefined } = {}) {
  let counts = { total: 0, files: 0, urls: 0, other: 0, byTenant: {} };
  const sockets = new Set();
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    counts.total++;
    let status = 404;
    let body = '{"error":{"code":"NotFoundError","message":"not found"}}';
    const file = /^\/api\/v3\/files\/([0-9a-fA-F]{32,64})$/.exec(path);
    const url = /^\/api\/v3\/urls\/([A-Za-z0-9_-]+)$/.exec(path);
    if (file) {
      counts.files++;
      const hash = file[1].toLowerCase();
      const tenant = classify(hash);
      if (tenant) counts.byTenant[tenant] = (counts.byTenant[tenant] ?? 0) + 1;
      status = 200;
      body = fileBody(hash);
    } else if (url) {
      counts.urls++;
      status = 200;
      body = urlBody(url[1]);
    } else counts.other++;
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (delayMs > 0) setTimeout(send, delayMs).unref();
    else send();
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/api/v3`,
    counts: () => structuredClone(counts),
    reset: () => {
      counts = { total: 0, files: 0, urls: 0, other: 0, byTenant: {} };
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
