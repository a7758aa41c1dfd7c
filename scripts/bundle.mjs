#!/usr/bin/env node
/**
 * Builds the Claude Desktop bundle, vtbrief-<version>.mcpb: the built server, its production
 * dependencies, the demo recordings and manifest.json, validated and packed with @anthropic-ai/mcpb.
 * Run through `npm run bundle` (which builds dist/ first). Prints the bundle's path and size.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const stage = `${root}.scratch/bundle`;
const out = `${root}${pkg.name}-${pkg.version}.mcpb`;
const mcpb = `${root}node_modules/@anthropic-ai/mcpb/dist/cli/cli.js`;
const run = (cmd, args, cwd = root) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });

// manifest.json is generated from the code; a stale one would describe another server.
run(process.execPath, ['scripts/generate.mjs', '--check']);

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
for (const f of [
  'dist',
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
run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], stage);
run(process.execPath, [mcpb, 'validate', `${stage}/manifest.json`]);
rmSync(out, { force: true });
run(process.execPath, [mcpb, 'pack', stage, out]);
const bytes = statSync(out).size;
console.log(`bundle: ${out} (${(bytes / 1024 / 1024).toFixed(1)} MB)`);
