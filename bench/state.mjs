#!/usr/bin/env node
/**
 * The cost of sharing state, as ratios to the memory backend measured in the same run: the median
 * time of a cache hit (cacheGet of a ~20 KB report) and of an upstream request's accounting
 * (acquire + settle), for memory, sqlite (a temp file) and redis (VT_BENCH_REDIS_URL or
 * VT_TEST_REDIS_URL; skipped without one). Store operations alone: no HTTP, no MCP, no parsing.
 *
 *   node bench/state.mjs [--n 2000]
 *
 * It imports the built state modules from dist/: run `npm run build` first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../dist/vt/state/memory.js';
import { openRedisStore } from '../dist/vt/state/redis.js';
import { openSqliteStore } from '../dist/vt/state/sqlite.js';
import { keyspace } from '../dist/vt/state/store.js';

const argN = process.argv.indexOf('--n');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 2000;
const WARMUP = Math.min(200, N);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function measure(fn) {
  for (let i = 0; i < WARMUP; i++) await fn(i);
  const times = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await fn(WARMUP + i);
    times.push(performance.now() - t);
  }
  return median(times);
}

/** A body the size of a typical file report. */
const BODY = JSON.stringify({
  data: {
    type: 'file',
    id: 'a'.repeat(64),
    attributes: {
      names: Array.from({ length: 100 }, (_, i) => `sample-${i}.exe`),
      last_analysis_results: Object.fromEntries(
        Array.from({ length: 150 }, (_, i) => [
          `engine${i}`,
          {
            category: 'undetected',
            engine_name: `engine${i}`,
            engine_version: '1.2.3',
            result: null,
            method: 'blacklist',
          },
        ]),
      ),
    },
  },
});

async function bench(store) {
  const t0 = Date.UTC(2031, 0, 1);
  const keys = [`/files/${'a'.repeat(64)}`, `/files/${'b'.repeat(32)}`, `/files/${'c'.repeat(40)}`];
  await store.cacheSet(keys, { body: BODY, fetchedAt: t0 }, 3_600_000, t0);
  const hit = await measure(async (i) => {
    const v = await store.cacheGet(keys[i % 3], t0 + 1);
    if (!v) throw new Error('miss');
  });
  // What a hit costs the gateway, which parses the body either way.
  const hitParsed = await measure(async (i) => {
    const v = await store.cacheGet(keys[i % 3], t0 + 1);
    if (!v) throw new Error('miss');
    JSON.parse(v.body);
  });
  // A window of 4 per 60 s with the clock moving 15.001 s per request: every acquire is granted.
  const window = { requests: 4, seconds: 60 };
  const acq = await measure(async (i) => {
    const now = t0 + i * 15_001;
    const a = await store.acquire({ now, window, leaseMs: 30_000 });
    if (!a.granted) throw new Error('refused');
    await store.settle(a.slot, now, window);
  });
  return { hit, hitParsed, acq };
}

const tmp = mkdtempSync(join(tmpdir(), 'vtbrief-bench-db-'));
try {
  const ks = keyspace(`bench-${process.pid}-${Date.now()}`);
  const results = {};
  const mem = new MemoryStore({ cacheMaxBytes: 64e6 });
  results.memory = await bench(mem);
  await mem.close();
  const sq = openSqliteStore({ path: join(tmp, 'state.db'), keyspace: ks, cacheMaxBytes: 64e6 });
  results.sqlite = await bench(sq);
  await sq.close();
  const url = process.env.VT_BENCH_REDIS_URL || process.env.VT_TEST_REDIS_URL;
  if (url) {
    const namespace = `vtbrief-bench-${process.pid}`;
    const rs = await openRedisStore({ url, keyspace: ks, cacheMaxBytes: 64e6, namespace });
    if (!rs.connected) throw new Error(`Redis at ${rs.location} does not answer`);
    results.redis = await bench(rs);
    // Remove what the run wrote.
    const { createClient } = await import('redis');
    const c = createClient({ url });
    await c.connect();
    for await (const k of c.scanIterator({ MATCH: `${namespace}:*`, COUNT: 500 }))
      if (k.length) await c.del(k);
    await c.close();
    await rs.close();
  } else {
    console.log('redis: skipped (set VT_BENCH_REDIS_URL or VT_TEST_REDIS_URL)');
  }
  const base = results.memory;
  console.log(`State store cost, median of ${N} operations each, as a ratio to memory (same run):`);
  console.log(`body ${BODY.length} bytes; acquire+settle with a window of 4/60 s`);
  console.log('backend   cache hit               hit + JSON.parse        acquire+settle');
  for (const [name, r] of Object.entries(results)) {
    const f = (v, b) => `${(v / b).toFixed(2).padStart(7)}× (${(v * 1000).toFixed(1)} µs)`.padEnd(24);
    console.log(
      `${name.padEnd(9)} ${f(r.hit, base.hit)}${f(r.hitParsed, base.hitParsed)}${f(r.acq, base.acq)}`,
    );
  }
  console.log('(µs figures are this machine in this run, for orientation only; the ratios are the result)');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
