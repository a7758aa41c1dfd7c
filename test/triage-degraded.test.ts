/**
 * A triage job polled while the state store that keeps it cannot be read: a redis-server of our own
 * stopped (SIGSTOP), a SQLite file whose write lock another connection holds longer than the store's
 * busy wait, a store that fails outright. vt_triage {job} and vt://triage/{job} say the state is
 * unavailable and to ask again, never that the job does not exist or should be started again (which
 * spends every lookup again); once the store answers, the job reads as it was. A job done is never
 * worked again: it never shows as running, and no lookup is made for it.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LOCAL_CALLER } from '../src/server/create-server.js';
import { openStateStore } from '../src/vt/state/open.js';
import type { StateStore } from '../src/vt/state/store.js';
import { type Harness, startHarness, TEST_KEY, textOf } from './helpers/harness.js';
import {
  closedPort,
  killAndWait,
  redisServerPath,
  startRedisServer,
  tempDir,
} from './helpers/state-backends.js';

const t = tempDir('triage-degraded');
afterAll(() => t.remove());
const harnesses: Harness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

/** Indicators the stand-in has recordings of: a job of them is done within its first call. */
const INDICATORS = ['github.com', '1.1.1.1'];
const TIMEOUT = 300;
const PROBE = 200;

interface Job {
  job: string;
  status: string;
  counts: Record<string, number>;
}
const job = (r: CallToolResult) => r.structuredContent as unknown as Job;

async function until(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function serve(store: StateStore, env: Record<string, string> = {}): Promise<Harness> {
  const h = await startHarness({ store, env });
  harnesses.push(h);
  return h;
}

/** Starts a job of INDICATORS and follows it until it is done; its id. */
async function finishedJob(h: Harness): Promise<string> {
  const started = await h.call('vt_triage', { indicators: INDICATORS });
  const id = job(started).job;
  let status = job(started).status;
  for (let i = 0; i < 10 && status !== 'done'; i++)
    status = job(await h.call('vt_triage', { job: id })).status;
  expect(status).toBe('done');
  return id;
}

/**
 * What a poll says while the store cannot be read: it is unavailable, and to ask again; never that the
 * job does not exist, nor to start it again.
 */
function expectUnavailable(text: string, id: string, kind: 'redis' | 'sqlite'): void {
  expect(text).toMatch(
    new RegExp(
      `^No triage job ${id} can be read now: the shared state \\(${kind} at \\S+\\) is unavailable since ` +
        '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z \\(.+\\), and jobs kept there cannot be read until it answers again',
    ),
  );
  expect(text).toContain('Ask for this job again in a minute.');
  expect(text).not.toMatch(/never existed|Start it again|^No triage job [a-z0-9]{12}\.$/);
}

/** vt://triage/{id} read: the text, or the error (its code and message). */
async function readJob(h: Harness, id: string): Promise<{ text?: string; code?: number; message?: string }> {
  try {
    const res = await h.client.readResource({ uri: `vt://triage/${id}` });
    return { text: (res.contents[0] as { text: string }).text };
  } catch (err) {
    const e = err as { code?: number; message?: string };
    return { code: e.code, message: String(e.message).replace(/^MCP error -?\d+: /, '') };
  }
}

const bin = redisServerPath();
if (!bin) console.log('redis-server is not on PATH: the tests of a stopped Redis are skipped.');

describe.skipIf(!bin)('on a redis-server of our own that stops answering (SIGSTOP)', () => {
  const servers: ChildProcess[] = [];
  afterAll(async () => {
    for (const s of servers) await killAndWait(s);
  });

  async function onRedis(env: Record<string, string> = {}) {
    const port = await closedPort();
    const server = await startRedisServer(bin as string, port);
    servers.push(server);
    const { store } = await openStateStore(`redis://127.0.0.1:${port}/0`, {
      apiKey: TEST_KEY,
      env: {},
      cacheMaxBytes: 1e6,
      resilient: { timeoutMs: TIMEOUT, probeEveryMs: PROBE },
      redis: { timeoutMs: TIMEOUT, connectWaitMs: 3_000 },
    });
    return { h: await serve(store, env), store, redis: server };
  }

  it('a finished job: unavailable and ask again (tool and resource); done again once Redis answers', {
    timeout: 40_000,
  }, async () => {
    const { h, store, redis } = await onRedis();
    const id = await finishedJob(h);
    redis.kill('SIGSTOP');
    try {
      const polled = await h.call('vt_triage', { job: id });
      expect(polled.isError).toBe(true);
      expectUnavailable(textOf(polled), id, 'redis');
      // The other ways to follow it say the same.
      expectUnavailable(textOf(await h.call('vt_triage', { job: id, cursor: 'r:1' })), id, 'redis');
      const read = await readJob(h, id);
      // Not "not found" (invalid params): a failure worth asking again, as tasks/get answers it.
      expect(read.code).toBe(-32603);
      expectUnavailable(read.message ?? '', `"${id}"`, 'redis');
    } finally {
      redis.kill('SIGCONT');
    }
    await until(() => store.health().degradedSince === undefined);
    const back = await h.call('vt_triage', { job: id });
    expect(back.isError).toBeFalsy();
    expect(job(back).status).toBe('done');
    expect(textOf(back)).toMatch(new RegExp(`^Triage job ${id} \\(done\\): 2 indicators: `));
    expect((await readJob(h, id)).text).toMatch(new RegExp(`^Triage job ${id} \\(done\\)`));
  });

  it('a store that stops answering while a poll waits: the answer says so, not "No triage job"', {
    timeout: 40_000,
  }, async () => {
    // One lookup a minute: the job is still running when polled, and the poll waits (3 s at most).
    const { h, store, redis } = await onRedis({ VT_RATE_LIMIT: '1/60', VT_MAX_WAIT_SECONDS: '3' });
    const started = await h.call('vt_triage', { indicators: [...INDICATORS, 'example.com'] });
    const id = job(started).job;
    expect(job(started).status).toBe('running');
    const poll = h.call('vt_triage', { job: id });
    // The poll has read the job (it is waiting for results) when Redis stops.
    await new Promise((r) => setTimeout(r, 700));
    redis.kill('SIGSTOP');
    let polled: CallToolResult;
    try {
      polled = await poll;
    } finally {
      redis.kill('SIGCONT');
    }
    expect(polled.isError).toBe(true);
    expectUnavailable(textOf(polled), id, 'redis');
    await until(() => store.health().degradedSince === undefined);
    // Back: the job is there (a cancel answers at once, with its state).
    const back = await h.call('vt_triage', { job: id, cancel: true });
    expect(back.isError).toBeFalsy();
    expect(job(back)).toMatchObject({ job: id, status: 'cancelled' });
  });
});

describe('on a SQLite file whose write lock another connection holds', () => {
  let n = 0;
  async function onSqlite() {
    const path = join(t.dir, `locked-${n++}.db`);
    const { store } = await openStateStore(`sqlite:${path}`, {
      apiKey: TEST_KEY,
      env: {},
      cacheMaxBytes: 1e6,
      resilient: { timeoutMs: TIMEOUT, probeEveryMs: PROBE },
      // The lock below is held for seconds: far longer than this busy wait.
      sqlite: { busyTimeoutMs: 100 },
    });
    return { h: await serve(store), store, path };
  }

  /** Holds the file's write lock (BEGIN IMMEDIATE from another connection) until released. */
  function lock(path: string): { release: () => void } {
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    return {
      release: () => {
        other.exec('ROLLBACK');
        other.close();
      },
    };
  }

  it('a finished job: read while only reads are made; unavailable and ask again once the store gives up; done again after', {
    timeout: 40_000,
  }, async () => {
    const { h, store, path } = await onSqlite();
    const id = await finishedJob(h);
    // What this process had queued for the file is written now, before the lock.
    await h.call('vt_quota', {});
    const held = lock(path);
    try {
      // A reader is not held up by another connection's write lock: the job reads as it is.
      expect(job(await h.call('vt_triage', { job: id })).status).toBe('done');
      // This process needs the lock (a claim takes it), waits out its busy wait, and answers from
      // memory from then on.
      await store.lease('claim/test', 'this-process', 1_000, Date.now());
      expect(store.health().degradedSince).toBeTypeOf('number');
      const polled = await h.call('vt_triage', { job: id });
      expect(polled.isError).toBe(true);
      expectUnavailable(textOf(polled), id, 'sqlite');
      expect(textOf(polled)).toMatch(/\(database is locked\)/);
      const read = await readJob(h, id);
      expect(read.code).toBe(-32603);
      expectUnavailable(read.message ?? '', `"${id}"`, 'sqlite');
    } finally {
      held.release();
    }
    await until(() => store.health().degradedSince === undefined);
    const back = await h.call('vt_triage', { job: id });
    expect(job(back).status).toBe('done');
    expect((await readJob(h, id)).text).toMatch(new RegExp(`^Triage job ${id} \\(done\\)`));
  });

  it('a job marked done is never worked again: polled during and after the lock, it never runs, and no lookup is made', {
    timeout: 40_000,
  }, async () => {
    const { h, store, path } = await onSqlite();
    const id = await finishedJob(h);
    const before = job(await h.call('vt_triage', { job: id }));
    // As stored: the header (its last write) and every item's state (when its result was written).
    const stored = await h.runtime.triage.jobs.snapshot(id, LOCAL_CALLER);
    const requests = h.api.requests.length;
    const seen: string[] = [];
    const look = async () => {
      const r = await h.call('vt_triage', { job: id });
      seen.push(r.isError ? 'unavailable' : job(r).status);
    };
    await h.call('vt_quota', {});
    const held = lock(path);
    try {
      await look();
      // This process needs the lock (a claim takes it) and answers from memory from then on.
      await store.lease('claim/test', 'this-process', 1_000, Date.now());
      expect(store.health().degradedSince).toBeTypeOf('number');
      // Long enough for the runner's scans (every 2 s) to run while the store answers from memory.
      for (let i = 0; i < 6; i++) {
        await look();
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      held.release();
    }
    await until(() => store.health().degradedSince === undefined);
    // And after: scans on the store that answers again.
    for (let i = 0; i < 6; i++) {
      await look();
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(seen).not.toContain('running');
    expect(seen).toContain('unavailable');
    expect(seen.at(-1)).toBe('done');
    // Nothing was looked up again (a cached lookup makes no request, but its result would be written).
    expect(h.api.requests.length).toBe(requests);
    expect(await h.runtime.triage.jobs.snapshot(id, LOCAL_CALLER)).toEqual(stored);
    expect(stored?.header).toMatchObject({ status: 'done', done: 2, total: 2 });
    expect(job(await h.call('vt_triage', { job: id }))).toEqual(before);
  });
});

describe('on a store that fails outright (no stand-in in memory)', () => {
  it('a closed SQLite store: unavailable with its error, never "never existed" nor an internal error', async () => {
    const path = join(t.dir, 'closed.db');
    const { store } = await openStateStore(`sqlite:${path}`, {
      apiKey: TEST_KEY,
      env: {},
      cacheMaxBytes: 1e6,
      resilient: false,
    });
    const h = await serve(store);
    const id = await finishedJob(h);
    await store.close();
    const polled = await h.call('vt_triage', { job: id });
    expect(polled.isError).toBe(true);
    expectUnavailable(textOf(polled), id, 'sqlite');
    const unknown = await h.call('vt_triage', { job: 'aaaaaaaaaaaa' });
    expectUnavailable(textOf(unknown), 'aaaaaaaaaaaa', 'sqlite');
    const read = await readJob(h, id);
    expect(read.code).toBe(-32603);
    expectUnavailable(read.message ?? '', `"${id}"`, 'sqlite');
  });
});
