#!/usr/bin/env node
/**
 * Runs the MCP conformance suite's server scenarios that fit any server against vtbrief over
 * Streamable HTTP (demo data, loopback). The suite runs on the Node that runs this script (22 or
 * later, as the package itself needs: scripts/use-node.sh puts it on PATH).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

const SCENARIOS = [
  'server-initialize',
  'ping',
  'tools-list',
  'logging-set-level',
  'resources-list',
  'prompts-list',
  'dns-rebinding-protection',
];

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});

const server = spawn(
  process.execPath,
  ['dist/index.js', '--demo', '--transport', 'http', '--port', String(port)],
  {
    stdio: ['ignore', 'ignore', 'pipe'],
  },
);
let serverLog = '';
server.stderr.on('data', (d) => {
  serverLog += d;
});

const url = `http://127.0.0.1:${port}/mcp`;
for (let i = 0; i < 50; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 100));
}

let failed = 0;
for (const scenario of SCENARIOS) {
  const r = spawnSync(
    'npx',
    [
      '-y',
      '-p',
      '@modelcontextprotocol/conformance@0.1.16',
      '-c',
      `conformance server --url ${url} --scenario ${scenario}`,
    ],
    { encoding: 'utf8', timeout: 180_000 },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  const m = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(out);
  const ok = r.status === 0 && m && m[3] === '0' && m[1] === m[2];
  if (!ok) failed++;
  process.stdout.write(`${ok ? 'PASS' : 'FAIL'} ${scenario}${m ? ` (${m[1]}/${m[2]} checks)` : ''}\n`);
  if (!ok) process.stdout.write(`${out.slice(-3000)}\n`);
}
server.kill();
if (failed > 0) process.stdout.write(`server log:\n${serverLog}\n`);
process.stdout.write(`conformance: ${SCENARIOS.length - failed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);
