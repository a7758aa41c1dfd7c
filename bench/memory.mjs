#!/usr/bin/env node
/**
 * Peak memory of the server process itself: `node dist/index.js` over stdio, driven by
 * the SDK client with `vt_get_report` on distinct file reports (8 calls in flight), against a stand-in in
 * a process of its own (bench/memory-stand-in.cjs). The figure is the kernel's own: VmHWM (peak resident
 * set) less VmRSS after a warm-up, read from /proc (Linux only).
 *
 *   node bench/memory.mjs [lookups=20000] [cacheMb=64]   the cache off, at cacheMb, and at cacheMb with
 *                                                       V8's own heap growth (what src/server/heap.ts changes)
 *
 * Run `npm run build` first. Prints one line per run; nothing is written.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { RecordedApi } from '../dist/demo/recorded-api.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const MB = 1024 * 1024;
const KEY = 'bench-key-not-a-real-virustotal-key';

/** Recorded file reports of ordinary size (the few very large ones would make the run lumpy). */
export function memoryTemplates() {
  return new RecordedApi()
    .objects('file')
    .map((o) => JSON.stringify(o))
    .filter((t) => t.length < 150_000);
}

/** The stand-in of bench/memory-stand-in.cjs, started; `url` is its API base. */
export async function startMemoryStandIn() {
  const dir = mkdtempSync(join(tmpdir(), 'vtbrief-memory-'));
  const file = join(dir, 'templates.json');
  writeFileSync(file, JSON.stringify(memoryTemplates()));
  const child = spawn(process.execPath, [join(root, 'bench/memory-stand-in.cjs'), file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`stand-in exited with ${code}`)));
    child.stdout.once('data', (d) => resolve(Number(d.toString().trim())));
  });
  return {
    url: `http://127.0.0.1:${port}/api/v3`,
    close: () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The hash the stand-in answers with the n-th distinct report. */
export const nthHash = (n) => n.toString(16).padStart(64, '0');

function status(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** CPU seconds the process has used (user + system), from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** One run: `cacheMb` undefined turns the cache off. Returns the baseline and peak RSS of the server. */
export async function serverMemory({ lookups, cacheMb, env = {}, nodeArgs = [] }) {
  const api = await startMemoryStandIn();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...nodeArgs, join(root, 'dist/index.js')],
    env: {
      PATH: process.env.PATH ?? '',
      VIRUSTOTAL_API_KEY: KEY,
      VIRUSTOTAL_API_URL: api.url,
      VT_RATE_LIMIT: 'off',
      VT_DAILY_QUOTA: 'off',
      VT_STATE: 'memory',
      ...(cacheMb === undefined ? { VT_CACHE_TTL_SECONDS: '0' } : { VT_CACHE_MAX_MB: String(cacheMb) }),
      ...env,
    },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'vtbrief-memory-bench', version: '0.0.0' });
  try {
    await client.connect(transport);
    const pid = transport.pid;
    let next = 0;
    const run = async (until) => {
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < until) {
            const n = next++;
            const r = await client.callTool({ name: 'vt_get_report', arguments: { indicator: nthHash(n) } });
            if (r.isError) throw new Error(`lookup ${n}: ${JSON.stringify(r.content).slice(0, 200)}`);
          }
        }),
      );
    };
    // Warm-up: code, the connection pool, a few hundred answers; then the baseline.
    await run(200);
    await new Promise((r) => setTimeout(r, 500));
    const baseline = status(pid).rss;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await run(200 + lookups);
    const ms = performance.now() - t0;
    const cpu = cpuSeconds(pid) - cpu0;
    const { hwm, rss } = status(pid);
    return { baseline, peak: hwm, end: rss, ms, cpu };
  } finally {
    await client.close();
    api.close();
  }
}

export function describeMemory(label, r, cacheMb) {
  const over = r.peak - r.baseline;
  const x = cacheMb ? ` (${(over / (cacheMb * MB)).toFixed(2)}× the setting)` : '';
  return `${label}: baseline ${(r.baseline / MB).toFixed(0)} MB, peak ${(r.peak / MB).toFixed(0)} MB, +${(over / MB).toFixed(0)} MB${x}; at the end ${(r.end / MB).toFixed(0)} MB; ${(r.ms / 1000).toFixed(1)} s, server CPU ${r.cpu.toFixed(1)} s`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const lookups = Number(process.argv[2] ?? 20_000);
  const cacheMb = Number(process.argv[3] ?? 64);
  const off = await serverMemory({ lookups });
  console.log(describeMemory(`${lookups} lookups, cache off`, off));
  const on = await serverMemory({ lookups, cacheMb });
  console.log(describeMemory(`${lookups} lookups, cache ${cacheMb} MB`, on, cacheMb));
  // What src/server/heap.ts buys, and costs: the same load with V8's own heap growth (0 = V8's default;
  // a growth given on node's command line is left alone by the bin).
  const own = await serverMemory({ lookups, cacheMb, nodeArgs: ['--heap-growing-percent=0'] });
  console.log(describeMemory(`${lookups} lookups, cache ${cacheMb} MB, V8's own heap growth`, own, cacheMb));
  console.log(`server CPU with the fixed heap growth: ${(on.cpu / own.cpu).toFixed(2)}× that with V8's own`);
}
