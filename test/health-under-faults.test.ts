/**
 * /healthz on the HTTP transport answers within 100 ms whatever the state store does: while another
 * process holds the SQLite file's write lock for 2 s, and while a Redis server of our own is paused
 * (SIGSTOP), each time with lookups in flight that need the store. A health check waits on nothing but
 * the event loop, so its latency is a bound on how long the store's handling blocks the loop: a
 * synchronous wait for the SQLite lock, or a Redis client that blocks, shows here as a slow answer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { textOf } from './helpers/harness.js';
import { type Replica, startReplica } from './helpers/replica.js';
import {
  closedPort,
  killAndWait,
  randomApiKey,
  redisServerPath,
  startRedisServer,
  tempDir,
} from './helpers/state-backends.js';

/** The bound on one answer: the longest the event loop may be held by the store's handling. */
const BOUND_MS = 100;

/**
 * What a health check under the fault may take at most: the bound, or half as much again as the same
 * load took with the store well in this run, whichever is longer. On a machine busy enough that even
 * the calm run is slow, the fault is judged against that run rather than against a clock.
 */
const allowed = (calm: { max: number }) => Math.max(BOUND_MS, calm.max * 1.5);
const SAMPLES = 20;
/** Between two health checks: the 20 span about 1.5 s of the fault. */
const SPACING_MS = 75;
/** Lookups kept in flight during the fault, each worker pausing a little between two of its own. */
const IN_FLIGHT = 4;
const LOOKUP_PAUSE_MS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function replicaOn(state: string): Promise<{ api: RecordedApi; r: Replica; key: string }> {
  const key = randomApiKey('health');
  const api = await new RecordedApi({ apiKey: key }).start();
  cleanups.push(() => api.close());
  const r = await startReplica({
    key,
    apiUrl: api.url,
    env: { VT_STATE: state, VT_RATE_LIMIT: 'off', VT_MCP_CLIENT_RATE: '0' },
  });
  cleanups.push(() => r.close());
  return { api, r, key };
}

/** One /healthz round trip, in ms. */
async function healthMs(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = await res.text();
  const ms = performance.now() - t0;
  expect(res.status).toBe(200);
  expect(body).toBe('{"status":"ok"}');
  return ms;
}

/**
 * Keeps IN_FLIGHT lookups of distinct (never cached) hashes going until stop() is called; stop()
 * resolves with every answer once the last is in.
 */
function lookupsInFlight(r: Replica, salt: string) {
  let stopped = false;
  let n = 0;
  const answers: CallToolResult[] = [];
  const worker = async () => {
    while (!stopped) {
      const indicator = createHash('sha256').update(`${salt}-${n++}`).digest('hex');
      // A call that fails outright is an answer too (an error the test shows), never an unhandled one.
      const answer = await r.client
        .callTool({ name: 'vt_get_report', arguments: { indicator } }, undefined, { timeout: 30_000 })
        .catch((err: unknown) => ({
          isError: true,
          content: [{ type: 'text' as const, text: String(err) }],
        }));
      answers.push(answer as CallToolResult);
      // Lookups, not a flood: answering them costs this process's loop time (the client's and the
      // server's), which is not what is measured.
      await sleep(LOOKUP_PAUSE_MS);
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, worker);
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
      return answers;
    },
  };
}

/** SAMPLES health checks, SPACING_MS apart: median and max latency. */
async function measure(url: string): Promise<{ median: number; max: number; all: number[] }> {
  const all: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    all.push(await healthMs(url));
    await sleep(SPACING_MS);
  }
  const sorted = [...all].sort((a, b) => a - b);
  return { median: sorted[Math.floor(SAMPLES / 2)] as number, max: sorted[SAMPLES - 1] as number, all };
}

/** The same, with the same lookups in flight and the store well: what the load alone costs. */
async function underLookups(r: Replica, url: string, salt: string) {
  const lookups = lookupsInFlight(r, salt);
  const m = await measure(url);
  await lookups.stop();
  return m;
}

const fmt = (m: { median: number; max: number }) =>
  `median ${m.median.toFixed(1)} ms, max ${m.max.toFixed(1)} ms`;

/** A process of its own that takes the SQLite file's write lock, holds it `ms`, and exits. */
async function holdWriteLock(
  path: string,
  ms: number,
): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const script = `
    const { DatabaseSync } = require('node:sqlite');
    const db = new DatabaseSync(process.argv[1]);
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); process.exit(0); }, ${ms});
  `;
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => killAndWait(child));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`the lock holder exited (${code}) before taking the lock`)),
    );
  });
  return { child, exited };
}

describe('/healthz answers within 100 ms whatever the store does', () => {
  it('while another process holds the SQLite write lock for 2 s and lookups are in flight', async () => {
    const tmp = tempDir('health-sqlite');
    cleanups.push(tmp.remove);
    const path = join(tmp.dir, 'state.db');
    const { r } = await replicaOn(`sqlite:${path}`);
    const url = r.http.url.replace('/mcp', '/healthz');
    // The store is in use before the fault (a lookup written to it), and the connection is warm.
    const first = await r.client.callTool({ name: 'vt_get_report', arguments: { indicator: '8.8.8.8' } });
    expect(first.isError).toBeFalsy();
    const calm = await underLookups(r, url, 'sqlite-calm');

    const lock = await holdWriteLock(path, 2_000);
    const lookups = lookupsInFlight(r, 'sqlite');
    const faulted = await measure(url);
    // The fault was real: the store could not be written while the lock was held.
    const degraded = r.runtime.store.health();
    await lock.exited;
    const answers = await lookups.stop();
    console.log(
      `/healthz, SQLite write lock held by another process: ${fmt(faulted)} (the same lookups, the store well: ${fmt(calm)}); ` +
        `${answers.length} lookups answered meanwhile, store: ${degraded.reason ?? 'not degraded'}`,
    );
    expect(degraded.degradedSince, 'the store was unavailable during the fault').toBeDefined();
    expect(answers.filter((a) => a.isError).map(textOf)).toEqual([]);
    expect(faulted.max).toBeLessThan(allowed(calm));
  }, 60_000);

  const redisBin = redisServerPath();
  it.skipIf(!redisBin)(
    'while the Redis server is paused (SIGSTOP) and lookups are in flight',
    async () => {
      const port = await closedPort();
      const server = await startRedisServer(redisBin as string, port);
      cleanups.push(() => killAndWait(server));
      const { r } = await replicaOn(`redis://127.0.0.1:${port}/0`);
      const url = r.http.url.replace('/mcp', '/healthz');
      const first = await r.client.callTool({ name: 'vt_get_report', arguments: { indicator: '8.8.8.8' } });
      expect(first.isError).toBeFalsy();
      const calm = await underLookups(r, url, 'redis-calm');

      server.kill('SIGSTOP');
      let faulted: Awaited<ReturnType<typeof measure>>;
      let degraded: ReturnType<Replica['runtime']['store']['health']>;
      let answers: CallToolResult[];
      try {
        const lookups = lookupsInFlight(r, 'redis');
        faulted = await measure(url);
        degraded = r.runtime.store.health();
        answers = await lookups.stop();
      } finally {
        server.kill('SIGCONT');
      }
      console.log(
        `/healthz, Redis paused: ${fmt(faulted)} (the same lookups, the store well: ${fmt(calm)}); ` +
          `${answers.length} lookups answered meanwhile, store: ${degraded.reason ?? 'not degraded'}`,
      );
      expect(degraded.degradedSince, 'the store was unavailable during the fault').toBeDefined();
      expect(answers.filter((a) => a.isError).map(textOf)).toEqual([]);
      expect(faulted.max).toBeLessThan(allowed(calm));
    },
    60_000,
  );
});
