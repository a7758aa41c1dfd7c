#!/usr/bin/env node
/**
 * What an upstream lookup (a miss) costs the key's state store, through the real bin over stdio: the SDK
 * client asks `node dist/index.js` for distinct file reports (`vt_get_report`, 8 calls in flight, no rate
 * limit or daily cap) from the stand-in of bench/memory-stand-in.cjs, which answers at once in a process
 * of its own. The same lookups on VT_STATE=memory, on SQLite (a temporary file) and on Redis (its database
 * flushed first; skipped without a URL), and as direct HTTP requests to the stand-in from this process:
 *
 *   - wall time of 200 lookups, medians of alternating runs, as ratios to memory and to direct requests;
 *   - the server's CPU per miss (utime + stime of the server process, /proc/<pid>/stat, Linux only);
 *   - the SQLite file (database + -wal) after 5,000 distinct lookups at the default 64 MB cache;
 *   - write transactions per miss on SQLite, counted in this process (the store's `transactions`) on a
 *     server wired as the bin wires it (bench/harness.mjs), since the bin does not report it.
 *
 *   node bench/miss-cost.mjs [--bin dist/index.js] [--node <node binary>] [--runs 9] [--lookups 200]
 *                            [--file-lookups 5000] [--redis redis://127.0.0.1:6379/14] [--cpu-prof DIR]
 *
 * --bin and --node measure another tree (an older checkout on its own Node); the transaction count needs
 * this tree's dist/ and is measured only without --bin. Redis comes from --redis, else VT_BENCH_REDIS_URL;
 * its database is flushed: name one that holds nothing else. --cpu-prof DIR starts each server with
 * node's --cpu-prof, its profile written to DIR/<backend>/ when it exits. Run `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { fmt, KEY, median } from './harness.mjs';
import { nthHash, startMemoryStandIn } from './memory.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const MB = 1024 * 1024;
const IN_FLIGHT = 8;

/** CPU seconds the process has used (user + system), from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Distinct lookups across the whole run: every call is a miss wherever it goes. */
let nextHash = 1_000_000;

/** `workers` callers at a time work through `n` jobs; resolves with the wall time (ms). */
async function timedPool(n, job) {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) {
        next++;
        await job(nextHash++);
      }
    }),
  );
  return performance.now() - t0;
}

/** The bin on one backend, connected over stdio. */
async function startBin({ node, nodeArgs = [], bin, api, state, home }) {
  const transport = new StdioClientTransport({
    command: node,
    args: [...nodeArgs, bin],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      XDG_CACHE_HOME: join(home, '.cache'),
      TMPDIR: process.env.TMPDIR ?? tmpdir(),
      VIRUSTOTAL_API_KEY: KEY,
      VIRUSTOTAL_API_URL: api.url,
      VT_RATE_LIMIT: 'off',
      VT_DAILY_QUOTA: 'off',
      VT_STATE: state,
    },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const client = new Client({ name: 'vtbrief-miss-bench', version: '0.0.0' });
  await client.connect(transport);
  const lookup = async (n) => {
    const r = await client.callTool({ name: 'vt_get_report', arguments: { indicator: nthHash(n) } });
    if (r.isError) throw new Error(`lookup ${n} on ${state}: ${JSON.stringify(r.content).slice(0, 300)}`);
  };
  return {
    pid: transport.pid,
    lookup,
    stderr: () => stderr,
    close: () => client.close(),
  };
}

function fileBytes(db) {
  const size = (p) => (existsSync(p) ? statSync(p).size : 0);
  return { db: size(db), wal: size(`${db}-wal`) };
}

async function flushRedis(url) {
  const { createClient } = await import('redis');
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  try {
    await c.flushDb();
  } finally {
    c.destroy();
  }
}

/**
 * Wall time and server CPU of `lookups` misses per backend (and direct), `runs` alternating rounds.
 * Returns medians (ms), CPU per miss (ms) and the figures of each run.
 */
export async function missCost({
  bin = join(root, 'dist/index.js'),
  node = process.execPath,
  runs = 9,
  lookups = 200,
  fileLookups = 5000,
  redis = process.env.VT_BENCH_REDIS_URL,
  cpuProf,
} = {}) {
  const profArgs = (name) =>
    cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(resolve(cpuProf), name)}`] : [];
  const binFile = resolve(bin);
  const dir = mkdtempSync(join(tmpdir(), 'vtbrief-miss-'));
  const api = await startMemoryStandIn();
  const servers = [];
  try {
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const backends = [
      ['memory', 'memory'],
      ['sqlite', `sqlite:${join(dir, 'state.db')}`],
    ];
    if (redis) {
      await flushRedis(redis);
      backends.push(['redis', redis]);
    }
    const bins = {};
    for (const [name, state] of backends) {
      const s = await startBin({ node, nodeArgs: profArgs(name), bin: binFile, api, state, home: dir });
      servers.push(s);
      bins[name] = s;
      // Warm-up: the code, the connection pool, the store's first pages.
      await timedPool(lookups, s.lookup);
    }
    const direct = async (n) => {
      const res = await fetch(`${api.url}/files/${nthHash(n)}`, { headers: { 'x-apikey': KEY } });
      await res.json();
    };
    await timedPool(lookups, direct);
    const names = ['direct', ...backends.map(([name]) => name)];
    const wall = Object.fromEntries(names.map((n) => [n, []]));
    const cpu = Object.fromEntries(names.map((n) => [n, 0]));
    for (let r = 0; r < runs; r++) {
      // A different order each round: no backend always runs right after the same one.
      const order = names.map((_, i) => names[(i + r) % names.length]);
      for (const name of order) {
        if (name === 'direct') {
          wall.direct.push(await timedPool(lookups, direct));
          continue;
        }
        const s = bins[name];
        const c0 = cpuSeconds(s.pid);
        wall[name].push(await timedPool(lookups, s.lookup));
        cpu[name] += cpuSeconds(s.pid) - c0;
      }
    }
    const sqliteFile = fileBytes(join(dir, 'state.db'));
    for (const s of servers.splice(0)) await s.close();

    // The file after `fileLookups` distinct lookups on a fresh file, at the default cache size.
    const file = join(dir, 'file-size.db');
    const s = await startBin({ node, bin: binFile, api, state: `sqlite:${file}`, home: dir });
    servers.push(s);
    const t0 = performance.now();
    await timedPool(fileLookups, s.lookup);
    const fileMs = performance.now() - t0;
    const running = fileBytes(file);
    servers.pop();
    await s.close();
    // The bin closes the store when stdin closes; SQLite checkpoints the -wal into the file then.
    await new Promise((r) => setTimeout(r, 500));
    const closed = fileBytes(file);
    if (redis) await flushRedis(redis);

    const medians = Object.fromEntries(names.map((n) => [n, median(wall[n])]));
    // Each round's own ratios, then their median: a round runs every backend once, at one moment of a
    // machine whose speed drifts.
    const paired = (n, base) => median(wall[n].map((t, i) => t / wall[base][i]));
    const toMemory = Object.fromEntries(names.map((n) => [n, paired(n, 'memory')]));
    const toDirect = Object.fromEntries(names.map((n) => [n, paired(n, 'direct')]));
    const cpuPerMiss = Object.fromEntries(
      names.filter((n) => n !== 'direct').map((n) => [n, (cpu[n] * 1000) / (runs * lookups)]),
    );
    return {
      node: version,
      bin: binFile,
      runs,
      lookups,
      medians,
      toMemory,
      toDirect,
      cpuPerMiss,
      wall,
      sqliteFile,
      fileLookups,
      fileMs,
      running,
      closed,
    };
  } finally {
    for (const s of servers) await s.close().catch(() => {});
    api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Write transactions per miss on SQLite, counted in this process: a server wired as the bin wires it
 * (harness.mjs: createRuntime, createServer) over this tree's dist/, its store a SqliteStore in a
 * ResilientStore as VT_STATE=sqlite opens it, the lookups as above; at 8 in flight and one at a time
 * (queued writes of calls in flight share a commit, so the count depends on the concurrency).
 */
export async function transactionsPerMiss({ lookups = 200 } = {}) {
  const { startClient } = await import('./harness.mjs');
  const { openSqliteStore } = await import('../dist/vt/state/sqlite.js');
  const { ResilientStore } = await import('../dist/vt/state/resilient.js');
  const { keyspace } = await import('../dist/vt/state/store.js');
  const dir = mkdtempSync(join(tmpdir(), 'vtbrief-tx-'));
  const api = await startMemoryStandIn();
  try {
    const cacheMaxBytes = 64 * MB;
    const sqlite = openSqliteStore({ path: join(dir, 'state.db'), keyspace: keyspace(KEY), cacheMaxBytes });
    if (typeof sqlite.transactions !== 'number') return undefined;
    const store = new ResilientStore(sqlite, { cacheMaxBytes });
    const s = await startClient({ store, api });
    try {
      const lookup = async (n) => {
        const r = await s.call('vt_get_report', { indicator: nthHash(n) });
        if (r.isError) throw new Error(`lookup ${n}: ${JSON.stringify(r.content).slice(0, 300)}`);
      };
      const count = async (inFlight) => {
        const tx0 = sqlite.transactions;
        let next = 0;
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next < lookups) {
              next++;
              await lookup(nextHash++);
            }
          }),
        );
        // The last queued writes commit on the next turn of the event loop.
        await new Promise((r) => setTimeout(r, 50));
        return (sqlite.transactions - tx0) / lookups;
      };
      await count(IN_FLIGHT); // warm-up
      return { lookups, concurrent: await count(IN_FLIGHT), sequential: await count(1) };
    } finally {
      await s.close();
    }
  } finally {
    api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function describeMissCost(r, tx, label = 'this tree') {
  const m = r.medians;
  const backends = Object.keys(r.cpuPerMiss);
  const kb = (b) => `${(b / MB).toFixed(1)} MB`;
  const row = (name) =>
    `| ${name} | ${fmt(m[name])} ms | ${r.toDirect[name].toFixed(2)}× | ${r.toMemory[name].toFixed(2)}× | ${r.cpuPerMiss[name].toFixed(2)} ms |`;
  const markdown = [
    `## What a miss costs the state store (${label}, node ${r.node})`,
    '',
    `${fmt(r.lookups)} distinct \`vt_get_report\` lookups through the bin over stdio, ${IN_FLIGHT} in flight, no rate`,
    'limit, against a stand-in that answers at once (bench/memory-stand-in.cjs, a process of its own); direct:',
    `the same number of HTTP requests from the benchmark to the stand-in. ${r.runs} rounds, each running every`,
    "backend once: times are medians, ratios the median of each round's own ratio. CPU is the server",
    "process's user + system time over all runs, per lookup.",
    ...(backends.includes('redis')
      ? []
      : ['', 'Redis was not measured: pass --redis or set VT_BENCH_REDIS_URL (its database is flushed).']),
    '',
    '| backend | median | ratio to direct | ratio to memory | server CPU per miss |',
    '|---|---:|---:|---:|---:|',
    `| direct | ${fmt(m.direct)} ms | 1.00× | | |`,
    ...backends.map(row),
    '',
    `SQLite file after ${fmt(r.fileLookups)} distinct lookups (a fresh file, default 64 MB cache): ` +
      `${kb(r.running.db + r.running.wal)} while the server runs (${kb(r.running.db)} + ${kb(r.running.wal)} -wal), ` +
      `${kb(r.closed.db + r.closed.wal)} once it has exited.`,
    ...(tx
      ? [
          '',
          `Write transactions per miss on SQLite (counted in-process, ${fmt(tx.lookups)} lookups): ` +
            `${tx.concurrent.toFixed(2)} at ${IN_FLIGHT} in flight, ${tx.sequential.toFixed(2)} one at a time.`,
        ]
      : []),
    '',
  ].join('\n');
  const figures = {
    missSqliteToMemory: r.toMemory.sqlite,
    missMemoryToDirect: r.toDirect.memory,
    missSqliteToDirect: r.toDirect.sqlite,
    ...(m.redis !== undefined
      ? { missRedisToMemory: r.toMemory.redis, missRedisToDirect: r.toDirect.redis }
      : {}),
    missCpuMemoryMs: r.cpuPerMiss.memory,
    missCpuSqliteMs: r.cpuPerMiss.sqlite,
    ...(r.cpuPerMiss.redis !== undefined ? { missCpuRedisMs: r.cpuPerMiss.redis } : {}),
    stateFileLookups: r.fileLookups,
    stateFileMb: (r.running.db + r.running.wal) / MB,
    stateFileClosedMb: (r.closed.db + r.closed.wal) / MB,
    ...(tx ? { txPerMiss: tx.concurrent, txPerMissSequential: tx.sequential } : {}),
  };
  return { markdown, figures };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? def : process.argv[i + 1];
  };
  const other = arg('--bin') !== undefined;
  const r = await missCost({
    bin: arg('--bin', join(root, 'dist/index.js')),
    node: arg('--node', process.execPath),
    runs: Number(arg('--runs', '9')),
    lookups: Number(arg('--lookups', '200')),
    fileLookups: Number(arg('--file-lookups', '5000')),
    redis: arg('--redis', process.env.VT_BENCH_REDIS_URL),
    cpuProf: arg('--cpu-prof'),
  });
  const tx = other ? undefined : await transactionsPerMiss({ lookups: Number(arg('--lookups', '200')) });
  process.stdout.write(describeMissCost(r, tx, other ? arg('--bin') : 'this tree').markdown);
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ ...r, tx })}\n`);
}
