#!/usr/bin/env node
/**
 * npm run bench: the figures the README quotes, measured against the stand-in API on 127.0.0.1.
 * Sizes are exact; timings are medians and ratios against a baseline measured in the same run.
 * Usage: node bench/run.mjs [--out docs/BENCHMARKS.md]
 */
import { writeFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { loadConfig } from '../dist/config.js';
import { RecordedApi } from '../dist/demo/recorded-api.js';
import { createLogger } from '../dist/log.js';
import { createServer } from '../dist/server/create-server.js';
import { createRuntime } from '../dist/server/runtime.js';

const KEY = 'bench-key';
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');

/** A server wired as index.ts wires it, with an in-memory MCP client. */
export async function startBenchServer(env = {}) {
  const api = await new RecordedApi({ apiKey: KEY }).start();
  const config = loadConfig(
    {
      VIRUSTOTAL_API_KEY: KEY,
      VIRUSTOTAL_API_URL: api.url,
      VT_RATE_LIMIT: 'off',
      VT_DAILY_QUOTA: 'off',
      ...env,
    },
    [],
  );
  const log = createLogger({ secrets: [KEY], level: 'error' });
  const runtime = createRuntime(config, log);
  const server = createServer({ vt: runtime.gateway, config, log, demo: false });
  const [ct, st] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'bench', version: '0' });
  await server.connect(st);
  await client.connect(ct);
  const call = async (name, args) => client.callTool({ name, arguments: args });
  const text = (r) => r.content.map((c) => c.text ?? '').join('\n');
  return {
    api,
    client,
    call,
    text,
    close: async () => {
      await client.close();
      await server.close();
      await runtime.close();
      await api.close();
    },
  };
}

/** Fixed cost: what the model reads before its first call. */
async function fixedCost() {
  const s = await startBenchServer();
  const tools = await s.client.listTools();
  const instructions = s.client.getInstructions() ?? '';
  const perTool = tools.tools.map((t) => `| ${t.name} | ${fmt(JSON.stringify(t).length)} |`);
  const total = JSON.stringify(tools.tools).length + instructions.length;
  await s.close();
  return [
    '### Fixed cost (tools/list + instructions)',
    '',
    '| part | characters |',
    '|---|---:|',
    ...perTool,
    `| instructions | ${fmt(instructions.length)} |`,
    `| **total** | **${fmt(total)}** |`,
    '',
  ].join('\n');
}

/** Every recorded report through vt_get_report: raw size, concise and detailed text, upstream requests. */
async function reportSizes() {
  const s = await startBenchServer({ VT_CACHE_TTL_SECONDS: '0' });
  const objects = s.api.objects().filter((o) => ['file', 'url', 'domain', 'ip_address'].includes(o.type));
  const rows = [];
  for (const o of objects) {
    const indicator = o.type === 'url' ? o.attributes.url : o.id;
    const type = o.type;
    const raw = JSON.stringify({ data: o }).length;
    const before = s.api.count();
    const concise = await s.call('vt_get_report', { indicator, type });
    const requests = s.api.count() - before;
    const detailed = await s.call('vt_get_report', { indicator, type, detail: 'detailed' });
    if (concise.isError || detailed.isError) throw new Error(`bench: ${indicator}: ${s.text(concise)}`);
    rows.push({
      name: `${type} ${String(o.id).slice(0, 16)}`,
      raw,
      concise: s.text(concise).length,
      detailed: s.text(detailed).length,
      requests,
    });
  }
  await s.close();
  rows.sort((a, b) => b.raw - a.raw);
  const med = (k) => median(rows.map((r) => r[k]));
  const lines = [
    `### vt_get_report over ${rows.length} recorded reports`,
    '',
    '| report | raw JSON | concise text | detailed text | upstream requests |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) => `| ${r.name} | ${fmt(r.raw)} | ${fmt(r.concise)} | ${fmt(r.detailed)} | ${r.requests} |`,
    ),
    `| **median** | **${fmt(med('raw'))}** | **${fmt(med('concise'))}** | **${fmt(med('detailed'))}** | **${med('requests')}** |`,
    `| **max** | ${fmt(Math.max(...rows.map((r) => r.raw)))} | ${fmt(Math.max(...rows.map((r) => r.concise)))} | ${fmt(Math.max(...rows.map((r) => r.detailed)))} | ${Math.max(...rows.map((r) => r.requests))} |`,
    '',
  ];
  return lines.join('\n');
}

/** Cache-hit latency, and 200 lookups through the server vs 200 direct HTTP requests to the stand-in. */
async function mediation() {
  const s = await startBenchServer({ VT_MAX_CONCURRENCY: '8' });
  const ids = [...new Set(s.api.objects('file').map((o) => o.id))];
  // 200 lookups of distinct-ish work: cycle the recorded files, bypassing the cache so each goes upstream.
  const indicators = Array.from({ length: 200 }, (_, i) => ids[i % ids.length]);
  // `workers` callers at a time work through the list, as an agent pipeline would.
  const timedPool = async (workers, job) => {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < indicators.length) await job(indicators[next++]);
      }),
    );
    return performance.now() - t0;
  };
  const direct = () =>
    timedPool(8, async (id) => {
      const res = await fetch(`${s.api.url}/files/${id}`, { headers: { 'x-apikey': KEY } });
      await res.json();
    });
  const viaServer = () =>
    timedPool(8, async (id) => {
      const r = await s.call('vt_get_report', { indicator: id, fresh: true });
      if (r.isError) throw new Error(s.text(r));
    });
  const runs = 5;
  const d = [];
  const v = [];
  await direct(); // warm-up of both paths
  await viaServer();
  for (let i = 0; i < runs; i++) {
    d.push(await direct());
    v.push(await viaServer());
  }
  // Cache hits: the same indicator again and again, against one upstream miss measured alongside.
  const hit = [];
  const miss = [];
  for (let i = 0; i < 50; i++) {
    let t0 = performance.now();
    await s.call('vt_get_report', { indicator: ids[0], fresh: true });
    miss.push(performance.now() - t0);
    t0 = performance.now();
    await s.call('vt_get_report', { indicator: ids[0] });
    hit.push(performance.now() - t0);
  }
  await s.close();
  const dm = median(d);
  const vm = median(v);
  return [
    '### Mediation overhead (no rate limit, 8 concurrent)',
    '',
    '| measure | median | ratio |',
    '|---|---:|---:|',
    `| 200 direct HTTP requests to the stand-in | ${fmt(dm)} ms | 1.00 |`,
    `| 200 vt_get_report calls through the server (fresh, so all upstream) | ${fmt(vm)} ms | ${(vm / dm).toFixed(2)} |`,
    `| one vt_get_report, upstream | ${median(miss).toFixed(2)} ms | 1.00 |`,
    `| one vt_get_report, cache hit | ${median(hit).toFixed(2)} ms | ${(median(hit) / median(miss)).toFixed(2)} |`,
    '',
    `Throughput through the server: ${fmt((200 / vm) * 1000)} lookups/s against ${fmt((200 / dm) * 1000)} direct (${runs} runs each, medians).`,
    '',
  ].join('\n');
}

/** 50 concurrent HTTP clients doing 20 calls each against cached data, on a server in its own process. */
async function httpLoad() {
  const { spawn } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const { StreamableHTTPClientTransport } = await import(
    '@modelcontextprotocol/sdk/client/streamableHttp.js'
  );
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(
    process.execPath,
    ['dist/index.js', '--demo', '--transport', 'http', '--port', String(port)],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, VT_MCP_CLIENT_RATE: '0' },
    },
  );
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  const peakKb = () =>
    Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
  const connect = async () => {
    const c = new Client({ name: 'bench-http', version: '0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
    return c;
  };
  const warm = await connect();
  await warm.callTool({ name: 'vt_get_report', arguments: { indicator: 'github.com' } });
  await warm.close();
  const idleKb = peakKb();
  // Baseline in the same run: a bare HTTP round trip to /healthz.
  const health = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await (await fetch(`${base}/healthz`)).text();
    health.push(performance.now() - t0);
  }
  const lat = [];
  let failures = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      const c = await connect();
      for (let i = 0; i < 20; i++) {
        const s = performance.now();
        const r = await c.callTool({ name: 'vt_get_report', arguments: { indicator: 'github.com' } });
        lat.push(performance.now() - s);
        if (r.isError) failures++;
      }
      await c.close();
    }),
  );
  const wall = performance.now() - t0;
  const peak = peakKb();
  child.kill();
  const sorted = [...lat].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  const hm = median(health);
  return [
    '### Streamable HTTP: 50 concurrent clients × 20 calls (cached data, server in its own process)',
    '',
    '| measure | value | ratio to a bare /healthz round trip |',
    '|---|---:|---:|',
    `| calls answered without error | ${fmt(lat.length - failures)} of ${fmt(lat.length)} | |`,
    `| /healthz round trip (median, baseline) | ${hm.toFixed(2)} ms | 1.0 |`,
    `| tool call latency p50 | ${pct(50).toFixed(1)} ms | ${(pct(50) / hm).toFixed(1)} |`,
    `| tool call latency p99 | ${pct(99).toFixed(1)} ms | ${(pct(99) / hm).toFixed(1)} |`,
    `| throughput | ${fmt((lat.length / wall) * 1000)} calls/s | |`,
    `| server peak memory (VmHWM) | ${fmt(peak / 1024)} MB (${fmt(idleKb / 1024)} MB before the load) | |`,
    '',
  ].join('\n');
}

async function main() {
  const outIdx = process.argv.indexOf('--out');
  const sections = [
    `## Benchmarks (node ${process.version}, ${new Date().toISOString().slice(0, 10)})`,
    '',
    await fixedCost(),
    await reportSizes(),
    await mediation(),
    await httpLoad(),
  ];
  try {
    const extra = await import('./relationships.mjs');
    if (extra.relationshipBench) {
      sections.push(
        `### Relationships, search and behaviour: answer sizes (characters)\n\n${await extra.relationshipBench()}`,
      );
    }
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
  const out = sections.join('\n');
  process.stdout.write(`${out}\n`);
  if (outIdx !== -1 && process.argv[outIdx + 1]) writeFileSync(process.argv[outIdx + 1], `${out}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
