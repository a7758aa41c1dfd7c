/**
 * What a user installs (the npm package's production dependencies, and the same tree in the Claude
 * Desktop bundle) holds no native addon and runs no install script: `npx -y vtbrief` must work on any
 * Node that package.json's engines accept, without a compiler, a prebuilt binary for the platform, or
 * a script that npm may be told not to run. The SQLite store is node:sqlite for that reason.
 *
 * The walk starts from what `npm ls --omit=dev --all --parseable` lists and reads every file below each
 * production package, nested node_modules included. A second case runs the same walk on a synthetic
 * tree with a native package in it, so that the check is seen to fail when it should.
 */
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

/** The production package directories of the project at `root`, as npm resolves them (root excluded). */
function productionDirs(root: string): string[] {
  // A parent `npm run` exports npm_config_* settings (omit, include, …) that would change what is listed.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const r = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 20_000,
  });
  // npm ls exits 1 for extraneous packages too (they are listed, and walked); a missing or invalid
  // dependency means the tree on disk is not the one users get, so nothing could be concluded.
  const broken = (r.stderr ?? '').split('\n').filter((l) => /\b(missing|invalid):/.test(l));
  if (r.error || broken.length > 0 || !r.stdout) {
    throw new Error(
      `npm ls could not list the production tree (run npm ci): ${r.error?.message ?? broken.join('; ')}`,
    );
  }
  const self = realpathSync(root);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && realpathSync(l) !== self);
}

/** Every native addon, addon build file and install script below `dirs`, as paths relative to `root`. */
function nativeOrInstall(root: string, dirs: string[]): { problems: string[]; files: number } {
  const problems: string[] = [];
  const seen = new Set<string>();
  let files = 0;
  const rel = (p: string) => relative(root, p).split('\\').join('/');
  const walk = (dir: string) => {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      return; // a dangling link installs nothing
    }
    if (seen.has(real)) return;
    seen.add(real);
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        walk(p);
        continue;
      }
      if (e.isSymbolicLink()) {
        // node_modules/.bin's links point at files checked where they live; a linked package is walked.
        try {
          if (readdirSync(p)) walk(p);
        } catch {}
        continue;
      }
      files++;
      if (e.name.endsWith('.node')) problems.push(`${rel(p)}: a compiled native addon`);
      else if (e.name === 'binding.gyp') problems.push(`${rel(p)}: a native addon's build file (node-gyp)`);
      else if (e.name === 'package.json') {
        let manifest: { scripts?: Record<string, unknown>; gypfile?: unknown };
        try {
          manifest = JSON.parse(readFileSync(p, 'utf8'));
        } catch {
          continue; // not a manifest npm reads (test data of some package)
        }
        const scripts = INSTALL_SCRIPTS.filter((s) => manifest?.scripts?.[s] !== undefined);
        if (scripts.length > 0) problems.push(`${rel(p)}: ${scripts.join(', ')} script`);
        if (manifest?.gypfile === true) problems.push(`${rel(p)}: gypfile (built by node-gyp on install)`);
      }
    }
  };
  for (const d of dirs) walk(d);
  return { problems: problems.sort(), files };
}

describe('what users install', () => {
  it('holds no native addon and runs no install script (production dependencies, walked)', () => {
    const dirs = productionDirs(ROOT);
    // The direct dependencies at least: an empty listing would make the walk prove nothing.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const name of Object.keys(pkg.dependencies)) {
      expect(dirs.map((d) => d.split('\\').join('/'))).toContainEqual(
        expect.stringMatching(new RegExp(`node_modules/${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`)),
      );
    }
    const { problems, files } = nativeOrInstall(ROOT, dirs);
    expect(problems).toEqual([]);
    expect(files).toBeGreaterThan(100);
  });

  it('locks no production package that runs an install script or is built for one platform', () => {
    // What the walk cannot see: another platform's optional binary package (os/cpu), never installed here.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    const flagged = Object.entries(lock.packages as Record<string, Record<string, unknown>>)
      .filter(([path, p]) => path !== '' && p.dev !== true)
      .filter(([, p]) => p.hasInstallScript === true || p.os !== undefined || p.cpu !== undefined)
      .map(([path]) => path);
    expect(flagged).toEqual([]);
  });

  it('the walk finds a native package, its build file and install scripts in a synthetic tree', () => {
    const root = mkdtempSync(join(tmpdir(), 'vtbrief-no-native-'));
    const put = (path: string, content: unknown) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content));
    };
    try {
      put('package.json', {
        name: 'synthetic-app',
        version: '1.0.0',
        dependencies: { 'fake-native': '1.0.0', 'plain-dep': '1.0.0' },
        devDependencies: { 'dev-native': '1.0.0' },
      });
      // As better-sqlite3 is: an install script that builds (or fetches) a .node file with node-gyp.
      put('node_modules/fake-native/package.json', {
        name: 'fake-native',
        version: '1.0.0',
        gypfile: true,
        scripts: { install: 'prebuild-install || node-gyp rebuild' },
        dependencies: { 'nested-dep': '1.0.0' },
      });
      put('node_modules/fake-native/binding.gyp', "{ 'targets': [] }");
      put('node_modules/fake-native/build/Release/fake_native.node', 'ELF');
      put('node_modules/fake-native/node_modules/nested-dep/package.json', {
        name: 'nested-dep',
        version: '1.0.0',
        scripts: { postinstall: 'node setup.js' },
      });
      // Scripts npm does not run on install are no concern.
      put('node_modules/plain-dep/package.json', {
        name: 'plain-dep',
        version: '1.0.0',
        scripts: { test: 'node test.js', prepare: 'node build.js' },
      });
      // A development dependency is not what users install.
      put('node_modules/dev-native/package.json', {
        name: 'dev-native',
        version: '1.0.0',
        scripts: { preinstall: 'node-gyp rebuild' },
      });
      put('node_modules/dev-native/binding.gyp', "{ 'targets': [] }");

      const dirs = productionDirs(root);
      expect(dirs.map((d) => relative(root, d).split('\\').join('/')).sort()).toEqual([
        'node_modules/fake-native',
        'node_modules/fake-native/node_modules/nested-dep',
        'node_modules/plain-dep',
      ]);
      expect(nativeOrInstall(root, dirs).problems).toEqual([
        "node_modules/fake-native/binding.gyp: a native addon's build file (node-gyp)",
        'node_modules/fake-native/build/Release/fake_native.node: a compiled native addon',
        'node_modules/fake-native/node_modules/nested-dep/package.json: postinstall script',
        'node_modules/fake-native/package.json: gypfile (built by node-gyp on install)',
        'node_modules/fake-native/package.json: install script',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
