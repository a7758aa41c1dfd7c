/**
 * The bounds on triage jobs every client together (running, kept, indicators, stored bytes) and on one
 * job's bytes, and how long stopped jobs are kept, on real SQLite files (one per test, so the totals
 * are this test's alone) read at a later clock. Each refusal names its bound by its setting, and says
 * when there is room: when a job stops, or at the time the stopped jobs that make room are removed.
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jobLimitText } from '../src/answers/wording.js';
import { loadConfig } from '../src/config.js';
import { JobLimitError, type JobLimits } from '../src/jobs/job-bounds.js';
import type { JobHeader, JobItem } from '../src/jobs/job-schemas.js';
import { JobRunner } from '../src/jobs/runner.js';
import { TriageJobs } from '../src/jobs/triage-jobs.js';
import { createLogger } from '../src/log.js';
import { createRuntime } from '../src/server/runtime.js';
import { notFoundRow } from '../src/summaries/triage.js';
import { isoSeconds } from '../src/util/time.js';
import { openSqliteStore, type SqliteStore } from '../src/vt/state/sqlite.js';
import { keyspace } from '../src/vt/state/store.js';
import { WIDE_JOB_LIMITS } from './helpers/job-limits.js';
import { tempDir } from './helpers/state-backends.js';

const tmp = tempDir('triage-bounds');
afterAll(() => tmp.remove());
const open: SqliteStore[] = [];
const runners: JobRunner[] = [];
afterEach(async () => {
  for (const r of runners.splice(0)) await r.stop(0);
  for (const s of open.splice(0)) await s.close();
});

const HOUR = 3_600_000;
const KEEP = 24 * HOUR;
const T0 = Date.UTC(2031, 4, 6, 9, 0, 0);

let files = 0;
/** Jobs on a SQLite file of their own, on a clock the test moves. */
function onFile(limits: Partial<JobLimits>, keepMs = KEEP) {
  const store = openSqliteStore({
    path: join(tmp.dir, `bounds-${files++}.db`),
    keyspace: keyspace('bounds-key'),
    cacheMaxBytes: 1e6,
    ownDirectory: false,
    platform: process.platform,
  });
  open.push(store);
  const clock = { now: T0 };
  const jobs = new TriageJobs({
    store,
    keepMs,
    limits: { ...WIDE_JOB_LIMITS, ...limits },
    now: () => clock.now,
  });
  return { store, jobs, clock };
}

const items = (n: number, tag: string, inputChars = 0): JobItem[] =>
  Array.from({ length: n }, (_, i) => ({
    input: `${tag}${i}${inputChars ? `/${'p'.repeat(inputChars)}` : ''}`,
    type: 'domain',
    id: `${tag}${i}.example`,
    collection: 'domains',
  }));

/** A job stopped as the runner stops one (its counts from the chunks), at the clock's time. */
async function stop(jobs: TriageJobs, h: JobHeader, status: 'done' | 'cancelled'): Promise<JobHeader> {
  return jobs.writeHeader(h, { status, done: status === 'done' ? h.total : 0 });
}

async function refusal(p: Promise<unknown>): Promise<JobLimitError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JobLimitError);
  return err as JobLimitError;
}

describe('bounds on triage jobs, every client together', () => {
  it('running (VT_TRIAGE_RUNNING_MAX): refused while that many run, whoever runs them; room when one stops', async () => {
    const { jobs, clock } = onFile({ runningTotal: 2 });
    const a = await jobs.create('token:a', items(3, 'ra'), undefined);
    await jobs.create('token:b', items(3, 'rb'), undefined);
    const err = await refusal(jobs.create('token:c', items(3, 'rc'), undefined));
    expect(err).toMatchObject({ bound: 'runningTotal', limit: 2, current: 2, holding: [] });
    // Running jobs free no room with time: the answer says what does.
    expect(err.roomAt).toBeUndefined();
    expect(jobLimitText(err, KEEP)).toBe(
      'No new triage job: 2 triage jobs are running on this server, every client together, the most this ' +
        'server allows (VT_TRIAGE_RUNNING_MAX: 2). There is room again when one of them finishes or is cancelled.',
    );
    // To the owner of one of them, the answer names it.
    const own = await refusal(jobs.create('token:a', items(3, 'ra2'), undefined));
    expect(jobLimitText(own, KEEP)).toContain(`Yours: ${a.id} (running, 0/3 checked);`);
    clock.now += 1_000;
    await stop(jobs, a, 'done');
    expect((await jobs.create('token:c', items(3, 'rc'), undefined)).status).toBe('running');
  });

  it('kept (VT_TRIAGE_KEPT_MAX): refused until the first stopped job is removed, at the time the answer says', async () => {
    const { jobs, clock } = onFile({ storedTotal: 3 });
    const a = await jobs.create('token:a', items(2, 'ka'), undefined);
    const b = await jobs.create('token:b', items(2, 'kb'), undefined);
    await jobs.create('token:c', items(2, 'kc'), undefined);
    clock.now = T0 + 60_000;
    await stop(jobs, b, 'cancelled');
    clock.now = T0 + 120_000;
    await stop(jobs, a, 'done');
    clock.now = T0 + HOUR;
    const err = await refusal(jobs.create('token:d', items(2, 'kd'), undefined));
    // b stopped first: it goes first, 24 h after it stopped.
    const roomAt = T0 + 60_000 + KEEP;
    expect(err).toMatchObject({ bound: 'storedTotal', limit: 3, current: 3, roomAt, roomJobs: 1 });
    expect(jobLimitText(err, KEEP)).toBe(
      'No new triage job: 3 triage jobs are kept on this server, the most this server allows ' +
        `(VT_TRIAGE_KEPT_MAX: 3). The next stopped job is removed at ${isoSeconds(roomAt)} (jobs are kept ` +
        '24 h after they stop), which makes room.',
    );
    clock.now = roomAt - 1;
    await refusal(jobs.create('token:d', items(2, 'kd'), undefined));
    clock.now = roomAt;
    expect((await jobs.create('token:d', items(2, 'kd'), undefined)).status).toBe('running');
    expect(await jobs.header(b.id)).toBeUndefined();
  });

  it('indicators (VT_TRIAGE_INDICATORS_MAX): what the job would add counts, and room comes when enough is removed', async () => {
    const { jobs, clock } = onFile({ indicatorsTotal: 10 });
    const a = await jobs.create('token:a', items(4, 'ia'), undefined);
    const b = await jobs.create('token:b', items(3, 'ib'), undefined);
    await jobs.create('token:c', items(2, 'ic'), undefined);
    clock.now = T0 + 1_000;
    await stop(jobs, a, 'done');
    clock.now = T0 + 2_000;
    await stop(jobs, b, 'done');
    // 9 kept; 6 more pass 10 by 5: a's 4 are not enough, a's and b's are.
    const err = await refusal(jobs.create('token:d', items(6, 'id'), undefined));
    const roomAt = T0 + 2_000 + KEEP;
    expect(err).toMatchObject({
      bound: 'indicatorsTotal',
      limit: 10,
      current: 9,
      adding: 6,
      roomAt,
      roomJobs: 2,
    });
    expect(jobLimitText(err, KEEP)).toBe(
      'No new triage job: 9 indicators are in the triage jobs kept on this server, and this job would add 6, ' +
        'more than this server allows (VT_TRIAGE_INDICATORS_MAX: 10). The stopped jobs that make room are ' +
        `removed one after the other, the last of the 2 at ${isoSeconds(roomAt)} (jobs are kept 24 h after they stop).`,
    );
    // a is gone: 5 kept, still one too many; then b is gone too.
    clock.now = T0 + 1_000 + KEEP;
    const still = await refusal(jobs.create('token:d', items(6, 'id'), undefined));
    expect(still).toMatchObject({ current: 5, roomAt, roomJobs: 1 });
    expect(jobLimitText(still, KEEP)).toContain(
      `The next stopped job is removed at ${isoSeconds(roomAt)} (jobs are kept 24 h after they stop), which makes room.`,
    );
    clock.now = roomAt;
    expect((await jobs.create('token:d', items(6, 'id'), undefined)).total).toBe(6);
  });

  it('stored bytes (VT_TRIAGE_STORE_MB): what the job would add counts; room at the time the answer says', async () => {
    const MB = 1024 * 1024;
    const { jobs, clock } = onFile({ bytesTotal: MB });
    // Long inputs (URLs of 2,000 characters): about 60 KB a job, under a 16th of the MB each.
    const kept: JobHeader[] = [];
    let err: JobLimitError | undefined;
    for (let i = 0; i < 40 && !err; i++) {
      clock.now = T0 + i * 1_000;
      try {
        kept.push(await jobs.create(`token:${i % 3}`, items(14, `by${i}-`, 2_000), undefined));
      } catch (e) {
        err = e as JobLimitError;
      }
    }
    expect(err).toBeInstanceOf(JobLimitError);
    const e = err as JobLimitError;
    const used = kept.reduce((n, h) => n + h.bytes, 0);
    expect(e).toMatchObject({ bound: 'bytesTotal', limit: MB, current: used });
    expect(used).toBeLessThanOrEqual(MB);
    expect(used + (e.adding ?? 0)).toBeGreaterThan(MB);
    // Every job runs still: no time frees room yet.
    expect(e.roomAt).toBeUndefined();
    const mb = (n: number) => (n / MB).toFixed(1);
    expect(jobLimitText(e, KEEP)).toMatch(
      new RegExp(
        `^No new triage job: ${mb(used).replace('.', '\\.')} MB of the state store are taken by triage jobs, and this ` +
          `job would add ${mb(e.adding ?? 0).replace('.', '\\.')} MB, more than this server allows ` +
          '\\(VT_TRIAGE_STORE_MB: 1\\.0\\)\\. There is room again when a job stops and its keeping time runs out\\.',
      ),
    );
    // The first two stop; the one that stopped first is removed first, and that makes room.
    clock.now = T0 + 100_000;
    await stop(jobs, kept[1] as JobHeader, 'done');
    clock.now = T0 + 200_000;
    await stop(jobs, kept[0] as JobHeader, 'cancelled');
    const timed = await refusal(jobs.create('token:x', items(14, 'last-', 2_000), undefined));
    const roomAt = T0 + 100_000 + KEEP;
    expect(timed).toMatchObject({ bound: 'bytesTotal', roomAt, roomJobs: 1 });
    expect(jobLimitText(timed, KEEP)).toContain(
      `(VT_TRIAGE_STORE_MB: 1.0). The next stopped job is removed at ${isoSeconds(roomAt)} (jobs are kept 24 h after they stop), which makes room.`,
    );
    clock.now = roomAt;
    expect((await jobs.create('token:x', items(14, 'last-', 2_000), undefined)).status).toBe('running');
  });

  it('bytes of one job (a 16th of VT_TRIAGE_STORE_MB): refused whatever is kept, with what to do instead', async () => {
    const MB = 1024 * 1024;
    const { jobs } = onFile({ bytesTotal: MB });
    // 40 URLs of 2,000 characters: about 170 KB with their results, over 64 KB.
    const err = await refusal(jobs.create('token:a', items(40, 'big', 2_000), undefined));
    expect(err).toMatchObject({ bound: 'bytesPerJob', limit: MB / 16 });
    expect(err.current).toBeGreaterThan(MB / 16);
    expect(err.roomAt).toBeUndefined();
    expect(jobLimitText(err, KEEP)).toBe(
      `No new triage job: ${(err.current / MB).toFixed(1)} MB of the state store would be taken by this job with ` +
        'its results, more than this server allows (one job: a 16th of VT_TRIAGE_STORE_MB, in MB: 0.1). Split the ' +
        'list into smaller jobs (the inputs are kept as given: very long URLs take room).',
    );
    expect(await jobs.list()).toEqual([]);
  });
});

describe('how long stopped jobs are kept (VT_TRIAGE_KEEP_HOURS)', () => {
  it('24 h unless set: the config, and the jobs the runtime builds from it', async () => {
    const config = loadConfig({ VIRUSTOTAL_API_KEY: 'k'.repeat(64) }, []);
    expect(config.triageKeepHours).toBe(24);
    const runtime = createRuntime(config, createLogger({ level: 'error', write: () => {} }));
    try {
      expect(runtime.triage.jobs.keepMs).toBe(KEEP);
    } finally {
      await runtime.close();
    }
    expect(
      loadConfig({ VIRUSTOTAL_API_KEY: 'k'.repeat(64), VT_TRIAGE_KEEP_HOURS: '2' }, []).triageKeepHours,
    ).toBe(2);
  });

  it('a job done, cancelled, or paused (the day’s cap, its share of the day) is gone, every document of it, once kept that long', async () => {
    const { store, jobs, clock } = onFile({});
    const verdicts = new Map<string, 'ok' | 'daily' | 'share'>();
    const runner = new JobRunner({
      jobs,
      concurrency: 2,
      scanEveryMs: 30,
      now: () => clock.now,
      // The first three of a job are looked up; then its owner's day (or share of it) is spent.
      admit: {
        admit: (owner) => verdicts.get(owner) ?? 'ok',
        done: () => {},
        allows: () => false,
      },
      lookup: async (item) => {
        if (item.input.endsWith('2')) {
          const owner = item.input.startsWith('daily') ? 'token:daily' : 'token:share';
          verdicts.set(owner, owner === 'token:daily' ? 'daily' : 'share');
        }
        return notFoundRow(item.input, item.type, item.id);
      },
      notFoundRow: (item) => notFoundRow(item.input, item.type, item.id),
    }).start();
    runners.push(runner);
    const until = async (id: string, status: string) => {
      const end = Date.now() + 10_000;
      while ((await jobs.header(id))?.status !== status) {
        if (Date.now() > end) throw new Error(`job ${id} is not ${status}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // Over 50 indicators: two chunks each, both must go.
    const done = await jobs.create('token:done', items(60, 'done'), undefined);
    runner.kick(done.id);
    await until(done.id, 'done');
    const daily = await jobs.create('token:daily', items(60, 'daily'), undefined);
    runner.kick(daily.id);
    await until(daily.id, 'paused');
    const share = await jobs.create('token:share', items(60, 'share'), undefined);
    runner.kick(share.id);
    await until(share.id, 'paused');
    await runner.stop(0);
    const cancelled = await jobs.create('token:cancel', items(60, 'cancel'), undefined);
    await jobs.writeHeader(cancelled, { status: 'cancelled' });
    expect(await jobs.header(daily.id)).toMatchObject({ pausedFor: 'daily' });
    expect(await jobs.header(share.id)).toMatchObject({ pausedFor: 'share' });
    const ids = [done.id, daily.id, share.id, cancelled.id];
    const docs = (id: string) => [`job:${id}`, `jobc:${id}:0`, `jobc:${id}:1`];

    // Every one stopped at T0 (the clock did not move): kept until T0 + 24 h, not a moment longer.
    const before = T0 + KEEP - 1;
    for (const id of ids) {
      for (const key of docs(id)) expect(await store.docGet(key, before), key).toBeDefined();
    }
    expect((await store.docList('job:', before)).length).toBe(4);
    for (const id of ids) {
      for (const key of docs(id)) expect(await store.docGet(key, T0 + KEEP), key).toBeUndefined();
    }
    expect(await store.docList('job:', T0 + KEEP)).toEqual([]);
    clock.now = T0 + KEEP;
    expect(await jobs.list()).toEqual([]);
    expect(await jobs.snapshot(done.id, 'token:done')).toBeUndefined();
  });

  it('a paused job carried on late in its keeping time keeps every item while it runs on past it', async () => {
    const { jobs, clock } = onFile({});
    let capped = false;
    const runner = new JobRunner({
      jobs,
      concurrency: 1,
      scanEveryMs: 30,
      now: () => clock.now,
      admit: { admit: () => (capped ? 'daily' : 'ok'), done: () => {}, allows: () => false },
      lookup: async (item) => {
        if (item.input === 'late2') capped = true;
        return notFoundRow(item.input, item.type, item.id);
      },
      notFoundRow: (item) => notFoundRow(item.input, item.type, item.id),
    }).start();
    runners.push(runner);
    const h = await jobs.create('token:late', items(120, 'late'), undefined);
    runner.kick(h.id);
    const until = async (status: string) => {
      const end = Date.now() + 10_000;
      while ((await jobs.header(h.id))?.status !== status) {
        if (Date.now() > end) throw new Error(`not ${status}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until('paused');
    expect(await jobs.header(h.id)).toMatchObject({ pausedFor: 'daily', done: 3 });
    // Its owner carries it on an hour before it would have been removed (as vt_triage resume does),
    // and the lookups go on past that time (a day's quota takes hours at a public key's pace).
    clock.now = T0 + KEEP - HOUR;
    capped = false;
    const paused = await jobs.header(h.id);
    await jobs.writeHeader(paused as JobHeader, { status: 'running' });
    clock.now = T0 + KEEP + HOUR;
    runner.kick(h.id);
    await until('done');
    expect(await jobs.header(h.id)).toMatchObject({ done: 120, failed: 0, total: 120 });
    expect((await jobs.header(h.id))?.lost ?? 0).toBe(0);
    const snap = await jobs.snapshot(h.id, 'token:late');
    expect(snap?.missing).toBe(0);
    expect(snap?.states.every((st) => st.s === 'done')).toBe(true);
  });
});
