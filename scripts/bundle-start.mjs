#!/usr/bin/env node
/**
 * The last step of `npm run build`: bundles what a start runs into dist/index.js and a few chunks in
 * dist/chunks/, over what tsc wrote there (run after it). A start then loads five modules of ours
 * instead of a hundred, each one Node has to find, read, compile (or take from its compile cache) and
 * link: that was a fifth of the time to the answer to `initialize`. Packages stay outside (installed
 * as locked; the .mcpb leaves the Redis client out), and what only some runs need stays a chunk of its
 * own that is loaded then (the demo's recordings, the HTTP transport, the Redis store). The rest of
 * dist/ is tsc's output as before, for the benchmarks and scripts that import single modules.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const packages = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies });
const builtins = new Set(builtinModules);

await build({
  input: `${root}dist/index.js`,
  platform: 'node',
  // Every package and Node's own modules are imported, not bundled.
  external: (id) =>
    id.startsWith('node:') || builtins.has(id) || packages.some((p) => id === p || id.startsWith(`${p}/`)),
  logLevel: 'warn',
  output: {
    dir: `${root}dist`,
    format: 'esm',
    entryFileNames: 'index.js',
    // Named after their first module, without a hash: the Redis store is chunks/redis.js, which
    // scripts/bundle.mjs checks is the only file that imports the Redis client.
    chunkFileNames: 'chunks/[name].js',
  },
});
