/**
 * The day's fair share across replicas: two HTTP replicas of one key, each with a store of its own
 * opened on the same state (one real Redis db, or one real SQLite file), token A's large triage job on
 * replica 1, token B's lookups on replica 2. B is active on another replica than the job's, and still
 * counts: the job pauses at its share (half the day's cap) and B is never refused for the day.
 *
 * The stand-in answers each lookup after 150 ms and each replica sends two at a time, so the job's
 * share takes a couple of seconds to spend and B's lookups come while it runs.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { ACTIVITY_PREFIX } from '../src/vt/fair-share.js';
import { keyspace } from '../src/vt/state/store.js';
import { textOf } from './helpers/harness.js';
import { slowUpstream } from './helpers/limits.js';
import { type Replica, startReplica } from './helpers/replica.js';
import { cleanRedis, REDIS_SKIP_REASON, REDIS_URL, randomApiKey, tempDir } from './helpers/state-backends.js';

const A = 'tok-alice-0123456789abcdef';
const B = 'tok-bob-0123456789abcdef00';
const QUOTA = 50;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const hashes = (n: number, salt: string) =>
  Array.from({ length: n }, (_, i) => createHash('sha256').update(`${salt}-${i}`).digest('hex'));

interface Job {
  job: string;
  status: string;
  counts: Record<string, number>;
  paused_for?: string;
}
/** Upstream lookups of any of these hashes. */
const spentOn = (api: RecordedApi, of: readonly string[]) => {
  const set = new Set(of.map((h) => `/files/${h}`));
  return api.requests.filter((r) => set.has(r.path)).length;
};
const job = (r: CallToolResult) => r.structuredContent as unknown as Job;
const call = (c: Client, name: string, args: Record<string, unknown>) =>
  c.callTool({ name, arguments: args }, undefined, { timeout: 30_000 }) as Promise<CallToolResult>;

async function twoReplicas(
  key: string,
  state: string,
): Promise<{ api: RecordedApi; r1: Replica; r2: Replica }> {
  const api = await new RecordedApi({ apiKey: key, hook: slowUpstream(150).hook }).start();
  cleanups.push(() => api.close());
  const env = {
    VT_STATE: state,
    VT_MCP_AUTH_TOKEN: `${A},${B}`,
    VT_DAILY_QUOTA: String(QUOTA),
    VT_RATE_LIMIT: 'off',
    VT_MAX_CONCURRENCY: '2',
    // B's lookups are many in a short time: its minute is not what this test is about.
    VT_MCP_CLIENT_RATE: '1000',
    // A call on a job answers within a second, so the job is followed while it runs.
    VT_MAX_WAIT_SECONDS: '1',
  };
  const [r1, r2] = await Promise.all([
    startReplica({ key, apiUrl: api.url, env, token: A }),
    startReplica({ key, apiUrl: api.url, env, token: B }),
  ]);
  cleanups.push(
    () => r1.close(),
    () => r2.close(),
  );
  return { api, r1, r2 };
}

/** The scenario, on two replicas of one state. */
async function aJobAndAnotherReplicasClient(state: string, key: string): Promise<void> {
  const { api, r1, r2 } = await twoReplicas(key, state);
  const alice = r1.client;
  const bob = r2.client;
  const lookups = () => api.count('/files/');

  // B is active on replica 2 first; its activity is in the shared store (read through replica 2's own
  // store, so replica 1 has not looked yet: it learns of B when its job asks).
  expect((await call(bob, 'vt_quota', {})).isError).toBeFalsy();
  await expect
    .poll(async () => (await r2.runtime.store.docList(ACTIVITY_PREFIX, Date.now())).length, {
      timeout: 5_000,
    })
    .toBe(1);

  const aliceHashes = hashes(100, 'alice');
  const started = job(await call(alice, 'vt_triage', { indicators: aliceHashes }));
  expect(started.status).toBe('running');

  // While A's job runs, B looks up on replica 2: each lookup is served (one more upstream request).
  let status = started;
  const bobHashes = hashes(QUOTA, 'bob');
  let next = 0;
  let bobWhileRunning = 0;
  const bobLooksUp = async () => {
    const before = lookups();
    const r = await call(bob, 'vt_get_report', { indicator: bobHashes[next++] as string });
    expect(textOf(r), `B is not refused for the day (${before} of ${QUOTA} spent)`).not.toMatch(/daily cap/i);
    expect(lookups()).toBeGreaterThan(before);
  };
  const deadline = Date.now() + 20_000;
  await Promise.all([
    (async () => {
      while (status.status === 'running' && Date.now() < deadline)
        status = job(await call(alice, 'vt_triage', { job: started.job }));
    })(),
    (async () => {
      while (status.status === 'running' && Date.now() < deadline) {
        await bobLooksUp();
        bobWhileRunning++;
      }
    })(),
  ]);
  expect(bobWhileRunning).toBeGreaterThan(0);
  // The job pauses for its share, not for the day: it spent at most half the cap (the day's count,
  // everyone's lookups together, reached half), and not much less than half with B's lookups counted.
  expect(status).toMatchObject({ status: 'paused', paused_for: 'fair_share' });
  const aliceSpent = spentOn(api, aliceHashes);
  expect(aliceSpent).toBeLessThanOrEqual(QUOTA / 2);
  expect(aliceSpent + spentOn(api, bobHashes)).toBeGreaterThanOrEqual(QUOTA / 2);
  expect(status.counts.pending).toBeGreaterThan(0);

  // The rest of the day is B's: every lookup up to the cap is served.
  while (lookups() < QUOTA) await bobLooksUp();
  expect(lookups()).toBe(QUOTA);
  // The job is still paused: it did not take B's part once B's lookups slowed down.
  expect(job(await call(alice, 'vt_triage', { job: started.job })).status).toBe('paused');
}

describe('the day shared fairly across replicas', () => {
  it.skipIf(!REDIS_URL)(
    "two replicas on one Redis: A's job on replica 1 pauses at its share, B on replica 2 is never refused for the day",
    async () => {
      const key = randomApiKey('fair-redis');
      cleanups.push(() => cleanRedis(REDIS_URL as string, `vtbrief:${keyspace(key)}`));
      await aJobAndAnotherReplicasClient(REDIS_URL as string, key);
    },
    60_000,
  );

  it("two replicas on one SQLite file: A's job on replica 1 pauses at its share, B on replica 2 is never refused for the day", async () => {
    const tmp = tempDir('fair-sqlite');
    cleanups.push(tmp.remove);
    await aJobAndAnotherReplicasClient(`sqlite:${join(tmp.dir, 'state.db')}`, randomApiKey('fair-sqlite'));
  }, 60_000);
});
if (!REDIS_URL) console.log(REDIS_SKIP_REASON);
