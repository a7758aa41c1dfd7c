#!/usr/bin/env node
/**
 * Cold start: the time from spawning `node dist/index.js` to its answer to `initialize` over stdio, as a
 * ratio to bench/minimal-server.mjs (McpServer with one tool, served by serveStdio: the same SDK v2 as the
 * bin) started the same way in the same run. The bin has a key, points at an API address where nothing listens (initialize must
 * not need the network), and runs on VT_STATE=memory and on the default SQLite file (in a temporary HOME
 * and XDG_CACHE_HOME, created by its first run). Each is also started with NODE_DISABLE_COMPILE_CACHE=1,
 * to show what Node's module compile cache (src/index.ts turns it on) buys.
 *
 * The runs alternate (one of each variant per round) so that a load that comes and goes on the machine
 * falls on all of them alike. TMPDIR is a fresh directory, so the compile cache (kept by default under
 * os.tmpdir()) starts empty: the bin's very first start is reported on its own.
 *
 *   node bench/cold-start.mjs [--bin dist/index.js] [--node <node binary>] [--runs 21]
 *
 * --bin and --node measure another tree (an older checkout on its own Node): the baseline is then
 * started by that Node too. Prints a report; writes nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './harness.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const MINIMAL = join(root, 'bench/minimal-server.mjs');
/** Where nothing listens: an API call would fail, and initialize must not make one. */
const NOWHERE = 'http://127.0.0.1:9/api/v3';

const INITIALIZE = `${JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'vtbrief-cold-start', version: '0.0.0' },
  },
})}\n`;

/**
 * Spawns `node args` with `env`, writes initialize at once and resolves with the milliseconds until the
 * answer's line arrives; then closes stdin (the bin's ordinary way to stop) and waits for the exit, so
 * that whatever the process writes on its way out (the compile cache) is written before the next run.
 */
function timeToInitialize(node, args, env) {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(node, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let answeredAt;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      if (answeredAt !== undefined) return;
      out += d;
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.id === 1 && msg.result) {
          answeredAt = performance.now();
          child.stdin.end();
          return;
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      err = (err + d).slice(-2000);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (answeredAt === undefined)
        reject(new Error(`${args.join(' ')} exited (${code ?? signal}) before answering: ${err}`));
      else resolvePromise(answeredAt - t0);
    });
    child.stdin.on('error', () => {});
    child.stdin.write(INITIALIZE);
  });
}

/** True when that Node has module.enableCompileCache (22.1 and later). */
function hasCompileCache(node) {
  const r = spawnSync(node, ['-p', "typeof require('node:module').enableCompileCache"], {
    encoding: 'utf8',
  });
  return r.stdout.trim() === 'function';
}

export async function coldStart({
  bin = join(root, 'dist/index.js'),
  node = process.execPath,
  runs = 21,
} = {}) {
  const binFile = resolve(bin);
  const dir = mkdtempSync(join(tmpdir(), 'vtbrief-cold-'));
  try {
    const tmp = join(dir, 'tmp');
    const home = join(dir, 'home');
    mkdirSync(tmp);
    mkdirSync(home);
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const cc = hasCompileCache(node);
    // Only what the runs need, the same for every variant but the state and the cache switch.
    const base = { PATH: process.env.PATH ?? '', TMPDIR: tmp, HOME: home };
    const keyed = {
      ...base,
      VIRUSTOTAL_API_KEY: 'bench-key-not-a-real-virustotal-key',
      VIRUSTOTAL_API_URL: NOWHERE,
      XDG_CACHE_HOME: join(home, '.cache'),
    };
    const off = { NODE_DISABLE_COMPILE_CACHE: '1' };
    const variants = [
      ['minimal', [MINIMAL], base],
      ['memory', [binFile], { ...keyed, VT_STATE: 'memory' }],
      ['sqlite', [binFile], keyed],
      ...(cc
        ? [
            ['memory, no compile cache', [binFile], { ...keyed, VT_STATE: 'memory', ...off }],
            ['sqlite, no compile cache', [binFile], { ...keyed, ...off }],
          ]
        : []),
    ];
    // The first round, in this order: the bin's first start finds the compile cache empty (and the
    // SQLite variant creates its file).
    const first = {};
    for (const [name, args, env] of variants) first[name] = await timeToInitialize(node, args, env);
    const times = Object.fromEntries(variants.map(([name]) => [name, []]));
    for (let i = 0; i < runs; i++) {
      for (const [name, args, env] of variants) times[name].push(await timeToInitialize(node, args, env));
    }
    const medians = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    // Each round's own ratio to the minimal server started in that round, then their median: the
    // machine's speed drifts (other work, the host), and a round's variants share its moment.
    const ratios = Object.fromEntries(
      Object.entries(times).map(([k, v]) => [k, median(v.map((t, i) => t / times.minimal[i]))]),
    );
    return { node: version, compileCache: cc, runs, first, medians, ratios };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report's section, and the figures the README may quote. */
export function describeColdStart(r, label = 'this tree') {
  const m = r.medians;
  const x = r.ratios;
  const row = (name) =>
    `| ${name} | ${m[name].toFixed(0)} ms | ${x[name].toFixed(2)}× | ${r.first[name].toFixed(0)} ms |`;
  const markdown = [
    `## Cold start: spawn to the answer to \`initialize\` over stdio (${label}, node ${r.node})`,
    '',
    `${r.runs} rounds, each starting every server once, as ratios to a minimal SDK server (bench/minimal-server.mjs:`,
    'McpServer with one tool, served by serveStdio of the same SDK v2 as the bin) started the same way: the',
    "ratio is the median of each round's own ratio, the time the median of each server's times. The bin has",
    'a key and an API address where nothing listens. The first run of each is apart: the compile cache starts',
    "empty (the bin's first start writes it) and the SQLite file does not exist yet.",
    ...(r.compileCache ? [] : ['', 'This Node has no module compile cache (module.enableCompileCache).']),
    '',
    '| server | median | ratio to minimal | first run |',
    '|---|---:|---:|---:|',
    ...Object.keys(m).map(row),
    '',
  ].join('\n');
  const figures = {
    coldStartRuns: r.runs,
    coldStartMemoryRatio: x.memory,
    coldStartSqliteRatio: x.sqlite,
    ...(r.compileCache
      ? {
          coldStartMemoryNoCacheRatio: x['memory, no compile cache'],
          coldStartSqliteNoCacheRatio: x['sqlite, no compile cache'],
        }
      : {}),
  };
  return { markdown, figures };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? def : process.argv[i + 1];
  };
  const r = await coldStart({
    bin: arg('--bin', join(root, 'dist/index.js')),
    node: arg('--node', process.execPath),
    runs: Number(arg('--runs', '21')),
  });
  process.stdout.write(describeColdStart(r, arg('--bin') ? arg('--bin') : 'this tree').markdown);
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(r)}\n`);
}
