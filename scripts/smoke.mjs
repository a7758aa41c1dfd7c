#!/usr/bin/env node
/**
 * Proves the two install paths from artifacts built in this run, as a user's client would meet them:
 *   node scripts/smoke.mjs package   `npm pack`, install the tarball into an empty directory (no build
 *                                    step runs there), start its `vtbrief` bin with --demo over stdio;
 *   node scripts/smoke.mjs bundle    unpack vtbrief-<version>.mcpb (`npm run bundle` first) and start
 *                                    its entry point with --demo over stdio.
 * Each then lists the tools and calls vt_get_report on a recorded hash, through the MCP SDK's client.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const DEMO_HASH = 'e2a52f78fc1dc2eb561fd5d77892d642';
const sh = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

function fail(msg) {
  console.error(`smoke: ${msg}`);
  process.exit(1);
}

/** Starts `command args` as a stdio MCP server, lists its tools and makes one call. */
async function drive(label, command, args, cwd) {
  const transport = new StdioClientTransport({
    command,
    args,
    cwd,
    env: { PATH: process.env.PATH },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'vtbrief-smoke', version: pkg.version });
  await client.connect(transport);
  const info = client.getServerVersion();
  const { tools } = await client.listTools();
  const res = await client.callTool({ name: 'vt_get_report', arguments: { indicator: DEMO_HASH } });
  await client.close();
  const text = res.content?.[0]?.text ?? '';
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
  const work = mkdtempSync(join(tmpdir(), 'vtbrief-pack-'));
  try {
    const tgz = join(
      work,
      sh('npm', ['pack', '--silent', '--pack-destination', work], root).split('\n').pop(),
    );
    const listed = JSON.parse(sh('npm', ['pack', '--dry-run', '--json', '--silent'], root))[0].files.map(
      (f) => f.path,
    );
    const maps = listed.filter((p) => p.endsWith('.map'));
    if (maps.length > 0)
      fail(`package: ships source maps without their sources: ${maps.slice(0, 3).join(', ')}`);
    if (listed.some((p) => p.startsWith('src/') || p.startsWith('test/')))
      fail('package: ships src/ or test/');
    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
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
    await drive('package', bin, ['--demo'], app);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function smokeBundle() {
  const file = join(root, `${pkg.name}-${pkg.version}.mcpb`);
  if (!existsSync(file)) fail(`bundle: ${file} is missing; run "npm run bundle" first`);
  const work = mkdtempSync(join(tmpdir(), 'vtbrief-mcpb-'));
  try {
    const mcpb = join(root, 'node_modules/@anthropic-ai/mcpb/dist/cli/cli.js');
    sh(process.execPath, [mcpb, 'unpack', file, work], root);
    const manifest = JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8'));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder the bundle host substitutes.
    const args = manifest.server.mcp_config.args.map((a) => a.replace('${__dirname}', work));
    await drive('bundle', manifest.server.mcp_config.command, [...args, '--demo'], work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const what = process.argv[2];
if (what === 'package') await smokePackage();
else if (what === 'bundle') await smokeBundle();
else fail('usage: node scripts/smoke.mjs package|bundle');
