#!/usr/bin/env node
/**
 * npm run bench: the figures the README quotes, measured against the stand-in API on 127.0.0.1.
 * Sizes are exact (bench/sizes.mjs; the README's copies of them are generated and checked in CI);
 * timings are medians and ratios against a baseline measured in the same run, never absolute limits.
 *
 *   npm run bench               prints the report on stdout and writes nothing
 *   npm run bench -- --write    also writes it to docs/BENCHMARKS.md (then `npm run generate` carries
 *                               its timing figures into the README)
 *   node bench/run.mjs --out F  writes it to F instead
 *
 * Redis is measured where a URL is given: VT_BENCH_REDIS_URL (the sharing and miss benchmarks; the miss
 * benchmark flushes that database, so name one that holds nothing else) or VT_TEST_REDIS_URL (the sharing
 * benchmark only, which removes just its own keys). bench/npx-start.mjs (npx from a packed tarball into an
 * empty npm cache) is slow and network-bound, and runs on its own.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { coldStart, describeColdStart } from './cold-start.mjs';
import { connectTimes, describeConnect } from './connect.mjs';
import { fmt, KEY, median, startClient } from './harness.mjs';
import { describeHttpCost, httpCost } from './http-cost.mjs';
import { describeMemory, serverMemory } from './memory.mjs';
import { describeMissCost, missCost, transactionsPerMiss } from './miss-cost.mjs';
import { sharingCost } from './sharing.mjs';
import { answerSizes, fixedCost, reportSizes, sizeTables } from './sizes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
export const BENCHMARKS_FILE = `${root}docs/BENCHMARKS.md`;

/** Figures the README quotes from a written report travel in this comment, as JSON (see figuresOf). */
const FIGURES_MARK = '<!-- bench-figures ';

const rounded = (o) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));

/** The timing figures recorded in a report this script wrote, or undefined. */
export function figuresOf(markdown) {
  const at = markdown.lastIndexOf(FIGURES_MARK);
  if (at < 0) return undefined;
  const end = markdown.indexOf(' -->', at);
  return JSON.parse(markdown.slice(at + FIGURES_MARK.length, end));
}

/** Cache-hit latency, and 200 lookups through the server vs 200 direct HTTP requests to the stand-in. */
async function mediation() {
  const s = await startClient({ env: { VT_MAX_CONCURRENCY: '8' } });
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
      if (r.isError) throw new Error(`bench: lookup of ${id} failed`);
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
  const figures = {
    mediationRatio: vm / dm,
    cacheHitRatio: median(hit) / median(miss),
  };
  const markdown = [
    '## Mediation overhead (no rate limit, 8 concurrent)',
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
  return { markdown, figures };
}

/**
 * 50 concurrent HTTP clients doing 20 calls each against cached data, on a server in its own process
 * (`nodeArgs` go to node before the script).
 */
export async function httpLoad(nodeArgs = []) {
  const { spawn } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const { StreamableHTTPClientTransport } = await import(
    '@modelcontextprotocol/sdk/client/streamableHttp.js'
  );
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(
    process.execPath,
    [...nodeArgs, `${root}dist/index.js`, '--demo', '--transport', 'http', '--port', String(port)],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, VT_MCP_CLIENT_RATE: '0', VT_STATE: 'memory' },
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
  const figures = {
    httpCalls: lat.length,
    httpOk: lat.length - failures,
    httpP50: pct(50),
    httpP99: pct(99),
    httpPerSecond: (lat.length / wall) * 1000,
    httpPeakMb: peak / 1024,
    httpIdleMb: idleKb / 1024,
  };
  const markdown = [
    '## Streamable HTTP: 50 concurrent clients × 20 calls (cached data, server in its own process)',
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
  return { markdown, figures };
}

/**
 * Peak memory of the bin over 20,000 distinct lookups, cache off and at the default 64 MB (within about
 * 1.5× the setting over the baseline). bench/memory.mjs runs it alone.
 */
async function memory() {
  const lookups = 20_000;
  const cacheMb = 64;
  const off = await serverMemory({ lookups });
  const on = await serverMemory({ lookups, cacheMb });
  const MB = 1024 * 1024;
  const figures = {
    memoryLookups: lookups,
    memoryCacheMb: cacheMb,
    memoryOffMb: (off.peak - off.baseline) / MB,
    memoryOnMb: (on.peak - on.baseline) / MB,
    memoryBaselineMb: on.baseline / MB,
  };
  const markdown = [
    `## Memory: ${fmt(lookups)} distinct file reports through the bin (stdio, 8 calls in flight)`,
    '',
    'Peak resident set (VmHWM) less the resident set after a warm-up of 200 lookups, on the server process.',
    '',
    `- ${describeMemory('cache off', off)}`,
    `- ${describeMemory(`cache ${cacheMb} MB (the default)`, on, cacheMb)}`,
    '',
  ].join('\n');
  return { markdown, figures };
}

async function main() {
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? undefined : (process.argv[i + 1] ?? '');
  };
  const out = process.argv.includes('--write') ? BENCHMARKS_FILE : arg('--out');
  if (out === '') throw new Error('--out needs a file name');
  const fixed = await fixedCost();
  const reports = await reportSizes();
  const answers = await answerSizes();
  const med = await mediation();
  const cold = describeColdStart(await coldStart());
  const miss = describeMissCost(await missCost(), await transactionsPerMiss());
  const http = await httpLoad();
  const httpVsMinimal = describeHttpCost(await httpCost());
  const connect = describeConnect(await connectTimes());
  const sharing = await sharingCost();
  const mem = await memory();
  const run = {
    node: process.version,
    date: new Date().toISOString().slice(0, 10),
    cores: availableParallelism(),
  };
  const text = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench -- --write\` (bench/run.mjs): node ${run.node}, ${run.cores} cores, ${run.date}.`,
    'Sizes are exact and the same on every run; timings are medians and ratios to a baseline measured in',
    'the same run, and vary from machine to machine and run to run.',
    '',
    sizeTables(fixed, reports, answers),
    med.markdown,
    cold.markdown,
    miss.markdown,
    http.markdown,
    httpVsMinimal.markdown,
    connect.markdown,
    sharing.markdown,
    mem.markdown,
    `${FIGURES_MARK}${JSON.stringify({ ...run, ...rounded({ ...med.figures, ...cold.figures, ...miss.figures, ...http.figures, ...httpVsMinimal.figures, ...connect.figures, ...sharing.figures, ...mem.figures }) })} -->`,
    '',
  ].join('\n');
  process.stdout.write(text);
  if (out) {
    writeFileSync(out, text);
    process.stderr.write(`bench: wrote ${out}\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
