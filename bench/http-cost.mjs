#!/usr/bin/env node
/**
 * What a tool call over Streamable HTTP costs the bin, as ratios to the least server the SDK makes:
 * `node dist/index.js --demo --transport http` (VT_MCP_CLIENT_RATE=0, VT_STATE=memory) against
 * bench/minimal-http-server.mjs (createMcpHandler + toNodeHandler on node:http, one tool answering 1 KB of
 * text), each in a process of its own on 127.0.0.1. Both get the very same requests from this process:
 * `clients` concurrent callers (default 50) each make `calls` (default 20) `vt_get_report` calls, one after
 * the other, on one demo hash that a warm-up call has put in the bin's cache (every measured call is a
 * cache hit).
 *
 * The requests are plain fetch POSTs of JSON-RPC (Node's fetch, keep-alive), built once, with no MCP
 * client library in between: what is timed is the server, not a client's bookkeeping. Per protocol era:
 *   - 2025-06-18: the stateless form, `tools/call` with no initialize, headers content-type
 *     application/json, accept application/json and text/event-stream, mcp-protocol-version 2025-06-18
 *     (the SDK answers it as a one-event SSE stream);
 *   - 2026-07-28: the same call with the revision's headers (mcp-protocol-version 2026-07-28, mcp-method,
 *     mcp-name) and its `_meta` envelope (protocol version, client info, no client capabilities); JSON.
 * A call counts as answered when its status is 200 and its result is a tool result that is not an error.
 *
 * Each run does one load per server and era; the runs alternate (the order turns each round, so no load
 * always follows the same one), after one untimed load of each as a warm-up (JIT, connection pool).
 * Reported, as medians over the runs: calls per second (calls / wall time of the load), p50 and p99 of
 * the per-call latency (over all calls of one load), and the server's CPU per call (utime + stime of its
 * process, /proc/<pid>/stat, Linux only, over all runs); the worst p99 and the slowest call of any run.
 * Apart, each server's first load (the first era's warm-up, on a process that has answered one call): its
 * tail is the cold process's (the JIT, lazy initialisation), and one sample.
 * Every load is bounded: its calls are aborted (and counted as failed) past `loadTimeoutMs`.
 *
 *   node bench/http-cost.mjs [--bin dist/index.js] [--node <node binary>] [--runs 5] [--clients 50]
 *                            [--calls 20] [--eras 2025-06-18,2026-07-28] [--cpu-prof DIR] [--json]
 *
 * --bin and --node measure another tree (an older checkout on its own Node); the baseline is then
 * started by that Node too. --cpu-prof DIR starts both servers with node's --cpu-prof, their profiles
 * written to DIR/vtbrief/ and DIR/minimal/ when they exit. Prints a report; writes nothing. Run
 * `npm run build` first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, median } from './harness.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const MINIMAL = join(root, 'bench/minimal-http-server.mjs');
/** A file the demo recordings hold (the README's example report). */
export const DEMO_HASH = 'e2a52f78fc1dc2eb561fd5d77892d642';
export const ERAS = ['2025-06-18', '2026-07-28'];
/** The issue's goal: at least this share of the minimal server's calls per second… */
export const GOAL_RATIO = 0.8;
/** …and no p99 past this. */
export const GOAL_P99_MS = 500;

/** CPU seconds the process has used (user + system), from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolvePort(p));
    });
    s.once('error', reject);
  });
}

/** The same request for both servers, in one era: URL aside, the headers and body it sends. */
export function requestFor(era, id = 1) {
  const params = { name: 'vt_get_report', arguments: { indicator: DEMO_HASH } };
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': era,
  };
  if (era >= '2026') {
    headers['mcp-method'] = 'tools/call';
    headers['mcp-name'] = params.name;
    params._meta = {
      'io.modelcontextprotocol/protocolVersion': era,
      'io.modelcontextprotocol/clientInfo': { name: 'vtbrief-http-cost', version: '0.0.0' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
  }
  return { headers, body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params }) };
}

/** The JSON-RPC message of an answer: a JSON body, or the first `data:` event of an SSE stream. */
function messageOf(contentType, text) {
  if (contentType?.startsWith('text/event-stream')) {
    const line = text.split('\n').find((l) => l.startsWith('data:'));
    return line ? JSON.parse(line.slice(5)) : undefined;
  }
  return JSON.parse(text);
}

/** One call; resolves with the answer's bytes, or throws saying what was wrong. */
async function call(url, req, signal) {
  const res = await fetch(url, { method: 'POST', headers: req.headers, body: req.body, signal });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  const msg = messageOf(res.headers.get('content-type'), text);
  const result = msg?.result;
  if (!result || result.isError || !Array.isArray(result.content) || result.content.length === 0)
    throw new Error(`not a tool result: ${text.slice(0, 200)}`);
  return text.length;
}

/** `clients` callers at once, `calls` each in turn; latencies (ms), failures, wall time. */
async function load(url, era, { clients, calls, loadTimeoutMs }) {
  const req = requestFor(era);
  const signal = AbortSignal.timeout(loadTimeoutMs);
  const lat = [];
  let failures = 0;
  let firstError;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < calls; i++) {
        if (signal.aborted) {
          failures += calls - i;
          return;
        }
        const s = performance.now();
        try {
          await call(url, req, signal);
          lat.push(performance.now() - s);
        } catch (err) {
          failures++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  const wall = performance.now() - t0;
  const sorted = lat.sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  return {
    ok: lat.length,
    failures,
    firstError,
    wall,
    perSecond: (lat.length / wall) * 1000,
    p50: pct(50),
    p99: pct(99),
    max: sorted.at(-1) ?? NaN,
  };
}

/** A server in its own process, ready when GET /healthz answers. */
async function startServer(name, node, args, env) {
  const port = await freePort();
  const child = spawn(node, [...args, '--port', String(port)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${stderr}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    if (i >= 200) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer /healthz within 10 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name,
    pid: child.pid,
    url: `${base}/mcp`,
    stderr: () => stderr,
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null) return r();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          r();
        });
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Both servers under the same load, per era, `runs` alternating rounds. Returns the medians, the CPU per
 * call, the figures of each load, and the answers' sizes.
 */
export async function httpCost({
  bin = join(root, 'dist/index.js'),
  node = process.execPath,
  runs = 5,
  clients = 50,
  calls = 20,
  eras = ERAS,
  loadTimeoutMs = 60_000,
  cpuProf,
} = {}) {
  const profArgs = (name) =>
    cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(resolve(cpuProf), name)}`] : [];
  const opts = { clients, calls, loadTimeoutMs };
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const env = { PATH: process.env.PATH ?? '', TMPDIR: process.env.TMPDIR ?? tmpdir() };
  const servers = [];
  try {
    servers.push(
      await startServer(
        'vtbrief',
        node,
        [...profArgs('vtbrief'), resolve(bin), '--demo', '--transport', 'http'],
        {
          ...env,
          HOME: process.env.HOME ?? tmpdir(),
          VT_MCP_CLIENT_RATE: '0',
          VT_STATE: 'memory',
        },
      ),
    );
    servers.push(await startServer('minimal', node, [...profArgs('minimal'), MINIMAL], env));
    // The warm-up call (the bin's cache, and each era's path once), then the answers' sizes.
    const answerBytes = {};
    for (const s of servers) {
      answerBytes[s.name] = {};
      for (const era of eras)
        answerBytes[s.name][era] = await call(s.url, requestFor(era), AbortSignal.timeout(30_000));
    }
    const blocks = servers.flatMap((s) => eras.map((era) => ({ s, era, key: `${s.name} ${era}` })));
    // One untimed load of each: the JIT, the connection pool, the first pages of the heap. A server's
    // first load (on a process that has answered one call) is kept apart: the cold tail.
    const cold = {};
    for (const b of blocks) {
      const w = await load(b.s.url, b.era, opts);
      if (w.failures > 0)
        throw new Error(`${b.key}: ${w.failures} calls failed in the warm-up: ${w.firstError}`);
      cold[b.s.name] ??= { era: b.era, perSecond: w.perSecond, p50: w.p50, p99: w.p99, max: w.max };
    }
    const loads = Object.fromEntries(blocks.map((b) => [b.key, []]));
    const cpu = Object.fromEntries(blocks.map((b) => [b.key, 0]));
    for (let r = 0; r < runs; r++) {
      const order = blocks.map((_, i) => blocks[(i + r) % blocks.length]);
      for (const b of order) {
        const c0 = cpuSeconds(b.s.pid);
        loads[b.key].push(await load(b.s.url, b.era, opts));
        cpu[b.key] += cpuSeconds(b.s.pid) - c0;
      }
    }
    const results = {};
    for (const b of blocks) {
      const ls = loads[b.key];
      const answered = ls.reduce((n, l) => n + l.ok, 0);
      results[b.key] = {
        server: b.s.name,
        era: b.era,
        perSecond: median(ls.map((l) => l.perSecond)),
        p50: median(ls.map((l) => l.p50)),
        p99: median(ls.map((l) => l.p99)),
        worstP99: Math.max(...ls.map((l) => l.p99)),
        max: Math.max(...ls.map((l) => l.max)),
        cpuPerCallMs: answered > 0 ? (cpu[b.key] * 1000) / answered : NaN,
        calls: ls.length * clients * calls,
        failures: ls.reduce((n, l) => n + l.failures, 0),
        firstError: ls.find((l) => l.firstError)?.firstError,
      };
    }
    return {
      node: version,
      bin: resolve(bin),
      runs,
      clients,
      calls,
      eras,
      answerBytes,
      results,
      cold,
      loads,
    };
  } finally {
    for (const s of servers) await s.stop();
  }
}

/** The report's section, and the figures the README may quote (one set per era). */
export function describeHttpCost(r, label = 'this tree') {
  const rows = [];
  const figures = { httpCostRuns: r.runs };
  const ms = (v) => `${v.toFixed(1)} ms`;
  for (const era of r.eras) {
    const o = r.results[`vtbrief ${era}`];
    const m = r.results[`minimal ${era}`];
    const tag = era.slice(0, 4); // 2025, 2026
    const ratio = o.perSecond / m.perSecond;
    figures[`httpCost${tag}Ratio`] = ratio;
    figures[`httpCost${tag}P50Ratio`] = o.p50 / m.p50;
    figures[`httpCost${tag}P99Ratio`] = o.p99 / m.p99;
    figures[`httpCost${tag}PerSecond`] = o.perSecond;
    figures[`httpCost${tag}P50`] = o.p50;
    figures[`httpCost${tag}P99`] = o.p99;
    figures[`httpCost${tag}WorstP99`] = o.worstP99;
    figures[`httpCost${tag}CpuMs`] = o.cpuPerCallMs;
    figures[`httpCost${tag}MinimalCpuMs`] = m.cpuPerCallMs;
    figures[`httpCost${tag}Failures`] = o.failures + m.failures;
    for (const [x, name] of [
      [o, 'vtbrief'],
      [m, 'minimal'],
    ]) {
      const base = x === m;
      rows.push(
        `| ${era} | ${name} | ${fmt(x.perSecond)}${base ? '' : ` (${ratio.toFixed(2)}×)`} | ` +
          `${ms(x.p50)}${base ? '' : ` (${(o.p50 / m.p50).toFixed(2)}×)`} | ` +
          `${ms(x.p99)}${base ? '' : ` (${(o.p99 / m.p99).toFixed(2)}×)`} | ${ms(x.worstP99)} | ${ms(x.max)} | ` +
          `${x.cpuPerCallMs.toFixed(2)} ms${base ? '' : ` (${(o.cpuPerCallMs / m.cpuPerCallMs).toFixed(2)}×)`} | ` +
          `${fmt(x.calls - x.failures)} of ${fmt(x.calls)} | ${fmt(r.answerBytes[name][era])} B |`,
      );
    }
  }
  const verdicts = r.eras.map((era) => {
    const o = r.results[`vtbrief ${era}`];
    const ratio = o.perSecond / r.results[`minimal ${era}`].perSecond;
    const okRate = ratio >= GOAL_RATIO;
    const okP99 = o.worstP99 <= GOAL_P99_MS;
    return (
      `${era}: ${ratio.toFixed(2)}× the minimal server's calls per second (goal ${GOAL_RATIO}×: ` +
      `${okRate ? 'met' : 'missed'}); worst p99 of any run ${ms(o.worstP99)} (goal ${GOAL_P99_MS} ms: ` +
      `${okP99 ? 'met' : 'missed'}).`
    );
  });
  const c = r.cold;
  figures.httpCostColdP99 = c.vtbrief.p99;
  figures.httpCostColdMinimalP99 = c.minimal.p99;
  const coldLine =
    `First load on a fresh process (one call answered before it; ${c.vtbrief.era}, one sample, not a ` +
    `median): vtbrief p50 ${ms(c.vtbrief.p50)}, p99 ${ms(c.vtbrief.p99)}, slowest ${ms(c.vtbrief.max)}; ` +
    `minimal p50 ${ms(c.minimal.p50)}, p99 ${ms(c.minimal.p99)}, slowest ${ms(c.minimal.max)} ` +
    `(p99 ${(c.vtbrief.p99 / c.minimal.p99).toFixed(2)}×).`;
  const failed = r.eras.flatMap((era) =>
    ['vtbrief', 'minimal']
      .map((n) => r.results[`${n} ${era}`])
      .filter((x) => x.failures > 0)
      .map((x) => `${x.server} ${era}: ${fmt(x.failures)} calls failed (first: ${x.firstError})`),
  );
  const markdown = [
    `## Streamable HTTP cost: ${r.clients} concurrent clients × ${r.calls} cached calls, against a minimal SDK server (${label}, node ${r.node})`,
    '',
    `\`vt_get_report\` on one demo hash (a cache hit after a warm-up call) through the bin (\`--demo --transport http\`,`,
    'VT_MCP_CLIENT_RATE=0, VT_STATE=memory) and through bench/minimal-http-server.mjs (createMcpHandler and',
    'toNodeHandler on node:http, one tool answering 1 KB of text), each in a process of its own on 127.0.0.1,',
    'driven by the same plain fetch POSTs of JSON-RPC (no MCP client library): the 2025 stateless form (no',
    'initialize; an SSE answer) and the 2026-07-28 form (its headers and `_meta` envelope; a JSON answer).',
    `Medians of ${r.runs} alternating runs after a warm-up of each; latency percentiles over the calls of one run;`,
    "CPU is the server process's user + system time over all runs, per answered call. Ratios are the bin's to",
    'the minimal server in the same era and run.',
    '',
    '| era | server | calls/s | p50 | p99 | worst p99 | slowest call | server CPU per call | answered | answer |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ...verdicts.map((v) => `- ${v}`),
    `- ${coldLine}`,
    ...failed.map((f) => `- ${f}`),
    '',
  ].join('\n');
  return { markdown, figures };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? def : process.argv[i + 1];
  };
  const r = await httpCost({
    bin: arg('--bin', join(root, 'dist/index.js')),
    node: arg('--node', process.execPath),
    runs: Number(arg('--runs', '5')),
    clients: Number(arg('--clients', '50')),
    calls: Number(arg('--calls', '20')),
    eras: arg('--eras', ERAS.join(',')).split(','),
    cpuProf: arg('--cpu-prof'),
  });
  process.stdout.write(describeHttpCost(r, arg('--bin') ? arg('--bin') : 'this tree').markdown);
  if (process.argv.includes('--json')) {
    const { loads, ...summary } = r;
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  }
}
