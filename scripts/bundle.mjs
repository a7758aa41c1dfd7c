#!/usr/bin/env node
/**
 * Builds the Claude Desktop bundle, vtbrief-<version>.mcpb: the built server, its production
 * dependencies but the Redis client, the demo recordings and manifest.json, validated and packed with
 * @anthropic-ai/mcpb. Run through `npm run bundle` (which builds dist/ first). Prints the bundle's path,
 * its size and how many files it holds.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeZip, zipStats } from './zip-stats.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const stage = `${root}.scratch/bundle`;
const out = `${root}${pkg.name}-${pkg.version}.mcpb`;
const mcpb = `${root}node_modules/@anthropic-ai/mcpb/dist/cli/cli.js`;
const run = (cmd, args, cwd = root, stdout = 'inherit') =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', stdout, 'inherit'] });

// manifest.json is generated from the code; a stale one would describe another server.
run(process.execPath, ['scripts/generate.mjs', '--check']);

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
for (const f of [
  'dist/index.js',
  'dist/chunks',
  'fixtures/vt',
  'manifest.json',
  'package.json',
  'package-lock.json',
  'README.md',
  'LICENSE',
]) {
  cpSync(`${root}${f}`, `${stage}/${f}`, { recursive: true });
}
// Production dependencies only, exactly as locked; no install scripts (nothing needs building).
const npmQuiet = ['--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
run('npm', ['ci', ...npmQuiet], stage);

// The bundle is what one Claude Desktop user runs on one machine: its processes share the SQLite file.
// Redis (VT_STATE=redis://…) is for replicas, which run from the npm package, so its client stays out:
// the server loads the Redis store (dist/chunks/redis.js, from src/vt/state/redis.ts) only when VT_STATE
// names Redis, and then says to use the npm
// package. `npm uninstall` drops `redis` and the @redis/* packages only it needs from the staged tree,
// package.json and lock alike, and leaves every other package as locked.
run('npm', ['uninstall', 'redis', ...npmQuiet], stage);
rmSync(`${stage}/node_modules/@redis`, { recursive: true, force: true }); // the empty scope npm leaves
for (const gone of ['node_modules/redis', 'node_modules/@redis']) {
  if (existsSync(`${stage}/${gone}`)) fail(`${gone} is still in the bundle`);
}
// Nothing else may need the Redis client: npm ls fails on a package whose dependency is missing, and
// the server may load the Redis store only lazily (a static import would fail at start, whatever VT_STATE).
run('npm', ['ls', '--omit=dev', '--all', '--loglevel=error'], stage, 'ignore');
for (const file of jsFiles(`${stage}/dist`)) {
  const rel = relative(stage, file).split('\\').join('/');
  const code = readFileSync(file, 'utf8');
  if (
    rel !== 'dist/chunks/redis.js' &&
    /(from\s*|import\(\s*|require\(\s*)['"](redis|@redis\/[^'"]*)['"]/.test(code)
  ) {
    fail(`${rel} imports the Redis client, which the bundle leaves out`);
  }
  if (/(from\s*|import\s*)['"][^'"]*\/redis\.js['"]/.test(code)) {
    fail(`${rel} imports the Redis store statically; only a lazy import(…) works without the Redis client`);
  }
}
run(process.execPath, [mcpb, 'validate', `${stage}/manifest.json`]);
rmSync(out, { force: true });
run(process.execPath, [mcpb, 'pack', stage, out]);
console.log(`bundle: ${out}: ${describeZip(zipStats(out))}`);

function fail(msg) {
  console.error(`bundle: ${msg}`);
  process.exit(1);
}

function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );
}
