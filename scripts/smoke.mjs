#!/usr/bin/env node
/**
 * Proves the two install paths from artifacts built in this run, as a user's client would meet them:
 *   node scripts/smoke.mjs package   `npm pack`, install the tarball into an empty directory (no build
 *                                    step runs there), start its `vtbrief` bin with --demo over stdio,
 *                                    list the tools and call vt_get_report on a recorded hash;
 *   node scripts/smoke.mjs bundle    unpack vtbrief-<version>.mcpb (`npm run bundle` first) and start it
 *                                    as Claude Desktop does: the command, arguments and environment of
 *                                    its manifest's server.mcp_config, user_config values filled in. Then:
 *                                    the demo answers; the SQLite state (the default file) is shared by
 *                                    two processes on one key (one window, one cache); a triage job
 *                                    started in a process that is killed is finished by the next one on
 *                                    the same file; VT_STATE=redis://… is refused with a pointer to the
 *                                    npm package (the bundle leaves the Redis client out).
 * The bundle runs under the `node` first on PATH, as Claude Desktop's own `node` command would, or under
 * VTBRIEF_SMOKE_NODE=/path/to/node; .ci/run runs it under Node 24 and under the engines floor, 22.13.0.
 * Every wait is bounded; any failure exits 1 with one line saying what was expected.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describeZip, zipStats } from './zip-stats.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const DEMO_HASH = 'e2a52f78fc1dc2eb561fd5d77892d642';
/** Longest a whole run may take: a hung server must fail the run, not hold CI. */
const RUN_LIMIT_MS = 150_000;
const sh = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

/** Run on failure and at the end: servers killed, temporary directories removed. */
const cleanups = [];
/** Servers started by this run, whose stderr a failure shows. */
const servers = [];

function cleanUp() {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      c();
    } catch {}
  }
}

function fail(msg) {
  for (const s of servers) {
    const tail = s.stderr().trim().split('\n').slice(-12).join('\n  ');
    if (tail) console.error(`smoke: stderr of ${s.label}:\n  ${tail}`);
  }
  console.error(`smoke: FAILED: ${msg}`);
  cleanUp();
  process.exit(1);
}

const watchdog = setTimeout(() => fail(`the run took over ${RUN_LIMIT_MS / 1000} s`), RUN_LIMIT_MS);
watchdog.unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const textOf = (res) => res.content?.[0]?.text ?? '';
const firstLine = (s) => s.split('\n').find((l) => l.trim() !== '' && !l.startsWith('[DEMO')) ?? '';

/**
 * Starts a stdio MCP server and connects the SDK's client to it. `env` is the whole environment the
 * server gets (as a client passes it). Its stderr is kept for failure messages.
 */
async function connect(label, command, args, { env, cwd }) {
  const transport = new StdioClientTransport({ command, args, env, cwd, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const client = new Client({ name: 'vtbrief-smoke', version: pkg.version });
  const server = { label, client, transport, stderr: () => stderr };
  servers.push(server);
  cleanups.push(() => {
    if (transport.pid) process.kill(transport.pid, 'SIGKILL');
  });
  try {
    await client.connect(transport);
  } catch (err) {
    fail(`${label}: did not start as an MCP server: ${err instanceof Error ? err.message : err}`);
  }
  server.close = async () => {
    await client.close().catch(() => {});
    servers.splice(servers.indexOf(server), 1);
  };
  return server;
}

async function call(server, name, args) {
  try {
    return await server.client.callTool({ name, arguments: args }, undefined, { timeout: 30_000 });
  } catch (err) {
    return fail(`${server.label}: ${name} failed: ${err instanceof Error ? err.message : err}`);
  }
}

/** The nearest node_modules at or above `dir`, if any. */
function nodeModulesAbove(dir) {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return join(d, 'node_modules');
    if (dirname(d) === d) return undefined;
  }
}

/**
 * A new temporary directory with no node_modules above it: Node resolves a package that the installed
 * tree lacks from any ancestor's node_modules (a /tmp/node_modules would do), which would hide that it
 * is missing, as the Redis client is from the bundle on purpose.
 */
function isolatedTmpDir(prefix) {
  const tried = [];
  for (const base of [tmpdir(), '/var/tmp', '/dev/shm', homedir()]) {
    if (!base || !existsSync(base)) continue;
    const above = nodeModulesAbove(base);
    if (above) {
      tried.push(`${base} (under ${above})`);
      continue;
    }
    if (tried.length > 0)
      console.log(`smoke: working in ${base}: ${tried.join(', ')} has a node_modules above it`);
    return mkdtempSync(join(base, prefix));
  }
  return fail(`no temporary directory without a node_modules above it: ${tried.join(', ')}`);
}

/** Lists the tools and calls vt_get_report on a recorded hash: a server started with --demo. */
async function checkDemo(label, s) {
  const info = s.client.getServerVersion();
  const { tools } = await s.client.listTools();
  const res = await call(s, 'vt_get_report', { indicator: DEMO_HASH });
  await s.close();
  const text = textOf(res);
  if (info?.name !== pkg.name || info?.version !== pkg.version)
    fail(`${label}: server says ${info?.name} ${info?.version}`);
  if (tools.length < 6) fail(`${label}: listed ${tools.length} tools`);
  if (res.isError || !/Verdict: MALICIOUS/.test(text) || !text.startsWith('[DEMO DATA')) {
    fail(`${label}: unexpected answer: ${text.slice(0, 300)}`);
  }
  console.log(
    `${label}: ${info.name} ${info.version}, ${tools.length} tools, vt_get_report answered (${text.length} chars)`,
  );
}

async function smokePackage() {
  const work = isolatedTmpDir('vtbrief-pack-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const tgz = join(work, sh('npm', ['pack', '--silent', '--pack-destination', work], root).split('\n').pop());
  const listed = JSON.parse(sh('npm', ['pack', '--dry-run', '--json', '--silent'], root))[0].files.map(
    (f) => f.path,
  );
  const maps = listed.filter((p) => p.endsWith('.map'));
  if (maps.length > 0)
    fail(`package: ships source maps without their sources: ${maps.slice(0, 3).join(', ')}`);
  if (listed.some((p) => p.startsWith('src/') || p.startsWith('test/'))) fail('package: ships src/ or test/');
  const app = join(work, 'app');
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), '{"name":"smoke-app","version":"1.0.0","private":true}\n');
  // As `npx -y vtbrief` would: the registry's dependencies, no build of ours.
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tgz], app);
  const bin = join(app, 'node_modules', '.bin', 'vtbrief');
  if (!existsSync(bin)) fail('package: the vtbrief bin was not installed');
  if (
    !readFileSync(join(app, 'node_modules', pkg.name, 'dist', 'index.js'), 'utf8').startsWith(
      '#!/usr/bin/env node',
    )
  ) {
    fail('package: dist/index.js lacks its shebang');
  }
  console.log(`package: ${tgz.split('/').pop()}, ${listed.length} files`);
  await checkDemo(
    'package',
    await connect('package', bin, ['--demo'], { env: { PATH: process.env.PATH }, cwd: app }),
  );
}

/** "v22.13.0" satisfies ">=22.13.0" (the only form manifest.json's runtimes use). */
function satisfies(version, range) {
  const m = /^>=\s*v?(\d+)\.(\d+)\.(\d+)$/.exec(range ?? '');
  if (!m) fail(`bundle: manifest.json's compatibility.runtimes.node is "${range}", not ">=X.Y.Z"`);
  const have = version.replace(/^v/, '').split('.').map(Number);
  const want = m.slice(1).map(Number);
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i] > want[i];
  return true;
}

async function smokeBundle() {
  const file = join(root, `${pkg.name}-${pkg.version}.mcpb`);
  if (!existsSync(file)) fail(`bundle: ${file} is missing; run "npm run bundle" first`);
  const zip = zipStats(file);
  console.log(`bundle: ${file.split('/').pop()}: ${describeZip(zip)}`);
  // The bundle is one user's server: no native addon (any Node the manifest accepts runs it as it is),
  // and no Redis client (replicas on Redis run from the npm package).
  const native = zip.names.filter((n) => n.endsWith('.node') || n.endsWith('/binding.gyp'));
  if (native.length > 0) fail(`bundle: holds native addon files: ${native.slice(0, 3).join(', ')}`);
  const redis = zip.names.filter((n) => /^node_modules\/(redis|@redis)\//.test(n));
  if (redis.length > 0) fail(`bundle: holds the Redis client: ${redis.slice(0, 3).join(', ')}`);
  console.log('bundle: no native addon, no Redis client');

  const work = isolatedTmpDir('vtbrief-mcpb-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const dir = join(work, 'bundle');
  sh(
    process.execPath,
    [join(root, 'node_modules/@anthropic-ai/mcpb/dist/cli/cli.js'), 'unpack', file, dir],
    root,
  );
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const mcp = manifest.server.mcp_config;

  // The node that runs the bundle: Claude Desktop runs the manifest's command ("node"), found on PATH.
  const command = process.env.VTBRIEF_SMOKE_NODE || mcp.command;
  let version;
  try {
    version = sh(command, ['--version'], work);
  } catch {
    fail(`bundle: cannot run "${command}"`);
  }
  const range = manifest.compatibility?.runtimes?.node;
  if (!satisfies(version, range)) fail(`bundle: Node ${version} is older than the manifest's ${range}`);
  const which = process.env.VTBRIEF_SMOKE_NODE ? command : `"${command}" on PATH`;
  console.log(`bundle: running under Node ${version} (${which}), the manifest accepts ${range}`);

  // A user's home of its own: the default state file is created under it, and nothing else is read.
  const home = join(work, 'home');
  const cache = join(home, '.cache');
  mkdirSync(cache, { recursive: true });
  const defaultState =
    process.platform === 'darwin'
      ? join(home, 'Library', 'Caches', 'vtbrief', 'state.db')
      : process.platform === 'win32'
        ? join(home, 'AppData', 'Local', 'vtbrief', 'state.db')
        : join(cache, 'vtbrief', 'state.db');

  /** How Claude Desktop starts the server: mcp_config, ${__dirname} and ${user_config.*} filled in. */
  const start = (label, { userConfig = {}, env = {}, args = [] } = {}) => {
    const fill = (v) =>
      v
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder the bundle host substitutes.
        .replaceAll('${__dirname}', dir)
        .replace(/\$\{user_config\.(\w+)\}/g, (_, k) =>
          String(userConfig[k] ?? manifest.user_config[k]?.default ?? ''),
        );
    const base = Object.fromEntries(Object.entries(mcp.env ?? {}).map(([k, v]) => [k, fill(v)]));
    return connect(label, command, [...mcp.args.map(fill), ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: home,
        XDG_CACHE_HOME: cache,
        ...(process.platform === 'win32' ? { LOCALAPPDATA: join(home, 'AppData', 'Local') } : {}),
        ...base,
        ...env,
      },
      cwd: home,
    });
  };

  await checkDemo(
    'bundle --demo',
    await start('bundle --demo', { userConfig: { api_key: 'not-needed-in-demo-mode' }, args: ['--demo'] }),
  );

  // A stand-in for the VirusTotal API (this tree's, built by `npm run bundle`), fed with the recordings
  // the bundle carries.
  const { RecordedApi } = await import(pathToFileURL(join(root, 'dist', 'demo', 'recorded-api.js')).href);
  const KEY = 'smoke-key-0123456789abcdef0123456789abcdef0123456789abcdef01234567';
  const api = await new RecordedApi({ apiKey: KEY, fixturesDir: join(dir, 'fixtures', 'vt') }).start();
  cleanups.push(() => void api.close());
  const files = api
    .objects('file')
    .map((o) => o.id)
    .sort();
  if (files.length < 30) fail(`bundle: the recordings hold ${files.length} files; the checks need 30`);
  const upstream = () => api.requests.length;

  await checkSharedWindow(start, api, KEY, files.slice(0, 5), upstream, defaultState);
  await checkJobHandover(start, api, KEY, files.slice(10, 26), upstream, join(work, 'jobs', 'state.db'));
  await checkRedisRefused(command, dir, mcp, home, KEY);
  await api.close();
}

/**
 * Two processes on one key and the default state file (as two Claude Desktop windows, or Desktop and
 * Claude Code, would be): with the manifest's default window (4/60s), A's three lookups and B's one fill
 * it, so A's fifth is refused at once (VT_MAX_WAIT_SECONDS=1) without reaching VirusTotal, and B finds
 * A's answers in the shared cache.
 */
async function checkSharedWindow(start, api, key, [h1, h2, h3, h4, h5], upstream, stateFile) {
  const env = { VIRUSTOTAL_API_URL: api.url, VT_MAX_WAIT_SECONDS: '1' };
  const userConfig = { api_key: key };
  const a = await start('bundle A', { userConfig, env });
  const b = await start('bundle B', { userConfig, env });
  const q = await call(b, 'vt_quota', {});
  const st = q.structuredContent?.state;
  if (q.isError || st?.backend !== 'sqlite' || st?.shared !== true || !/sqlite/i.test(textOf(q)))
    fail(
      `vt_quota does not name SQLite as the shared backend: ${JSON.stringify(st)} ${textOf(q).slice(0, 300)}`,
    );
  if (st.location !== stateFile || !existsSync(stateFile))
    fail(`the state is at ${st.location}, not the default file ${stateFile}`);
  console.log(`bundle: vt_quota names SQLite, at the default file $XDG_CACHE_HOME/vtbrief/state.db`);

  for (const h of [h1, h2, h3]) {
    const r = await call(a, 'vt_get_report', { indicator: h });
    if (r.isError) fail(`A: vt_get_report ${h} failed: ${textOf(r).slice(0, 300)}`);
  }
  if (upstream() !== 3) fail(`A's three lookups made ${upstream()} upstream requests, not 3`);
  const qb = await call(b, 'vt_quota', {});
  const sb = qb.structuredContent?.state;
  const ownB = qb.structuredContent?.server?.upstream?.requests;
  if (sb?.window_used !== 3 || sb?.day_used !== 3 || ownB !== 0)
    fail(
      `B's vt_quota does not count A's 3 lookups: window ${sb?.window_used}, day ${sb?.day_used}, B's own ${ownB}`,
    );
  const rb = await call(b, 'vt_get_report', { indicator: h4 });
  if (rb.isError) fail(`B: vt_get_report ${h4} failed: ${textOf(rb).slice(0, 300)}`);
  const ra = await call(a, 'vt_get_report', { indicator: h5 });
  if (!ra.isError || upstream() !== 4)
    fail(
      `A's fifth lookup in a 4/60s window that A and B filled was not refused (upstream requests: ${upstream()}): ` +
        textOf(ra).slice(0, 200),
    );
  const cached = await call(b, 'vt_get_report', { indicator: h1 });
  if (cached.isError || upstream() !== 4)
    fail(`B did not answer A's lookup from the shared cache: ${textOf(cached).slice(0, 200)}`);
  await a.close();
  await b.close();
  console.log(
    `bundle: two processes, one window: B's vt_quota counts A's 3 lookups (window 3/4, day 3); ` +
      `after B's one, A's fifth is refused ("${firstLine(textOf(ra)).slice(0, 60)}…"); B reads A's answer from the shared cache`,
  );
}

/**
 * A triage job larger than one window (16 lookups at 4 per 2 s) started in A; A is killed (SIGKILL,
 * leases kept) while it runs; B, started on the same state file, takes the job over when A's lease
 * lapses and finishes it: every row there, none failed.
 */
async function checkJobHandover(start, api, key, hashes, upstream, stateFile) {
  mkdirSync(join(stateFile, '..'), { recursive: true });
  const opts = {
    userConfig: { api_key: key, rate_limit: '4/2s' },
    env: { VIRUSTOTAL_API_URL: api.url, VT_STATE: `sqlite:${stateFile}`, VT_MAX_WAIT_SECONDS: '1' },
  };
  const a = await start('bundle A (triage)', opts);
  const started = await call(a, 'vt_triage', { indicators: hashes });
  const job = started.structuredContent?.job;
  if (started.isError || typeof job !== 'string')
    fail(`vt_triage did not start a job: ${textOf(started).slice(0, 300)}`);
  // Killed once it has results of its own and work left.
  let snap = started.structuredContent;
  const until = Date.now() + 20_000;
  while (snap.total - snap.counts.pending < 4 && snap.status === 'running' && Date.now() < until) {
    await sleep(200);
    snap = (await call(a, 'vt_triage', { job })).structuredContent;
  }
  if (snap.status !== 'running' || snap.counts.pending === 0)
    fail(`the job finished in A before A could be killed (${snap.status}, ${snap.counts.pending} pending)`);
  if (snap.total - snap.counts.pending < 4)
    fail(`A looked up ${snap.total - snap.counts.pending} of 16 in 20 s`);
  process.kill(a.transport.pid, 'SIGKILL');
  const killedAt = Date.now();
  const doneInA = snap.total - snap.counts.pending;
  await a.close();
  const beforeB = upstream();

  const b = await start('bundle B (triage)', opts);
  const deadline = killedAt + 60_000;
  let res;
  for (;;) {
    res = await call(b, 'vt_triage', { job });
    if (res.isError) fail(`B: vt_triage {job} failed: ${textOf(res).slice(0, 300)}`);
    if (res.structuredContent.status !== 'running' || Date.now() > deadline) break;
    await sleep(250);
  }
  const s = res.structuredContent;
  const rows = [...s.results];
  for (let cursor = s.next_cursor, pages = 0; cursor && pages < 20; pages++) {
    const next = await call(b, 'vt_triage', { job, cursor });
    rows.push(...next.structuredContent.results);
    cursor = next.structuredContent.next_cursor;
  }
  await b.close();
  if (s.status !== 'done')
    fail(`B did not finish A's job within 60 s of the kill: ${s.status}, ${s.counts.pending} pending`);
  const inputs = new Set(rows.map((r) => r.input));
  if (s.total !== hashes.length || rows.length !== hashes.length || !hashes.every((h) => inputs.has(h)))
    fail(`the finished job has ${rows.length} rows for ${hashes.length} indicators`);
  if (s.counts.failed > 0 || rows.some((r) => r.verdict === 'error'))
    fail(`the finished job has ${s.counts.failed} failed lookups`);
  if (upstream() === beforeB) fail('B made no lookup: the job was not left to it');
  console.log(
    `bundle: triage job ${job}: ${doneInA}/16 done when A was killed (SIGKILL), B finished it ` +
      `${((Date.now() - killedAt) / 1000).toFixed(1)} s later with all 16 rows, none failed`,
  );
}

/**
 * VT_STATE=redis://… in the bundle: its Redis client is left out, so the server must say to run the npm
 * package for replicas, in words, not a stack trace (and not quietly count on its own).
 */
async function checkRedisRefused(command, dir, mcp, home, key) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder the bundle host substitutes.
  const args = mcp.args.map((a) => a.replaceAll('${__dirname}', dir));
  const child = spawn(command, args, {
    cwd: home,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      VIRUSTOTAL_API_KEY: key,
      VT_STATE: 'redis://127.0.0.1:6379/15',
    },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const said = /npm package|npx -y vtbrief/;
  const exit = await new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), 15_000);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
  if (exit === undefined) child.kill('SIGKILL');
  const line = stderr.split('\n').find((l) => said.test(l)) ?? '';
  if (!said.test(stderr))
    fail(`VT_STATE=redis://… in the bundle did not point to the npm package; stderr: ${stderr.slice(-600)}`);
  if (/^\s+at .+:\d+:\d+\)?$/m.test(stderr))
    fail(`VT_STATE=redis://… in the bundle printed a stack trace:\n${stderr}`);
  if (exit === undefined || exit === 0)
    fail(`VT_STATE=redis://… in the bundle did not refuse to start (exit ${exit ?? 'none in 15 s'})`);
  console.log(`bundle: VT_STATE=redis://… refused (exit ${exit}): ${line.trim().slice(0, 160)}`);
}

const what = process.argv[2];
const t0 = Date.now();
if (what === 'package') await smokePackage();
else if (what === 'bundle') await smokeBundle();
else fail('usage: node scripts/smoke.mjs package|bundle');
cleanUp();
console.log(`smoke ${what}: passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
