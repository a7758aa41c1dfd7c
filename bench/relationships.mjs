/**
 * Answer sizes of vt_get_relationships, vt_search and vt_get_behaviour over every recorded
 * relationship page, intelligence search and behaviour summary in fixtures/vt, measured through an
 * MCP client against the stand-in API (the answers a model would read). Imports the built dist/:
 * run `npm run build` first. bench/run.mjs calls relationshipBench(); this file also runs on its own.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { loadConfig } from '../dist/config.js';
import { BUNDLED_FIXTURES, RecordedApi } from '../dist/demo/recorded-api.js';
import { createServer } from '../dist/server/create-server.js';
import { createRuntime } from '../dist/server/runtime.js';

const KEY = 'bench-key-not-a-real-virustotal-key';
const COLL_TYPE = { files: 'file', urls: 'url', domains: 'domain', ip_addresses: 'ip_address' };
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

const fmt = (n) => n.toLocaleString('en-US');

async function withClient(fn) {
  const api = await new RecordedApi({ apiKey: KEY }).start();
  const config = loadConfig(
    { VIRUSTOTAL_API_KEY: KEY, VIRUSTOTAL_API_URL: api.url, VT_RATE_LIMIT: 'off', VT_DAILY_QUOTA: 'off' },
    [],
  );
  const runtime = createRuntime(config, silent);
  const server = createServer({ vt: runtime.gateway, config, log: silent, demo: false });
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'vtbrief-bench', version: '0.0.0' });
  await server.connect(serverT);
  await client.connect(clientT);
  try {
    return await fn(async (name, args) => {
      const res = await client.callTool({ name, arguments: args });
      const text = res.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      return { text, isError: !!res.isError, items: res.structuredContent?.items?.length ?? 0 };
    });
  } finally {
    await client.close();
    await server.close();
    await runtime.close();
    await api.close();
  }
}

/** Markdown: one row per recorded response, then medians and maxima per tool. */
export async function relationshipBench() {
  const manifest = JSON.parse(readFileSync(`${BUNDLED_FIXTURES}/manifest.json`, 'utf8'));
  const bytes = (file) => readFileSync(`${BUNDLED_FIXTURES}/${file}`).length;
  const rows = [];
  await withClient(async (call) => {
    for (const r of manifest.routes) {
      const rel = /^\/(files|urls|domains|ip_addresses)\/([^/]+)\/([a-z_]+)$/.exec(r.path);
      if (rel && rel[3] === 'behaviour_summary') {
        const a = await call('vt_get_behaviour', { indicator: rel[2] });
        rows.push({
          tool: 'vt_get_behaviour',
          what: `behaviour of ${rel[2].slice(0, 12)}…`,
          bytes: bytes(r.file),
          ...a,
        });
      } else if (rel && rel[3] !== 'behaviour_mitre_trees') {
        const a = await call('vt_get_relationships', {
          indicator: rel[2],
          type: COLL_TYPE[rel[1]],
          relationship: rel[3],
          limit: 10,
        });
        const who = rel[1] === 'urls' || rel[1] === 'files' ? `${rel[2].slice(0, 12)}…` : rel[2];
        rows.push({ tool: 'vt_get_relationships', what: `${who} ${rel[3]}`, bytes: bytes(r.file), ...a });
      } else if (r.path === '/intelligence/search' && r.query?.query) {
        const a = await call('vt_search', { query: r.query.query, limit: 10 });
        const q = r.query.query.length > 48 ? `${r.query.query.slice(0, 47)}…` : r.query.query;
        rows.push({ tool: 'vt_search', what: q.replace(/\|/g, '\\|'), bytes: bytes(r.file), ...a });
      }
    }
  });
  const lines = [
    '| tool | recorded response | recorded bytes | items | answer chars |',
    '|---|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.tool} | ${r.what}${r.isError ? ' (error)' : ''} | ${fmt(r.bytes)} | ${r.items} | ${fmt(r.text.length)} |`,
    ),
    '',
    '| tool | answers | median chars | max chars | median recorded bytes |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const tool of ['vt_get_relationships', 'vt_search', 'vt_get_behaviour']) {
    const mine = rows.filter((r) => r.tool === tool);
    lines.push(
      `| ${tool} | ${mine.length} | ${fmt(median(mine.map((r) => r.text.length)))} | ` +
        `${fmt(Math.max(0, ...mine.map((r) => r.text.length)))} | ${fmt(median(mine.map((r) => r.bytes)))} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${await relationshipBench()}\n`);
}
