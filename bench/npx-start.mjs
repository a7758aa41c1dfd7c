#!/usr/bin/env node
/**
 * What a user's first `npx vtbrief` costs: the package packed from a tree (`npm pack --ignore-scripts`, so
 * dist/ must be built: the tree is left as it is), then `npx --yes --cache <empty directory> --package
 * <tarball> -- vtbrief --help` from an empty directory, timed; then the same again with that cache, as every
 * later start finds it. Whether a build step ran is read from npm's log (an install script run, gyp or
 * prebuild-install output) and from the installed tree (a compiled .node addon).
 *
 *   node bench/npx-start.mjs [--tree .] [--node <node binary>]
 *
 * --node puts that binary's directory first on PATH for npm and npx, so an older checkout can be measured
 * on its own Node (and that directory's npm, when it has one). The registry is the one npm is configured
 * with, over the network: the time is mostly downloads and varies with the connection. Not part of
 * `npm run bench` for that reason. Writes nothing outside a temporary directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** npm's log of a package's install script, and what node-gyp or prebuild-install print. */
const BUILD_STEP =
  /\bnpm (info|verb) run \S+ (pre|post)?install\b|\bgyp (info|WARN|ERR)\b|prebuild-install (info|warn|WARN|ERR)/;

function run(cmd, args, opts) {
  return new Promise((resolvePromise) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => resolvePromise({ code, ms: performance.now() - t0, out }));
  });
}

/** Files named *.node under dir (a native addon someone built or downloaded). */
function addons(dir) {
  const found = [];
  const walk = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.node')) found.push(p);
    }
  };
  walk(dir);
  return found;
}

export async function npxStart({ tree = root, node = process.execPath } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vtbrief-npx-'));
  try {
    const env = { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` };
    delete env.npm_config_cache;
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      cwd: resolve(tree),
      env,
      encoding: 'utf8',
    });
    if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
    const tarball = join(dir, JSON.parse(packed.stdout)[0].filename);
    const cache = join(dir, 'npm-cache');
    const cwd = join(dir, 'empty');
    mkdirSync(cache);
    mkdirSync(cwd);
    const npx = (extra = []) =>
      run(
        'npx',
        [
          '--yes',
          '--cache',
          cache,
          '--loglevel',
          'info',
          ...extra,
          '--package',
          tarball,
          '--',
          'vtbrief',
          '--help',
        ],
        { cwd, env },
      );
    const first = await npx();
    const again = await npx();
    const built = addons(join(cache, '_npx'));
    const steps = first.out
      .split('\n')
      .filter((l) => BUILD_STEP.test(l))
      .slice(0, 5);
    return {
      node: version,
      tree: resolve(tree),
      ok: first.code === 0 && /VIRUSTOTAL_API_KEY/.test(first.out),
      firstMs: first.ms,
      againMs: again.ms,
      buildStep: steps.length > 0 || built.length > 0,
      steps,
      addons: built.map((p) => p.slice(cache.length + 1)),
      tail: first.code === 0 ? undefined : first.out.slice(-2000),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? def : process.argv[i + 1];
  };
  const r = await npxStart({ tree: arg('--tree', root), node: arg('--node', process.execPath) });
  console.log(`npx from a packed tarball (${r.tree}, node ${r.node}), into an empty npm cache:`);
  console.log(
    `  first run (download, install, --help): ${(r.firstMs / 1000).toFixed(1)} s, ${r.ok ? 'ok' : 'FAILED'}`,
  );
  console.log(`  again, with that cache: ${(r.againMs / 1000).toFixed(1)} s`);
  console.log(`  build step: ${r.buildStep ? 'yes' : 'none'}`);
  for (const l of r.steps) console.log(`    ${l.trim().slice(0, 160)}`);
  for (const a of r.addons) console.log(`    addon: ${a}`);
  if (r.tail) console.log(r.tail);
}
