/** The triage job engine on a real store (SQLite file): results, not-found, cancel, the daily cap, handover. */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { JobRunner } from '../src/jobs/runner.js';
import { type JobItem, TriageJobs } from '../src/jobs/triage-jobs.js';
import { VtError } from '../src/vt/errors.js';
import { openSqliteStore } from '../src/vt/state/sqlite.js';
import { keyspace } from '../src/vt/state/store.js';
import { tempDir } from './helpers/state-backends.js';

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

// A runner left running by a failed test would take the next test's jobs: every test's runners stop.
const runners: JobRunner[] = [];
afterEach(async () => {
  for (const r of runners.splice(0)) await r.stop(0);
});
const track = (r: JobRunner) => {
  runners.push(r);
  return r;
};

describe('JobRunner', () => {
  it('runs a job to the end: rows, not-found rows, failures after retries', async () => {
    const jobs = new TriageJobs({ store, keepMs: 60_000 });
    const seen: string[] = [];
    const runner = track(
      new JobRunner({
        jobs,
        concurrency: 3,
        scanEveryMs: 50,
        lookup: async (item) => {
          seen.push(item.id);
          if (item.input === 'x3') throw new VtError('not_found', 'nf');
          if (item.input === 'x5') throw new VtError('transient', 'boom');
          return { verdict: 'undetected', id: item.id };
        },
        notFoundRow: (item) => ({ verdict: 'not_found', id: item.id }),
      }).start(),
    );
    const h = await jobs.create(items(60), { skipped: 1 });
    runner.kick(h.id);
    await until(async () => (await jobs.header(h.id))?.status === 'done');
    const snap = await jobs.snapshot(h.id);
    expect(snap?.header).toMatchObject({ total: 60, done: 59, failed: 1, notes: { skipped: 1 } });
    expect(snap?.states[3]).toMatchObject({ s: 'done', row: { verdict: 'not_found' } });
    expect(snap?.states[5]).toMatchObject({ s: 'failed', error: 'transient' });
    // Each item once, the failing one twice (the gateway has retried each try already).
    expect(seen.filter((s) => s === 'x5.example')).toHaveLength(2);
    expect(new Set(seen).size).toBe(60);
    expect(seen.length).toBe(61);
    await runner.stop();
  });

  it('stops on cancel, and holds a job at the daily cap until the reset', async () => {
    const jobs = new TriageJobs({ store, keepMs: 60_000 });
    let calls = 0;
    let resetAt = 0;
    const runner = track(
      new JobRunner({
        jobs,
        concurrency: 1,
        scanEveryMs: 50,
        lookup: async (item) => {
          calls++;
          if (item.input.startsWith('cap') && calls === 3) {
            resetAt = Date.now() + 400;
            throw new VtError('quota', 'daily', { quotaScope: 'daily', resetAt: new Date(resetAt) });
          }
          await new Promise((r) => setTimeout(r, 20));
          return { ok: item.id };
        },
        notFoundRow: () => ({}),
      }).start(),
    );
    const capped = await jobs.create(items(6, 'cap'), undefined);
    runner.kick(capped.id);
    await until(async () => (await jobs.header(capped.id))?.notBefore !== undefined);
    const held = await jobs.header(capped.id);
    expect(held?.done).toBe(2);
    expect(held?.status).toBe('running');
    await until(async () => (await jobs.header(capped.id))?.status === 'done');
    expect(Date.now()).toBeGreaterThanOrEqual(resetAt);

    const long = await jobs.create(items(40, 'c'), undefined);
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
    const jobs = new TriageJobs({ store, keepMs: 60_000 });
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
    const h = await jobs.create(items(30, 'h'), undefined);
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
});
