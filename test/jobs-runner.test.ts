/**
 * The triage job engine on a real store (SQLite file): results, not-found, cancel, the daily cap (a pause,
 * not a hold until tomorrow), handover, owners, bounds, and a start that reads headers only.
 */
import { join } from 'node:path';
import { createClient } from 'redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { JobLimitError, type JobLimits } from '../src/jobs/job-bounds.js';
import type { JobItem } from '../src/jobs/job-schemas.js';
import { JobRunner, type RunnerOptions } from '../src/jobs/runner.js';
import { TriageJobs } from '../src/jobs/triage-jobs.js';
import { LOCAL_CALLER } from '../src/server/create-server.js';
import { DailyCapError, VtAnswerError } from '../src/vt/errors.js';
import { openRedisStore } from '../src/vt/state/redis.js';
import { openSqliteStore } from '../src/vt/state/sqlite.js';
import { keyspace } from '../src/vt/state/store.js';
import { startHarness, TEST_KEY, textOf } from './helpers/harness.js';
import { WIDE_JOB_LIMITS } from './helpers/job-limits.js';
import { cleanRedis, REDIS_NAMESPACE, REDIS_URL, tempDir } from './helpers/state-backends.js';
import { SwitchedStore } from './helpers/state-switch.js';

const tmp = tempDir('jobs');
afterAll(() => tmp.remove());
const store = openSqliteStore({
  path: join(tmp.dir, 'jobs.db'),
  keyspace: keyspace('jobs-key'),
  cacheMaxBytes: 1e6,
  ownDirectory: false,
  platform: process.platform,
});
afterAll(() => store.close());

const newJobs = (limits: Partial<JobLimits> = {}) =>
  new TriageJobs({ store, keepMs: 60_000, limits: { ...WIDE_JOB_LIMITS, ...limits } });
const OWNER = 'local';

const items = (n: number, tag = 'x'): JobItem[] =>
  Array.from({ length: n }, (_, i) => ({
    input: `${tag}${i}`,
    type: 'domain',
    id: `${tag}${i}.example`,
    collection: 'domains',
  }));
const until = async (cond: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** Deletes the keys of db 15 that match `pattern` (SCAN, then DEL); how many. */
async function deleteRedisKeys(pattern: string): Promise<number> {
  const c = createClient({ url: REDIS_URL as string });
  c.on('error', () => {});
  await c.connect();
  let n = 0;
  try {
    for await (const keys of c.scanIterator({ MATCH: pattern, COUNT: 500 })) {
      if (keys.length > 0) n += await c.del(keys);
    }
  } finally {
    c.destroy();
  }
  return n;
}

// A runner left running by a failed test would take the next test's jobs: every test's runners stop.
const runners: JobRunner[] = [];
afterEach(async () => {
  for (const r of runners.splice(0)) await r.stop(0);
  // Nor may a test's unfinished jobs be worked by the next test's runners.
  const jobs = newJobs();
  for (const h of await jobs.list()) {
    if (h.status === 'running' || h.status === 'paused') await jobs.writeHeader(h, { status: 'cancelled' });
  }
});
const track = (r: JobRunner) => {
  runners.push(r);
  return r;
};
/** A started runner with the tests' defaults (quick scans, rows of unknown items as `{}`), stopped after the test. */
const start = (o: Partial<RunnerOptions> & Pick<RunnerOptions, 'jobs' | 'lookup'>) =>
  track(new JobRunner({ concurrency: 2, scanEveryMs: 30, notFoundRow: () => ({}), ...o }).start());

describe('JobRunner', () => {
  it('runs a job to the end: rows, not-found rows, failures after retries', async () => {
    const jobs = newJobs();
    const seen: string[] = [];
    const runner = start({
      jobs,
      concurrency: 3,
      scanEveryMs: 50,
      lookup: async (item) => {
        seen.push(item.id);
        if (item.input === 'x3')
          throw new VtAnswerError('not_found', { httpStatus: 404, vtCode: 'NotFoundError' });
        if (item.input === 'x5') throw new VtAnswerError('transient', { httpStatus: 503 });
        return { verdict: 'undetected', id: item.id };
      },
      notFoundRow: (item) => ({ verdict: 'not_found', id: item.id }),
    });
    const h = await jobs.create(OWNER, items(60), { skipped: 1 });
    runner.kick(h.id);
    await until(async () => (await jobs.header(h.id))?.status === 'done');
    const snap = await jobs.snapshot(h.id, OWNER);
    expect(snap?.header).toMatchObject({ total: 60, done: 59, failed: 1, notes: { skipped: 1 } });
    expect(snap?.states[3]).toMatchObject({ s: 'done', row: { verdict: 'not_found' } });
    expect(snap?.states[5]).toMatchObject({ s: 'failed', error: 'transient' });
    // Each item once, the failing one twice (the gateway has retried each try already).
    expect(seen.filter((s) => s === 'x5.example')).toHaveLength(2);
    expect(new Set(seen).size).toBe(60);
    expect(seen.length).toBe(61);
    await runner.stop();
  });

  it('stops on cancel, and pauses a job at the daily cap: it does not spend the next day by itself', async () => {
    const jobs = newJobs();
    let calls = 0;
    let resetAt = 0;
    const runner = start({
      jobs,
      concurrency: 1,
      scanEveryMs: 50,
      lookup: async (item) => {
        calls++;
        if (item.input.startsWith('cap') && calls === 3) {
          resetAt = Date.now() + 400;
          throw new DailyCapError(100, resetAt, Date.now());
        }
        await new Promise((r) => setTimeout(r, 20));
        return { ok: item.id };
      },
      notFoundRow: () => ({}),
    });
    const capped = await jobs.create(OWNER, items(6, 'cap'), undefined);
    runner.kick(capped.id);
    await until(async () => (await jobs.header(capped.id))?.status === 'paused');
    const held = await jobs.header(capped.id);
    expect(held).toMatchObject({ done: 2, status: 'paused', pausedFor: 'daily' });
    // Past the reset, nothing carries it on but its owner.
    await new Promise((r) => setTimeout(r, Math.max(0, resetAt - Date.now()) + 200));
    expect(await jobs.header(capped.id)).toMatchObject({ status: 'paused', done: 2 });
    expect(calls).toBe(3);
    await jobs.writeHeader(held as NonNullable<typeof held>, { status: 'running' });
    runner.kick(capped.id);
    await until(async () => (await jobs.header(capped.id))?.status === 'done');
    expect(calls).toBe(7);

    const long = await jobs.create(OWNER, items(40, 'c'), undefined);
    runner.kick(long.id);
    await until(async () => ((await jobs.header(long.id))?.done ?? 0) >= 3);
    await jobs.requestCancel(long.id);
    await until(async () => (await jobs.header(long.id))?.status === 'cancelled');
    const done = (await jobs.header(long.id))?.done ?? 0;
    expect(done).toBeLessThan(40);
    await new Promise((r) => setTimeout(r, 150));
    expect((await jobs.header(long.id))?.done).toBe(done);
    await runner.stop();
  });

  it('one runner at a time per job; another takes it over when the first stops', async () => {
    const jobs = newJobs();
    const by = { a: [] as string[], b: [] as string[] };
    const make = (name: 'a' | 'b') =>
      track(
        new JobRunner({
          jobs,
          concurrency: 2,
          scanEveryMs: 50,
          leaseMs: 600,
          lookup: async (item) => {
            by[name].push(item.id);
            await new Promise((r) => setTimeout(r, 30));
            return { ok: item.id };
          },
          notFoundRow: () => ({}),
        }).start(),
      );
    const a = make('a');
    const b = make('b');
    const h = await jobs.create(OWNER, items(30, 'h'), undefined);
    a.kick(h.id);
    b.kick(h.id);
    await until(async () => ((await jobs.header(h.id))?.done ?? 0) >= 6);
    await a.stop(1_000);
    await until(async () => (await jobs.header(h.id))?.status === 'done');
    // Between them, every item once.
    expect([...by.a, ...by.b].sort()).toEqual(
      items(30, 'h')
        .map((i) => i.id)
        .sort(),
    );
    expect(by.b.length).toBeGreaterThan(0);
    await b.stop();
  });

  it('a job belongs to its owner: another sees no header, no snapshot', async () => {
    const jobs = newJobs();
    const h = await jobs.create('token:aaaa', items(3, 'own'), undefined);
    expect(await jobs.headerFor(h.id, 'token:aaaa')).toMatchObject({ id: h.id });
    expect(await jobs.headerFor(h.id, 'token:bbbb')).toBeUndefined();
    expect(await jobs.snapshot(h.id, 'token:bbbb')).toBeUndefined();
    expect(await jobs.snapshot(h.id, 'local')).toBeUndefined();
  });

  it('refuses a job past a bound, naming it; a stopped job frees a running place', async () => {
    const jobs = newJobs({ runningPerClient: 2, storedPerClient: 3 });
    const owner = `bounded-${Date.now()}`;
    const a = await jobs.create(owner, items(2, 'b1'), undefined);
    await jobs.create(owner, items(2, 'b2'), undefined);
    const third = await jobs.create(owner, items(2, 'b3'), undefined).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(JobLimitError);
    expect(third).toMatchObject({ bound: 'runningPerClient', limit: 2, current: 2 });
    expect((third as JobLimitError).holding.map((h) => h.id)).toContain(a.id);
    // Another client is not held by this one's bound.
    await jobs.create(`${owner}-other`, items(2, 'b4'), undefined);
    // Cancelled, a job no longer runs: there is room for a running one, and the kept bound comes next.
    await jobs.writeHeader(a, { status: 'cancelled' });
    await jobs.create(owner, items(2, 'b5'), undefined);
    const fourth = await jobs.create(owner, items(2, 'b6'), undefined).catch((e: unknown) => e);
    expect(fourth).toMatchObject({ bound: 'runningPerClient' });
    const stored = newJobs({ runningPerClient: 10, storedPerClient: 3 });
    const err = await stored.create(owner, items(2, 'b7'), undefined).catch((e: unknown) => e);
    expect(err).toMatchObject({ bound: 'storedPerClient', limit: 3, current: 3 });
    // When room comes: the cancelled job's documents expire keepMs after it stopped.
    expect((err as JobLimitError).roomAt).toBeGreaterThan(Date.now());
    expect((err as JobLimitError).roomAt).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('a job cancelled by another process while this one works it: its results expire with it', async () => {
    const jobs = newJobs();
    const runner = start({
      jobs,
      concurrency: 1,
      lookup: async () => {
        await new Promise((r) => setTimeout(r, 30));
        return {};
      },
    });
    const h = await jobs.create(OWNER, items(80, 'exp'), undefined);
    runner.kick(h.id);
    await until(async () => ((await jobs.header(h.id))?.done ?? 0) >= 2);
    // As vt_triage's cancel does, from any process: the request, and the header says cancelled at once.
    await jobs.requestCancel(h.id);
    const now = await jobs.header(h.id);
    await jobs.writeHeader(now as NonNullable<typeof now>, { status: 'cancelled' });
    await until(async () => !runner.isRunning(h.id));
    // Kept 60 s (keepMs) from now, not a running job's week: every chunk, the one written last included.
    const later = Date.now() + 61_000;
    expect(await store.docGet(`job:${h.id}`, later)).toBeUndefined();
    expect(await store.docGet(`jobc:${h.id}:0`, later)).toBeUndefined();
    expect(await store.docGet(`jobc:${h.id}:1`, later)).toBeUndefined();
    expect(await store.docGet(`jobc:${h.id}:0`, Date.now())).toBeDefined();
  });

  it('calls at the same moment cannot pass a bound between them', async () => {
    const jobs = newJobs({ runningPerClient: 2 });
    const owner = `race-${Date.now()}`;
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => jobs.create(owner, items(2, `race${i}`), undefined)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(
      results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason),
    ).toEqual(
      Array.from({ length: 6 }, () => expect.objectContaining({ bound: 'runningPerClient', current: 2 })),
    );
  });

  it('a job another process marked done or cancelled is never worked again, nor turned back to running', async () => {
    const jobs = newJobs();
    const h = await jobs.create(OWNER, items(5, 'fin'), undefined);
    const cancelled = await jobs.writeHeader(h, { status: 'cancelled' });
    expect(cancelled.status).toBe('cancelled');
    // A stale writer (a runner that read the header before) cannot revive it.
    const stale = await jobs.writeHeader(h, { status: 'running', done: 1 });
    expect(stale.status).toBe('cancelled');
    let calls = 0;
    const runner = start({
      jobs,
      concurrency: 2,
      scanEveryMs: 30,
      lookup: async () => {
        calls++;
        return {};
      },
      notFoundRow: () => ({}),
    });
    runner.kick(h.id);
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(0);
    expect((await jobs.header(h.id))?.status).toBe('cancelled');
  });

  it('while the store cannot be trusted, no job is worked', async () => {
    const jobs = newJobs();
    let healthy = false;
    let calls = 0;
    const runner = start({
      jobs,
      concurrency: 2,
      scanEveryMs: 30,
      canWork: () => healthy,
      lookup: async () => {
        calls++;
        return {};
      },
      notFoundRow: () => ({}),
    });
    const h = await jobs.create(OWNER, items(4, 'deg'), undefined);
    runner.kick(h.id);
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(0);
    healthy = true;
    await until(async () => (await jobs.header(h.id))?.status === 'done');
    expect(calls).toBe(4);
  });

  it('a job paused for its share carries on by itself the same day once admitted', async () => {
    const jobs = newJobs();
    let verdict: 'ok' | 'share' = 'ok';
    let calls = 0;
    const runner = start({
      jobs,
      concurrency: 1,
      scanEveryMs: 30,
      admit: { admit: () => verdict, done: () => {}, allows: () => verdict === 'ok' },
      lookup: async () => {
        calls++;
        if (calls === 3) verdict = 'share';
        return {};
      },
      notFoundRow: () => ({}),
    });
    const h = await jobs.create(OWNER, items(6, 'share'), undefined);
    runner.kick(h.id);
    await until(async () => (await jobs.header(h.id))?.status === 'paused');
    expect(await jobs.header(h.id)).toMatchObject({ pausedFor: 'share', done: 3 });
    verdict = 'ok';
    await until(async () => (await jobs.header(h.id))?.status === 'done');
    expect(calls).toBe(6);
  });

  // The store loses one chunk of a job (a flush, a damaged row, an eviction): on SQLite the row is
  // deleted, on Redis (db 15, shared with others: no FLUSHDB) that job's chunk key, by pattern.
  for (const backend of ['sqlite', 'redis'] as const) {
    it.skipIf(backend === 'redis' && !REDIS_URL)(
      `tallies add up when the store lost part of a job (${backend}): the lost items are counted, the job ends, the answer's tally says so`,
      async () => {
        const own =
          backend === 'sqlite'
            ? openSqliteStore({
                path: join(tmp.dir, 'tally.db'),
                keyspace: keyspace(TEST_KEY),
                cacheMaxBytes: 1e6,
                ownDirectory: false,
                platform: process.platform,
              })
            : await openRedisStore({
                url: REDIS_URL as string,
                keyspace: keyspace(TEST_KEY),
                namespace: REDIS_NAMESPACE,
                cacheMaxBytes: 1e6,
                timeoutMs: 2_000,
                connectWaitMs: 3_000,
              });
        // A server on that store, as index.ts builds one: its runner works the job, vt_triage answers.
        const h = await startHarness({ store: own });
        try {
          const jobs = h.runtime.triage.jobs;
          const job = await jobs.create(LOCAL_CALLER, items(120, 'lost'), undefined);
          if (backend === 'sqlite') await own.docDelete(`jobc:${job.id}:1`);
          else expect(await deleteRedisKeys(`${REDIS_NAMESPACE}:*:doc:jobc:${job.id}:1`)).toBe(1);
          h.runtime.triage.runner.kick(job.id);
          await until(async () => (await jobs.header(job.id))?.status === 'done');
          expect(await jobs.header(job.id)).toMatchObject({ done: 70, failed: 0, lost: 50, total: 120 });
          expect((await jobs.snapshot(job.id, LOCAL_CALLER))?.missing).toBe(50);
          const answer = await h.call('vt_triage', { job: job.id });
          expect(answer.structuredContent).toMatchObject({
            status: 'done',
            total: 120,
            counts: { not_found: 70, lost: 50, pending: 0, failed: 0 },
          });
          const tallyLine = textOf(answer).split('\n')[0] as string;
          expect(tallyLine).toBe(
            `Triage job ${job.id} (done): 120 indicators: 70 not found, 50 lost by the state store.`,
          );
          // Whatever the words, the numbers after the total add up to it.
          const [, total, parts] =
            /^Triage job \w+ \(done\): (\d+) indicators: (.*)\.$/.exec(tallyLine) ?? [];
          const sum = (parts ?? '').split(', ').reduce((n, p) => n + Number(p.split(' ')[0]), 0);
          expect(sum).toBe(Number(total));
        } finally {
          await h.close();
          if (backend === 'redis') await cleanRedis(REDIS_URL as string, REDIS_NAMESPACE);
        }
      },
    );
  }

  it('a store that cannot be read fails every scan: "scan failed" is logged once per cause per period', async () => {
    const inner = openSqliteStore({
      path: join(tmp.dir, 'scan-fails.db'),
      keyspace: keyspace('jobs-key'),
      cacheMaxBytes: 1e6,
      ownDirectory: false,
      platform: process.platform,
    });
    const sw = new SwitchedStore(inner);
    const logs: string[] = [];
    let clock = Date.UTC(2031, 0, 1);
    const failed = (why: RegExp) =>
      logs.filter((l) => l.startsWith('triage jobs: scan failed: ') && why.test(l));
    const scans = async (n: number) => {
      const before = sw.passed;
      // Scans every 20 ms: n of them, whether they reach the store or not.
      await new Promise((r) => setTimeout(r, n * 20 + 100));
      return sw.passed - before;
    };
    sw.mode = 'throw';
    start({
      jobs: new TriageJobs({ store: sw, keepMs: 60_000, limits: WIDE_JOB_LIMITS, now: () => clock }),
      scanEveryMs: 20,
      now: () => clock,
      log: (m) => logs.push(m),
      lookup: async () => ({}),
    });
    await scans(15);
    expect(failed(/switched off/)).toEqual(['triage jobs: scan failed: switched off']);
    // Another cause: the store closed under it (its statements are finalized).
    sw.mode = 'ok';
    await inner.close();
    expect(await scans(15)).toBeGreaterThan(5);
    expect(failed(/statement has been finalized/)).toHaveLength(1);
    expect(logs).toHaveLength(2);
    // Ten minutes on, each is logged again, with how often it came back unlogged.
    clock += 10 * 60_000;
    await scans(5);
    expect(failed(/statement has been finalized/)).toHaveLength(2);
    expect(failed(/statement has been finalized/)[1]).toMatch(
      / \(\d+ more times since 2031-01-01T00:00:00\.000Z, not logged\)$/,
    );
    sw.mode = 'throw';
    await scans(5);
    expect(failed(/switched off/)).toHaveLength(2);
    expect(failed(/switched off/)[1]).toMatch(
      /^triage jobs: scan failed: switched off \(\d+ more times since 2031-01-01T00:00:00\.000Z, not logged\)$/,
    );
    expect(logs).toHaveLength(4);
  });

  it('starts on a store full of jobs by reading their headers only, and works a bounded number at once', async () => {
    const jobs = newJobs();
    const before = (await jobs.list()).length;
    for (let i = 0; i < 12; i++) await jobs.create(`full-${i}`, items(200, `f${i}`), undefined);
    let inFlightJobs = 0;
    let most = 0;
    const active = new Set<string>();
    const runner = start({
      jobs,
      concurrency: 1,
      maxJobs: 3,
      scanEveryMs: 20,
      lookup: async (item) => {
        const job = item.id.split('.')[0]?.replace(/\d+$/, '') ?? '';
        active.add(job);
        inFlightJobs = active.size;
        most = Math.max(most, runner.activeJobs);
        await new Promise((r) => setTimeout(r, 5));
        return {};
      },
      notFoundRow: () => ({}),
    });
    await until(async () => runner.activeJobs > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(most).toBeLessThanOrEqual(3);
    expect(runner.activeJobs).toBeLessThanOrEqual(3);
    expect(inFlightJobs).toBeGreaterThan(0);
    await runner.stop(0);
    expect((await jobs.list()).length).toBe(before + 12);
  });
});
