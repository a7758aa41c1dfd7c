#!/usr/bin/env node
/**
 * Tenants on one shared HTTP server: what a careless or hostile token holder can do to the server and to
 * the other tenants. The bin is started as a user would start it (`node --max-old-space-size=384 <bin>
 * --transport http --host 127.0.0.1 --port <p>`, two bearer tokens) against a stand-in VirusTotal in this
 * process (bench/tenants-stand-in.mjs), and driven through the MCP SDK's Streamable HTTP client.
 *
 *   1. Flood: token A attempts 200 vt_triage jobs of 1,000 URLs of 900 characters each (a ~900 KB body,
 *      under the 1 MB cap), 4 calls at a time, for at most --flood-seconds, on VT_STATE=sqlite:<tmp> with
 *      VT_RATE_LIMIT=4/60 (jobs stay running). Accepted vs refused (the first refusal's text), the
 *      server's RSS and peak RSS (VmRSS, VmHWM) before and after, the state file's size (db, -wal, -shm),
 *      the server's CPU over 5 s of idleness after the flood, whether (and when) it died.
 *   2. Restart on that full store: SIGKILL, then a start on an empty store and one on the full store, each
 *      timed from spawn to /healthz and to the first successful initialize, RSS 10 s after initialize,
 *      and whether it stayed up 20 s after spawn.
 *   3. Token B while token A's job runs: a fresh server with VT_DAILY_QUOTA=50, VT_MCP_CLIENT_RATE=2,
 *      VT_RATE_LIMIT=4/6; A starts a job of 1,000 distinct hashes, B makes 5 vt_get_report lookups one
 *      every 6 s. B's answers, the upstream requests (all, A's, B's), A's job after 60 s (resource
 *      vt://triage/{job}, which does not wait). Run again with VT_MCP_CLIENT_RATE=30 (the default), since
 *      at 2 a minute B's third call is refused by the HTTP layer before any quota is looked at.
 *
 *   node bench/tenants.mjs --bin <dist/index.js> [--node <node binary>] [--out file.json]
 *                          [--phases 1,2,3] [--flood-seconds 180] [--jobs 200] [--concurrency 4]
 *                          [--url-chars 900,800] [--heap-mb 384] [--flood-heap-mb <MB>]
 *
 * --node runs the bin on another Node (default: the one running this script); an older checkout's bin
 * on its own Node works as well (nothing of the tree under test is imported). Prints a JSON summary and a
 * table; --out writes the JSON. Linux only (/proc). Everything listens on 127.0.0.1, every child is
 * killed and every temporary directory removed on the way out.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { benchHash, startStandIn } from './tenants-stand-in.mjs';

const { values: opts } = parseArgs({
  options: {
    bin: { type: 'string' },
    node: { type: 'string' },
    out: { type: 'string' },
    phases: { type: 'string', default: '1,2,3' },
    'flood-seconds': { type: 'string', default: '180' },
    jobs: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    'heap-mb': { type: 'string', default: '384' },
    'flood-heap-mb': { type: 'string' },
    'url-chars': { type: 'string', default: '900,800' },
  },
});
if (!opts.bin) {
  console.error('usage: node bench/tenants.mjs --bin <dist/index.js> [--node <node>] [--out file.json]');
  process.exit(2);
}
const BIN = resolve(opts.bin);
const NODE = opts.node ?? process.execPath;
const PHASES = new Set(opts.phases.split(',').map((s) => s.trim()));
const FLOOD_MS = Number(opts['flood-seconds']) * 1000;
const JOBS = Number(opts.jobs);
const CONCURRENCY = Number(opts.concurrency);
const HEAP_MB = Number(opts['heap-mb']);
/** The flood's server may be given a larger heap, so that its store holds every job a restart must face. */
const FLOOD_HEAP_MB = Number(opts['flood-heap-mb'] ?? HEAP_MB);
const URLS_PER_JOB = 1000;
const URL_LENGTHS = opts['url-chars'].split(',').map(Number);
const MB = 1024 * 1024;

const KEY = 'bench-key-not-a-real-virustotal-key';
const TOKEN_A = `tenant-a-${randomBytes(24).toString('hex')}`;
const TOKEN_B = `tenant-b-${randomBytes(24).toString('hex')}`;

// ---------------------------------------------------------------------------------------------------
// Children and temporary directories: whatever happens, nothing outlives the bench.

const children = new Set();
const tempDirs = new Set();
function cleanUp() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}
process.on('exit', cleanUp);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanUp();
    process.exit(130);
  });
}
function tempDir(tag) {
  const d = mkdtempSync(join(tmpdir(), `vtbrief-tenants-${tag}-`));
  tempDirs.add(d);
  return d;
}
function removeDir(d) {
  rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// /proc figures (Linux).

function memory(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? Number.NaN) * 1024;
    return { rss_mb: round(kb('VmRSS') / MB), hwm_mb: round(kb('VmHWM') / MB) };
  } catch {
    return undefined;
  }
}
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100) ticks
  } catch {
    return undefined;
  }
}
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const round = (n, d = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : n);

function storeSize(db) {
  const size = (f) => (existsSync(f) ? statSync(f).size : 0);
  const r = { db_mb: size(db) / MB, wal_mb: size(`${db}-wal`) / MB, shm_mb: size(`${db}-shm`) / MB };
  r.total_mb = r.db_mb + r.wal_mb + r.shm_mb;
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v, 2)]));
}

/** Samples the RSS of pid every `everyMs` until stopped: the peak seen, and the last sample (before a death). */
function sampleRss(pid, everyMs, t0) {
  const seen = { max_rss_mb: 0, samples: 0 };
  const timer = setInterval(() => {
    const m = memory(pid);
    if (!m) return;
    seen.samples++;
    seen.max_rss_mb = Math.max(seen.max_rss_mb, m.rss_mb);
    seen.last = { at_s: round((performance.now() - t0) / 1000), ...m };
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return seen;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The server under test.

/** Spawns the bin over HTTP; `exited` is set (ms since spawn, code, signal) when it exits. */
async function startServer(env, label, heapMb = HEAP_MB) {
  const port = await freePort();
  const args = [`--max-old-space-size=${heapMb}`, BIN, '--transport', 'http', '--host', '127.0.0.1'];
  const t0 = performance.now();
  const child = spawn(NODE, [...args, '--port', String(port)], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: env.HOME,
      XDG_CACHE_HOME: env.HOME,
      VIRUSTOTAL_API_KEY: KEY,
      VT_MCP_AUTH_TOKEN: `${TOKEN_A},${TOKEN_B}`,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  const s = { label, child, pid: child.pid, port, t0, exited: undefined, stderrHead: '', stderrTail: '' };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    if (s.stderrHead.length < 2000) s.stderrHead += d.slice(0, 2000 - s.stderrHead.length);
    s.stderrTail = (s.stderrTail + d).slice(-3000);
  });
  s.exit = new Promise((res) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      s.exited = { after_spawn_ms: Math.round(performance.now() - t0), code, signal };
      res(s.exited);
    });
  });
  s.alive = () => s.exited === undefined;
  s.kill = async (sig = 'SIGKILL') => {
    if (s.alive()) child.kill(sig);
    await Promise.race([s.exit, sleep(5000)]);
  };
  return s;
}

/** An MCP client of the server for one token; initialize is done when it resolves. */
async function connect(server, token, timeoutMs = 60_000) {
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${server.port}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: `vtbrief-tenants-${token.slice(0, 8)}`, version: '0.0.0' });
  await client.connect(transport, { timeout: timeoutMs });
  return client;
}

/** Polls /healthz, then initializes: ms from spawn to each (undefined when the server died or timed out). */
async function waitReady(server, timeoutMs = 60_000) {
  const deadline = server.t0 + timeoutMs;
  let healthzMs;
  while (server.alive() && performance.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${server.port}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) {
        healthzMs = Math.round(performance.now() - server.t0);
        break;
      }
    } catch {}
    await sleep(25);
  }
  if (healthzMs === undefined) return { healthzMs, error: server.alive() ? 'no /healthz in time' : 'died' };
  while (server.alive() && performance.now() < deadline) {
    try {
      const client = await connect(server, TOKEN_A, Math.max(1000, deadline - performance.now()));
      return { healthzMs, initMs: Math.round(performance.now() - server.t0), client };
    } catch (err) {
      if (!server.alive()) break;
      if (performance.now() >= deadline) return { healthzMs, error: `initialize: ${short(err)}` };
      await sleep(100);
    }
  }
  return { healthzMs, error: server.alive() ? 'initialize timed out' : 'died' };
}

const textOf = (r) => (r?.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');
const short = (err, n = 300) => String(err?.message ?? err).slice(0, n);
const close = async (client) => {
  try {
    await client?.close();
  } catch {}
};

function serverFacts(server) {
  return {
    alive: server.alive(),
    ...(server.exited ? { exited: server.exited, stderr_tail: server.stderrTail.slice(-1200) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Phase 1: the flood.

function jobUrls(job, chars) {
  return Array.from({ length: URLS_PER_JOB }, (_, i) => {
    const head = `https://c${chars}-j${job}-u${i}.tenants.example/p/`;
    return head + 'a'.repeat(chars - head.length);
  });
}

async function flood(api, dir, urlChars) {
  const db = join(dir, 'state.db');
  const env = {
    HOME: dir,
    VIRUSTOTAL_API_URL: api.url,
    VT_STATE: `sqlite:${db}`,
    VT_RATE_LIMIT: '4/60',
    VT_DAILY_QUOTA: '500',
    VT_MCP_CLIENT_RATE: '0', // the per-minute share would hide the job bounds: it is phase 3's subject
    VT_MAX_WAIT_SECONDS: '2', // a start answers within 2 s instead of waiting 50 s on a running job
  };
  const out = {
    url_chars: urlChars,
    env: { ...env, HOME: undefined, VIRUSTOTAL_API_URL: undefined },
    loadavg_before: loadavg(),
  };
  const server = await startServer(env, 'flood', FLOOD_HEAP_MB);
  let client;
  try {
    const ready = await waitReady(server);
    if (!ready.client) {
      out.error = `server not ready: ${ready.error}`;
      out.server = serverFacts(server);
      return { out, server, db, env };
    }
    client = ready.client;
    out.start = { healthz_ms: ready.healthzMs, initialize_ms: ready.initMs };
    await sleep(1000);
    out.before = { ...memory(server.pid), cpu_s: cpuSeconds(server.pid) };

    const tally = { attempted: 0, accepted: 0, refused: 0, failed: 0 };
    const refusals = new Map();
    const callMs = [];
    const abort = new AbortController();
    const t0 = performance.now();
    const stopAt = t0 + FLOOD_MS;
    setMaxListeners(JOBS + 10, abort.signal);
    const killer = setTimeout(() => abort.abort(), FLOOD_MS + 1000);
    // A server that dies leaves calls whose answer never comes: they end with it.
    server.exit.then(() => abort.abort());
    const sampler = sampleRss(server.pid, 1000, t0);
    let next = 0;
    let bodyBytes;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < JOBS && performance.now() < stopAt && server.alive()) {
          const job = next++;
          const indicators = jobUrls(job, urlChars);
          bodyBytes ??= Buffer.byteLength(
            JSON.stringify({
              jsonrpc: '2.0',
              id: 1,
              method: 'tools/call',
              params: { name: 'vt_triage', arguments: { indicators } },
            }),
          );
          tally.attempted++;
          const c0 = performance.now();
          try {
            const r = await client.callTool({ name: 'vt_triage', arguments: { indicators } }, undefined, {
              timeout: 90_000,
              signal: abort.signal,
            });
            callMs.push(performance.now() - c0);
            if (r.isError) {
              tally.refused++;
              const text = textOf(r);
              out.first_refusal ??= { job, text: text.slice(0, 1500) };
              const k = text.slice(0, 120);
              refusals.set(k, (refusals.get(k) ?? 0) + 1);
            } else {
              tally.accepted++;
              out.first_accepted ??= { job, text: textOf(r).slice(0, 400) };
            }
          } catch (err) {
            tally.failed++;
            out.first_failure ??= { job, after_flood_start_s: round((c0 - t0) / 1000), error: short(err) };
          }
        }
      }),
    );
    clearTimeout(killer);
    out.rss_during_flood = sampler.stop();
    out.flood = {
      ...tally,
      body_kb: round(bodyBytes / 1024),
      seconds: round((performance.now() - t0) / 1000),
      stopped_by: server.alive() ? (next >= JOBS ? 'all attempted' : 'time bound') : 'server died',
      call_ms_median: round(median(callMs), 0),
      call_ms_max: round(Math.max(0, ...callMs), 0),
      refusal_kinds: Object.fromEntries(refusals),
    };
    if (server.exited) {
      out.died_after_flood_start_s = round((server.t0 + server.exited.after_spawn_ms - t0) / 1000);
    }
    out.after = memory(server.pid);
    const cpu0 = cpuSeconds(server.pid);
    await sleep(5000);
    const cpu1 = cpuSeconds(server.pid);
    out.idle_cpu_5s = cpu0 === undefined || cpu1 === undefined ? undefined : round(cpu1 - cpu0, 2);
    out.after_idle = memory(server.pid);
    out.store = storeSize(db);
    out.upstream = api.counts();
    out.server = serverFacts(server);
    if (!server.alive() && out.died_after_flood_start_s === undefined) {
      out.died_after_flood_start_s = round((server.t0 + server.exited.after_spawn_ms - t0) / 1000);
    }
    return { out, server, db, env };
  } finally {
    await close(client);
  }
}

// ---------------------------------------------------------------------------------------------------
// Phase 2: a start on an empty store and a start on the full one.

async function timedStart(env, label, watchMs = 20_000) {
  const server = await startServer(env, label);
  const sampler = sampleRss(server.pid, 2000, server.t0);
  let client;
  try {
    const ready = await waitReady(server);
    client = ready.client;
    const r = { healthz_ms: ready.healthzMs, initialize_ms: ready.initMs, error: ready.error };
    if (ready.client) {
      await Promise.race([server.exit, sleep(10_000)]);
      r.mem_10s_after_initialize = memory(server.pid);
    }
    // Watched until 20 s after spawn (or 10 s after initialize, whichever is later), then to watchMs.
    const until = Math.max(server.t0 + 20_000, performance.now());
    await Promise.race([server.exit, sleep(until - performance.now())]);
    r.stayed_up_20s = server.alive();
    await Promise.race([server.exit, sleep(Math.max(0, server.t0 + watchMs - performance.now()))]);
    r.watched_s = round((performance.now() - server.t0) / 1000);
    r.cpu_s = cpuSeconds(server.pid);
    r.stayed_up_watched = server.alive();
    r.mem_end = memory(server.pid);
    r.rss = sampler.stop();
    r.server = serverFacts(server);
    return r;
  } finally {
    sampler.stop();
    await close(client);
    await server.kill('SIGKILL');
  }
}

async function restart(phase1) {
  const out = { loadavg_before: loadavg() };
  // The flood's server was SIGKILLed once measured (if it was still alive).
  out.killed = phase1.out.server?.alive ? 'SIGKILL' : 'it had died';
  await phase1.server.kill('SIGKILL');
  out.store = storeSize(phase1.db);
  const empty = tempDir('empty');
  try {
    out.empty = await timedStart(
      { ...phase1.env, HOME: empty, VT_STATE: `sqlite:${join(empty, 'state.db')}` },
      'empty',
    );
  } finally {
    removeDir(empty);
  }
  // The full store is watched a minute: a server that dies on it may take longer than 20 s to.
  out.full = await timedStart(phase1.env, 'full', 60_000);
  // A second start on an empty store after the full one, so that a load that comes and goes on the
  // machine (or a warmer file cache) does not fall on one side only: the ratio is to their mean.
  const empty2 = tempDir('empty2');
  try {
    out.empty_again = await timedStart(
      { ...phase1.env, HOME: empty2, VT_STATE: `sqlite:${join(empty2, 'state.db')}` },
      'empty again',
    );
  } finally {
    removeDir(empty2);
  }
  const mean = (a, b) => (a && b ? (a + b) / 2 : (a ?? b));
  const ratio = (a, b) => (a && b ? round(a / b, 2) : undefined);
  out.ratio_full_to_empty = {
    initialize: ratio(out.full.initialize_ms, mean(out.empty.initialize_ms, out.empty_again.initialize_ms)),
    rss_10s: ratio(
      out.full.mem_10s_after_initialize?.rss_mb,
      mean(out.empty.mem_10s_after_initialize?.rss_mb, out.empty_again.mem_10s_after_initialize?.rss_mb),
    ),
  };
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Phase 3: token B while token A's job runs.

async function tenants(api, clientRate) {
  const dir = tempDir('share');
  api.reset();
  const env = {
    HOME: dir,
    VIRUSTOTAL_API_URL: api.url,
    VT_STATE: `sqlite:${join(dir, 'state.db')}`,
    VT_DAILY_QUOTA: '50',
    VT_MCP_CLIENT_RATE: String(clientRate),
    VT_RATE_LIMIT: '4/6',
  };
  const out = { env: { ...env, HOME: undefined, VIRUSTOTAL_API_URL: undefined }, loadavg_before: loadavg() };
  const server = await startServer(env, 'share');
  let a;
  let b;
  try {
    const ready = await waitReady(server);
    if (!ready.client) {
      out.error = `server not ready: ${ready.error}`;
      return out;
    }
    a = ready.client;
    b = await connect(server, TOKEN_B);
    const hashes = Array.from({ length: 1000 }, (_, i) => benchHash('A', i));
    const t0 = performance.now();
    const at = () => round((performance.now() - t0) / 1000);
    const startCall = a
      .callTool({ name: 'vt_triage', arguments: { indicators: hashes } }, undefined, { timeout: 100_000 })
      .then(
        (r) => ({ at_s: at(), isError: !!r.isError, text: textOf(r), structured: r.structuredContent }),
        (err) => ({ at_s: at(), thrown: short(err) }),
      );
    // B begins once A's job has reached VirusTotal (or after 5 s).
    while (!api.counts().byTenant.A && performance.now() - t0 < 5000) await sleep(50);
    const bStart = at();
    // Five lookups one every 6 s from B's start; five more from 85 s after A's start, when A's job would
    // have spent the day's 50 at 4 per 6 s had nothing held it back.
    const bLookup = (i, atMs) => async () => {
      await sleep(Math.max(0, t0 + atMs - performance.now()));
      const sent = at();
      const c0 = performance.now();
      try {
        const r = await b.callTool(
          { name: 'vt_get_report', arguments: { indicator: benchHash('B', i) } },
          undefined,
          { timeout: 100_000 },
        );
        return {
          sent_s: sent,
          ms: Math.round(performance.now() - c0),
          isError: !!r.isError,
          text: textOf(r).slice(0, 160),
        };
      } catch (err) {
        return { sent_s: sent, ms: Math.round(performance.now() - c0), thrown: short(err, 160) };
      }
    };
    const bEarly = Array.from({ length: 5 }, (_, i) => bLookup(i, bStart * 1000 + i * 6000)());
    const bLate = Array.from({ length: 5 }, (_, i) => bLookup(5 + i, 85_000 + i * 6000)());
    const start = await Promise.race([
      startCall,
      sleep(100_000).then(() => ({ thrown: 'no answer in 100 s' })),
    ]);
    const s = start.structured ?? {};
    out.a_start = {
      at_s: start.at_s,
      isError: start.isError,
      thrown: start.thrown,
      text: start.text?.slice(0, 700),
      status: s.status,
      paused_for: s.paused_for,
      plan: s.plan,
      held_until: s.held_until,
      counts: s.counts,
    };
    out.b_started_at_s = bStart;
    // A looks at its job 61 s after it started it (the resource answers at once; a poll would wait).
    await sleep(Math.max(0, t0 + 61_000 - performance.now()));
    out.upstream_at_60s = api.counts();
    if (s.job) {
      try {
        const r = await a.readResource({ uri: `vt://triage/${s.job}` }, { timeout: 30_000 });
        const text = r.contents.map((c) => c.text ?? '').join('\n');
        out.a_job_at_60s = {
          status: /Triage job \w+ \(([^)]*)\)/.exec(text)?.[1],
          text: text.slice(0, 700),
        };
      } catch (err) {
        out.a_job_at_60s = { thrown: short(err) };
      }
    }
    out.b = await Promise.all(bEarly);
    out.b_late = await Promise.all(bLate);
    out.upstream_at_end = { at_s: at(), ...api.counts() };
    if (s.job) {
      try {
        const r = await a.readResource({ uri: `vt://triage/${s.job}` }, { timeout: 30_000 });
        const text = r.contents.map((c) => c.text ?? '').join('\n');
        out.a_job_at_end = { status: /Triage job \w+ \(([^)]*)\)/.exec(text)?.[1], text: text.slice(0, 700) };
      } catch (err) {
        out.a_job_at_end = { thrown: short(err) };
      }
    }
    out.server = serverFacts(server);
    return out;
  } finally {
    await close(a);
    await close(b);
    await server.kill('SIGKILL');
    removeDir(dir);
  }
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------------------------------------------

function table(r) {
  const rows = [];
  const row = (k, v) => rows.push([k, v === undefined ? 'n/a' : String(v)]);
  for (const p1 of r.phase1 ?? []) {
    const f = p1.flood ?? {};
    if (p1.error) row(`1 (${p1.url_chars}) error`, p1.error);
    row(
      `1 (${p1.url_chars}) flood: attempted / accepted / refused / failed`,
      `${f.attempted} / ${f.accepted} / ${f.refused} / ${f.failed}`,
    );
    row(`1 (${p1.url_chars}) flood: seconds, stopped by`, `${f.seconds} s, ${f.stopped_by}`);
    row(`1 (${p1.url_chars}) first refusal`, p1.first_refusal?.text.replace(/\s+/g, ' ').slice(0, 160));
    row(`1 (${p1.url_chars}) first failure`, p1.first_failure?.error.slice(0, 160));
    row(
      `1 (${p1.url_chars}) RSS before -> after (MB)`,
      `${p1.before?.rss_mb} -> ${p1.after?.rss_mb ?? 'dead'}`,
    );
    const d = p1.rss_during_flood;
    row(
      `1 (${p1.url_chars}) peak RSS: VmHWM / sampled (MB)`,
      `${p1.after_idle?.hwm_mb ?? p1.after?.hwm_mb ?? 'dead'} / ${d?.max_rss_mb}${d?.last && !p1.server?.alive ? ` (last sample ${d.last.rss_mb} at ${d.last.at_s} s)` : ''}`,
    );
    row(
      `1 (${p1.url_chars}) state file after (MB: db + wal)`,
      p1.store && `${p1.store.total_mb} (${p1.store.db_mb} + ${p1.store.wal_mb})`,
    );
    row(`1 (${p1.url_chars}) idle CPU over 5 s (s)`, p1.idle_cpu_5s);
    row(
      `1 (${p1.url_chars}) server survived`,
      p1.server?.alive ? 'yes' : `no, died ${p1.died_after_flood_start_s} s into the flood`,
    );
  }
  const p2 = r.phase2;
  if (p2?.error) row('2 error', p2.error);
  if (p2 && !p2.error) {
    row('2 store of the flood of', `${p2.store_of_flood}-character URLs, ${p2.store?.total_mb} MB`);
    for (const k of ['empty', 'full', 'empty_again']) {
      const s = p2[k];
      row(
        `2 start on ${k} store: healthz / initialize (ms)`,
        `${s.healthz_ms ?? '-'} / ${s.initialize_ms ?? '-'}${s.error ? ` (${s.error})` : ''}`,
      );
      row(`2 ${k}: RSS 10 s after initialize (MB)`, s.mem_10s_after_initialize?.rss_mb);
      row(`2 ${k}: peak RSS sampled (MB)`, s.rss?.max_rss_mb);
      row(
        `2 ${k}: stayed up 20 s`,
        s.stayed_up_20s
          ? 'yes'
          : `no, exited ${s.server?.exited?.after_spawn_ms} ms after spawn (${s.server?.exited?.signal ?? s.server?.exited?.code})`,
      );
      if (s.watched_s > 21) {
        row(
          `2 ${k}: stayed up ${Math.round(s.watched_s)} s`,
          s.stayed_up_watched ? 'yes' : `no, exited ${s.server?.exited?.after_spawn_ms} ms after spawn`,
        );
      }
    }
    row(
      '2 ratio full/empty: initialize, RSS',
      `${p2.ratio_full_to_empty.initialize ?? 'n/a'}, ${p2.ratio_full_to_empty.rss_10s ?? 'n/a'}`,
    );
  }
  for (const [name, p3] of [
    ['3', r.phase3],
    ['3 (rate 30)', r.phase3_client_rate_30],
  ]) {
    if (!p3) continue;
    if (p3.error) {
      row(`${name} error`, p3.error);
      continue;
    }
    for (const [i, x] of [...(p3.b ?? []), ...(p3.b_late ?? [])].entries()) {
      const said = x.thrown ? `THROWN ${x.thrown}` : `${x.isError ? 'ERROR' : 'ok'} ${x.text}`;
      row(`${name} B #${i + 1} at ${x.sent_s} s`, said.replace(/\s+/g, ' ').slice(0, 170));
    }
    const u = p3.upstream_at_60s ?? {};
    row(
      `${name} upstream at 60 s: all / A / B`,
      `${u.total} / ${u.byTenant?.A ?? 0} / ${u.byTenant?.B ?? 0}`,
    );
    const e = p3.upstream_at_end ?? {};
    row(
      `${name} upstream at end (${e.at_s} s): all / A / B`,
      `${e.total} / ${e.byTenant?.A ?? 0} / ${e.byTenant?.B ?? 0}`,
    );
    row(`${name} A's job at 60 s`, p3.a_job_at_60s?.status ?? p3.a_job_at_60s?.thrown);
    row(`${name} A's job at the end`, p3.a_job_at_end?.status ?? p3.a_job_at_end?.thrown);
    row(
      `${name} A's start answer`,
      p3.a_start?.text?.split('\n').slice(0, 2).join(' | ').slice(0, 200) ?? p3.a_start?.thrown,
    );
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

const nodeVersion = spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();
/** The commit of the tree the bin was built from, and whether its sources differ from it. */
function treeOf(bin) {
  const git = (...args) =>
    spawnSync('git', ['-C', dirname(bin), ...args], { encoding: 'utf8' }).stdout?.trim();
  const commit = git('rev-parse', 'HEAD');
  return commit ? { commit, src_changed: git('status', '--porcelain', '--', '../src') !== '' } : undefined;
}
const result = {
  bin: BIN,
  tree: treeOf(BIN),
  node: NODE,
  node_version: nodeVersion,
  bench_node: process.version,
  heap_mb: HEAP_MB,
  flood_heap_mb: FLOOD_HEAP_MB,
  started_at: new Date().toISOString(),
  loadavg: loadavg(),
};
const aHashes = new Set(Array.from({ length: 1000 }, (_, i) => benchHash('A', i)));
const bHashes = new Set(Array.from({ length: 10 }, (_, i) => benchHash('B', i)));
const api = await startStandIn({
  delayMs: 0,
  classify: (h) => (aHashes.has(h) ? 'A' : bHashes.has(h) ? 'B' : undefined),
});
try {
  if (PHASES.has('1') || PHASES.has('2')) {
    // One flood per URL length, each on a fresh server and store; each server is SIGKILLed once measured.
    const floods = [];
    for (const chars of URL_LENGTHS) {
      const dir = tempDir(`flood${chars}`);
      console.error(
        `[tenants] phase 1: flood of ${JOBS} jobs of ${chars}-character URLs (at most ${FLOOD_MS / 1000} s)`,
      );
      const f = await flood(api, dir, chars);
      floods.push(f);
      await f.server.kill('SIGKILL');
    }
    result.phase1 = floods.map((f) => f.out);
    if (PHASES.has('2')) {
      // The fullest store: the flood that had the most jobs accepted (the first on a tie).
      const full = floods.reduce((best, f) =>
        (f.out.flood?.accepted ?? 0) > (best.out.flood?.accepted ?? 0) ? f : best,
      );
      console.error(
        `[tenants] phase 2: restart on an empty store and on the store of the ${full.out.url_chars}-character flood`,
      );
      try {
        result.phase2 = { store_of_flood: full.out.url_chars, ...(await restart(full)) };
      } catch (err) {
        result.phase2 = { error: short(err) };
      }
    }
  }
  if (PHASES.has('3')) {
    console.error('[tenants] phase 3: token B while token A runs a job (VT_MCP_CLIENT_RATE=2)');
    result.phase3 = await tenants(api, 2);
    console.error('[tenants] phase 3 again with VT_MCP_CLIENT_RATE=30');
    result.phase3_client_rate_30 = await tenants(api, 30);
  }
} finally {
  await api.close();
  cleanUp();
}
result.finished_at = new Date().toISOString();
const json = JSON.stringify(result, null, 2);
if (opts.out) writeFileSync(opts.out, `${json}\n`);
console.log(json);
console.log(`\n${table(result)}`);
