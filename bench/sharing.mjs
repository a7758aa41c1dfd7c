/**
 * The cost of sharing state, as ratios to the memory backend measured in the same run:
 *   - a cache hit in the process that fetched the answer (its own first-level cache);
 *   - a cache hit filled by another process (the shared second level: SQLite or Redis);
 *   - an upstream lookup (a miss) at 50 ms of upstream latency, where the slot is counted in the store.
 * Two servers ("processes") share one store of each kind; the stand-in VT API delays every answer.
 * Redis is measured when VT_BENCH_REDIS_URL (or VT_TEST_REDIS_URL) names one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { RecordedApi } from '../dist/demo/recorded-api.js';
import { openStateStore } from '../dist/vt/state/open.js';
import { keyspace } from '../dist/vt/state/store.js';
import { KEY, median, startClient } from './harness.mjs';

const LATENCY_MS = 50;
const N = 40;

async function timeEach(fn, items) {
  const times = [];
  for (const it of items) {
    const t0 = performance.now();
    const r = await fn(it);
    times.push(performance.now() - t0);
    if (r.isError) throw new Error(`bench call failed: ${JSON.stringify(r.content).slice(0, 200)}`);
  }
  return median(times);
}

async function measure(spec, key) {
  const api = await new RecordedApi({
    apiKey: KEY,
    hook: async () => {
      await new Promise((r) => setTimeout(r, LATENCY_MS));
      return false;
    },
  }).start();
  const open = async () =>
    spec === 'memory'
      ? undefined
      : (await openStateStore(spec, { apiKey: key, env: {}, cacheMaxBytes: 64 * 1024 * 1024 })).store;
  const env = { VT_RATE_LIMIT: '100000/60s', VT_DAILY_QUOTA: '1000000', VT_CACHE_TTL_SECONDS: '3600' };
  const a = await startClient({ env, store: await open(), api });
  const b = await startClient({ env, store: await open(), api });
  try {
    const ids = [...new Set(api.objects('file').map((o) => o.id))].slice(0, N);
    const call = (c) => (id) => c.call('vt_get_report', { indicator: id });
    const miss = await timeEach(call(a), ids);
    const ownHit = await timeEach(call(a), ids);
    // b never asked: with a shared store its hits come from the second level; with memory, upstream.
    const otherHit = spec === 'memory' ? undefined : await timeEach(call(b), ids);
    return { miss, ownHit, otherHit };
  } finally {
    await a.close();
    await b.close();
    await api.close();
  }
}

export async function sharingCost() {
  const dir = mkdtempSync(join(tmpdir(), 'vtbrief-bench-'));
  const key = `${KEY}-${Date.now()}`;
  try {
    const rows = [['memory', await measure('memory', key)]];
    rows.push(['sqlite', await measure(`sqlite:${join(dir, 'state.db')}`, key)]);
    const redis = process.env.VT_BENCH_REDIS_URL || process.env.VT_TEST_REDIS_URL;
    if (redis) {
      rows.push(['redis', await measure(redis, `${key}-redis`)]);
      await dropKeys(redis, `vtbrief:${keyspace(`${key}-redis`)}:`);
    }
    const base = rows[0][1];
    const ratio = (v, b) => (v === undefined ? 'n/a' : `${(v / b).toFixed(2)}×`);
    const ms = (v) => (v === undefined ? 'n/a' : `${v.toFixed(2)} ms`);
    const markdown = [
      `## The cost of sharing state (${N} lookups, ${LATENCY_MS} ms upstream latency)`,
      '',
      'Medians per tool call through the MCP client, as ratios to the memory backend in the same run. A hit in',
      "another process is one that process never fetched: it comes from the store's shared cache.",
      ...(redis
        ? []
        : ['Redis was not measured: set VT_BENCH_REDIS_URL (or VT_TEST_REDIS_URL) to include it.']),
      '',
      '| backend | hit, same process | hit, another process | upstream lookup (miss) |',
      '| --- | --- | --- | --- |',
      ...rows.map(
        ([name, r]) =>
          `| ${name} | ${ms(r.ownHit)} (${ratio(r.ownHit, base.ownHit)}) | ${ms(r.otherHit)}${r.otherHit === undefined ? '' : ` (${ratio(r.otherHit, base.ownHit)})`} | ${ms(r.miss)} (${ratio(r.miss, base.miss)}) |`,
      ),
      '',
    ].join('\n');
    const figures = Object.fromEntries(
      rows.flatMap(([name, r]) => [
        [`${name}_hit_ratio`, r.ownHit / base.ownHit],
        [`${name}_miss_ratio`, r.miss / base.miss],
        ...(r.otherHit === undefined ? [] : [[`${name}_shared_hit_ratio`, r.otherHit / base.ownHit]]),
      ]),
    );
    return { markdown, figures };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Leaves the Redis it measured on as it found it: the run's keys go. */
async function dropKeys(url, prefix) {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  try {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await c.del(keys);
    }
  } finally {
    c.destroy();
  }
}
