/**
 * Triage that finishes, end to end through MCP clients against the stand-in, which enforces
 * VirusTotal's window itself: a job of 60 under 4 per 2 s, polled with {job} alone; a server stopped
 * half-way and started again on the same SQLite file; two HTTP replicas on Redis, one of them dying; a
 * job of 1,000 on a 500-a-day cap. Timings are ratios to an ideal from the window plus a latency
 * measured in the same run, on the same clock.
 *
 * The in-process servers (the job of 60, cancel, the daily cap) run on a virtual clock
 * (helpers/virtual-time.ts): the 2 s windows pass in milliseconds. The child processes and the Redis
 * replicas cannot (other processes, Redis's own TTLs): they run in real time on the smallest window
 * the config takes (4 per 1 s), with calls answering within 1 or 2 s (and a 1 s job lease on the
 * replicas), and at the same time as each other.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordedApi, type StandInRequest } from '../src/demo/recorded-api.js';
import { keyspace } from '../src/vt/state/store.js';
import { testClient } from './helpers/client.js';
import { type Harness, startHarness, TEST_KEY, textOf } from './helpers/harness.js';
import { roundTripMs, vtWindow } from './helpers/limits.js';
import { type Replica, startReplica } from './helpers/replica.js';
import { cleanRedis, REDIS_SKIP_REASON, REDIS_URL, randomApiKey, tempDir } from './helpers/state-backends.js';
import { virtualTimeForEachTest } from './helpers/virtual-time.js';

const ENTRY = new URL('../dist/index.js', import.meta.url).pathname;
const recorded = [...new Set((new RecordedApi().objects('file') as Array<{ id: string }>).map((f) => f.id))];
/** Distinct file hashes: the recorded ones, then made-up ones (VirusTotal answers those "not found"). */
const hashes = (n: number, salt = 'x') =>
  Array.from({ length: n }, (_, i) =>
    i < recorded.length && salt === 'x'
      ? (recorded[i] as string)
      : createHash('sha256').update(`${salt}-${i}`).digest('hex'),
  );

interface Structured {
  job: string;
  status: 'running' | 'paused' | 'done' | 'cancelled';
  total: number;
  counts: { pending: number } & Record<string, number>;
  results: Array<{ input: string; verdict: string }>;
  next_cursor?: string;
  plan?: { today: number; later: number; resumes_at: string };
  paused_for?: 'daily_cap' | 'fair_share';
}
const sc = (r: CallToolResult) => r.structuredContent as unknown as Structured;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Requests per file path the stand-in saw (so a test can tell that nothing was looked up twice). */
function perPath(api: RecordedApi): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of api.requests as StandInRequest[]) m.set(r.path, (m.get(r.path) ?? 0) + 1);
  return m;
}

/**
 * In-process servers on a virtual clock, one test at a time: what a test builds is closed before the
 * clock stops (closeFirst), never in the afterAll.
 */
function onVirtualClock(): { harness: typeof startHarness } {
  let hs: Harness[] = [];
  virtualTimeForEachTest({
    closeFirst: async () => {
      await Promise.all(hs.map((h) => h.close()));
      hs = [];
    },
  });
  return {
    harness: async (opts) => {
      const h = await startHarness(opts);
      hs.push(h);
      return h;
    },
  };
}

describe('a job of 60 under 4 per 2 s', () => {
  const virtual = onVirtualClock();
  it('answers at once with a job id, finishes within 1.3× the ideal time, and polls send almost nothing', async () => {
    const vt = vtWindow(4, 2);
    // Each call answers within 10 s (VT_MAX_WAIT_SECONDS), so the model polls as it would on a public key.
    const h = await virtual.harness({
      env: { VT_RATE_LIMIT: '4/2s', VT_MAX_WAIT_SECONDS: '10' },
      api: { hook: vt.hook },
    });
    // Measured on the virtual clock too, as the elapsed time is.
    const latency = await roundTripMs(TEST_KEY, `/files/${recorded[0]}`);
    const list = hashes(60);
    let sent = 0;
    const call = async (args: Record<string, unknown>) => {
      sent += JSON.stringify(args).length;
      return h.call('vt_triage', args);
    };
    const t0 = performance.now();
    const first = await call({ indicators: list });
    const firstMs = performance.now() - t0;
    expect(first.isError, textOf(first)).toBeFalsy();
    const job = sc(first).job;
    expect(job).toMatch(/^[a-z0-9]{12}$/);
    expect(textOf(first)).toContain(`vt_triage {"job":"${job}"}`);
    // Within the call budget (10 s here), with part of the work done and an ETA.
    expect(firstMs).toBeLessThan(10_000 + 2_000);
    expect(sc(first).status).toBe('running');
    expect(sc(first).counts.pending).toBeGreaterThan(0);
    expect(textOf(first)).toMatch(/next lookup (now|in \d+ s), done by about \d{4}-/);
    let polls = 0;
    let last = first;
    while (sc(last).status === 'running' && polls < 20) {
      last = await call({ job });
      polls++;
    }
    const elapsed = performance.now() - t0;
    expect(sc(last).status).toBe('done');
    expect(sc(last).counts.pending).toBe(0);
    expect(sc(last).total).toBe(60);
    expect(vt.rejected()).toBe(0);
    const ideal = 14 * 2000 + latency;
    const listChars = JSON.stringify({ indicators: list }).length;
    console.log(
      `job of 60 under 4/2s: ${Math.round(elapsed)} ms (ratio ${(elapsed / ideal).toFixed(3)}), ${polls} polls, ` +
        `${sent} characters sent for a list of ${listChars} (${(sent / listChars).toFixed(3)}×)`,
    );
    expect(elapsed / ideal).toBeLessThanOrEqual(1.3);
    expect(sent / listChars).toBeLessThanOrEqual(1.2);
    // Every indicator once upstream.
    expect([...perPath(h.api).values()].every((n) => n === 1)).toBe(true);
    expect(h.api.count('/files/')).toBe(60);
    // A page of a done job, and the resource, show the same state.
    const res = await h.client.readResource({ uri: `vt://triage/${job}` });
    expect(String((res.contents[0] as { text: string }).text)).toContain(`Triage job ${job} (done)`);
  }, 120_000);

  it('cancel stops a job, and a poll of an unknown job says so', async () => {
    const vt = vtWindow(4, 2);
    const h = await virtual.harness({
      env: { VT_RATE_LIMIT: '4/2s', VT_MAX_WAIT_SECONDS: '1' },
      api: { hook: vt.hook },
    });
    const first = await h.call('vt_triage', { indicators: hashes(40, 'c') });
    const job = sc(first).job;
    const cancelled = await h.call('vt_triage', { job, cancel: true });
    expect(sc(cancelled).status).toBe('cancelled');
    const count = h.api.count('/files/');
    await new Promise((r) => setTimeout(r, 2_500));
    expect(h.api.count('/files/')).toBeLessThanOrEqual(count + 4);
    expect(sc(await h.call('vt_triage', { job })).status).toBe('cancelled');
    const unknown = await h.call('vt_triage', { job: 'aaaaaaaaaaaa' });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/No triage job aaaaaaaaaaaa/);
    const both = await h.call('vt_triage', { job, indicators: ['github.com'] });
    expect(textOf(both)).toMatch(/either `indicators`.*or `job`/);
  }, 30_000);
});

/**
 * Indicators in each real-time job: four windows of 4 at least (over 3 s), so the job is still running
 * after the first call (2 s) on the stdio server, and after the first call and a poll (1 s each) over HTTP.
 */
const REAL_N = 16;

describe('a server stopped half-way and started again on the same SQLite file', { concurrent: true }, () => {
  it('finishes the job, and no indicator is looked up twice', async () => {
    const key = randomApiKey('jobs-restart');
    const tmp = tempDir('jobs-restart');
    cleanups.push(tmp.remove);
    const vt = vtWindow(4, 1);
    const api = await new RecordedApi({ apiKey: key, hook: vt.hook }).start();
    cleanups.push(() => api.close());
    // Each call answers within 2 s: the first one sees the first window's lookups (perhaps the
    // second's) done, never all of them.
    const env = {
      PATH: process.env.PATH ?? '',
      VIRUSTOTAL_API_KEY: key,
      VIRUSTOTAL_API_URL: api.url,
      VT_RATE_LIMIT: '4/1s',
      VT_MAX_WAIT_SECONDS: '2',
      VT_STATE: `sqlite:${join(tmp.dir, 'state.db')}`,
    };
    const connect = async () => {
      const c = testClient({ name: 'vtbrief-jobs-test', version: '0.0.0' });
      await c.connect(
        new StdioClientTransport({ command: process.execPath, args: [ENTRY], env, stderr: 'pipe' }),
      );
      return c;
    };
    const list = hashes(REAL_N, 'restart');
    const a = await connect();
    const first = (await a.callTool({
      name: 'vt_triage',
      arguments: { indicators: list },
    })) as CallToolResult;
    const job = sc(first).job;
    const doneBefore = REAL_N - sc(first).counts.pending;
    expect(doneBefore).toBeGreaterThan(0);
    expect(doneBefore).toBeLessThan(REAL_N);
    // Closing stdin stops the server as a client does: lookups in flight finish and are written, and
    // the job's lease is given back, so the next server takes the job over at once. (A process that
    // exited half-way through closing kept the lease until it lapsed, 15 s by default: 8 or more polls.)
    await a.close();
    const b = await connect();
    try {
      let last = (await b.callTool({ name: 'vt_triage', arguments: { job } })) as CallToolResult;
      let polls = 1;
      for (; polls < 20 && sc(last).status === 'running'; polls++) {
        last = (await b.callTool({ name: 'vt_triage', arguments: { job } })) as CallToolResult;
      }
      expect(sc(last).status).toBe('done');
      // At most 12 lookups were left: 3 windows of 1 s, within 2 polls of 2 s each; 4 allows for a slow machine.
      expect(polls).toBeLessThanOrEqual(4);
      expect(sc(last).counts.pending).toBe(0);
      const counts = perPath(api);
      expect(counts.size).toBe(REAL_N);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(vt.rejected()).toBe(0);
    } finally {
      await b.close();
    }
  }, 60_000);
});

/** A replica on the Redis under test, each call answering within 1 s, with a short job lease. */
async function replica(key: string, apiUrl: string): Promise<Replica> {
  const r = await startReplica({
    key,
    apiUrl,
    env: { VT_RATE_LIMIT: '4/1s', VT_MAX_WAIT_SECONDS: '1', VT_STATE: REDIS_URL as string },
    jobs: { leaseMs: 1_000, scanEveryMs: 100 },
  });
  cleanups.push(() => r.close());
  return r;
}

describe.skipIf(!REDIS_URL)('two HTTP replicas on Redis', { concurrent: true }, () => {
  it('a job started on one is polled on the other; when the first dies the other takes it over', async () => {
    const key = randomApiKey('jobs-redis');
    cleanups.push(() => cleanRedis(REDIS_URL as string, `vtbrief:${keyspace(key)}`));
    const vt = vtWindow(4, 1);
    const api = await new RecordedApi({ apiKey: key, hook: vt.hook }).start();
    cleanups.push(() => api.close());
    const [a, b] = [await replica(key, api.url), await replica(key, api.url)];
    // The first call and the poll on the other replica take about 2 s: the job (4 windows at least) is
    // still running when the first replica dies.
    const list = hashes(REAL_N, 'replicas');
    const call = async (r: Replica, args: Record<string, unknown>) =>
      sc((await r.client.callTool({ name: 'vt_triage', arguments: args })) as CallToolResult);
    const first = await call(a, { indicators: list });
    expect(first.status).toBe('running');
    // The other replica answers a poll on it.
    const seen = await call(b, { job: first.job });
    expect(seen.job).toBe(first.job);
    expect(seen.total).toBe(REAL_N);
    // The first replica dies holding the job (no lease given back): the other takes it over after the lease.
    a.runtime.triage.runner.abandon();
    let last = seen;
    for (let i = 0; i < 15 && last.status === 'running'; i++) last = await call(b, { job: first.job });
    expect(last.status).toBe('done');
    expect(last.counts.pending).toBe(0);
    expect(perPath(api).size).toBe(REAL_N);
    expect(vt.rejected()).toBe(0);
  }, 60_000);
});
if (!REDIS_URL) console.log(REDIS_SKIP_REASON);

describe('a job of 1,000 on a 500-a-day cap', () => {
  const virtual = onVirtualClock();
  it('states the plan in its first answer, and the count never exceeds the cap', async () => {
    const h = await virtual.harness({
      env: { VT_RATE_LIMIT: 'off', VT_DAILY_QUOTA: '500', VT_MAX_WAIT_SECONDS: '20' },
    });
    const first = await h.call('vt_triage', { indicators: hashes(1000, 'cap') });
    expect(first.isError, textOf(first)).toBeFalsy();
    const s = sc(first);
    expect(s.plan).toMatchObject({ today: 500, later: 500 });
    // It pauses at the cap: no ETA at the window's pace beside the plan.
    expect(s).not.toHaveProperty('eta');
    expect(textOf(first)).toMatch(
      /about 500 lookups today .* the other 500 wait until you carry it on with resume from \d{4}-\d\d-\d\dT00:00:00Z/,
    );
    // The first call waited until the cap paused the job.
    let last = s;
    for (let i = 0; i < 5 && last.status !== 'paused'; i++)
      last = sc(await h.call('vt_triage', { job: s.job }));
    expect(last).toMatchObject({ status: 'paused', paused_for: 'daily_cap' });
    expect(last.counts.pending).toBe(500);
    expect(h.api.count('/files/')).toBe(500);
    await new Promise((r) => setTimeout(r, 500));
    expect(h.api.count('/files/')).toBe(500);
    expect(textOf(await h.call('vt_triage', { job: s.job }))).toMatch(/paused: the day's cap is spent/);
  }, 60_000);
});
