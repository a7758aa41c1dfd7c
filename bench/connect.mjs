#!/usr/bin/env node
/**
 * Connect time by protocol era: the SDK v2 client in `legacy` (the 2025 handshake), pinned to 2026-07-28
 * and in `auto`, against `node dist/index.js --demo`, from connect() until the first tools/list has
 * answered (what a client needs before it can offer the tools).
 *
 *   - stdio: every connect spawns the server (pinned and auto, the client spawns a second, throw-away
 *     process to probe for the revision, then the real one);
 *   - HTTP: one server on 127.0.0.1, a new client per connect.
 *
 * Medians of alternating runs (the modes take turns). Run `npm run build` first.
 *
 *   node bench/connect.mjs [--runs 7]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { fmt, median } from './harness.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = `${root}dist/index.js`;
export const MODES = [
  ['2025 (legacy)', 'legacy'],
  ['2026-07-28 (pinned)', { pin: '2026-07-28' }],
  ['auto', 'auto'],
];
const ENV = { PATH: process.env.PATH ?? '', VT_STATE: 'memory', NODE_DISABLE_COMPILE_CACHE: '' };

async function once(mode, transport) {
  const client = new Client({ name: 'vtbrief-bench', version: '0.0.0' }, { versionNegotiation: { mode } });
  const t0 = performance.now();
  await client.connect(transport());
  await client.listTools();
  const ms = performance.now() - t0;
  const version = client.getNegotiatedProtocolVersion();
  await client.close();
  return { ms, version };
}

async function startHttp() {
  const child = spawn(process.execPath, [BIN, '--demo', '--transport', 'http', '--port', '0'], {
    env: ENV,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise((resolve, reject) => {
    let log = '';
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${log}`)));
    child.stderr.on('data', (d) => {
      log += d;
      const m = /serving Streamable HTTP at (\S+)/.exec(log);
      if (m) resolve(m[1]);
    });
  });
  return { url, close: () => child.kill() };
}

export async function connectTimes({ runs = 7 } = {}) {
  const http = await startHttp();
  try {
    const stdio = () =>
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, '--demo'],
        env: ENV,
        stderr: 'ignore',
      });
    const overHttp = () => new StreamableHTTPClientTransport(new URL(http.url));
    const rows = [];
    const samples = new Map();
    // A warm-up of each: the compile cache and the file system's caches, as a user's second start has them.
    for (const [, mode] of MODES) {
      await once(mode, stdio);
      await once(mode, overHttp);
    }
    for (let r = 0; r < runs; r++) {
      for (const [name, mode] of MODES) {
        for (const [tname, t] of [
          ['stdio', stdio],
          ['HTTP', overHttp],
        ]) {
          const k = `${name}|${tname}`;
          const got = await once(mode, t);
          if (!samples.has(k)) samples.set(k, { ms: [], version: got.version });
          samples.get(k).ms.push(got.ms);
        }
      }
    }
    for (const [k, v] of samples) {
      const [mode, transport] = k.split('|');
      rows.push({ mode, transport, version: v.version, median: median(v.ms) });
    }
    return { runs, rows };
  } finally {
    http.close();
  }
}

export function describeConnect(r) {
  const legacy = (t) => r.rows.find((x) => x.transport === t && x.mode.startsWith('2025')).median;
  const at = (mode, t) => r.rows.find((x) => x.transport === t && x.mode.startsWith(mode)).median;
  const figures = {
    connectRuns: r.runs,
    connect2025StdioMs: at('2025', 'stdio'),
    connect2026StdioMs: at('2026', 'stdio'),
    connectAutoStdioMs: at('auto', 'stdio'),
    connect2025HttpMs: at('2025', 'HTTP'),
    connect2026HttpMs: at('2026', 'HTTP'),
    connectAutoHttpMs: at('auto', 'HTTP'),
  };
  const markdown = [
    '## Connect time by protocol era',
    '',
    `The SDK v2 client against \`node dist/index.js --demo\`, from connect() until the first tools/list answered; medians of ${r.runs} alternating runs. On stdio each connect starts the server (pinned and auto, the client first starts a throw-away process to probe for the revision).`,
    '',
    '| client | transport | revision | median | ratio to 2025 |',
    '|---|---|---|---:|---:|',
    ...r.rows.map(
      (x) =>
        `| ${x.mode} | ${x.transport} | ${x.version} | ${fmt(x.median)} ms | ${(x.median / legacy(x.transport)).toFixed(2)}× |`,
    ),
    '',
  ].join('\n');
  return { markdown, figures };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Number(process.argv[i + 1]) : 7;
  process.stdout.write(`${describeConnect(await connectTimes({ runs })).markdown}\n`);
}
