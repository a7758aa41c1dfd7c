/**
 * One contract, three backends: memory (the reference), SQLite (a temp file) and Redis (a real server
 * at VT_TEST_REDIS_URL; skipped with a printed reason when it is not set, failing when it is set and
 * Redis does not answer). Times are a fake clock passed to every call.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { keyspace, type StateStore, utcDay, type WindowSpec } from '../src/vt/state/store.js';
import {
  type Backend,
  memoryBackend,
  randomApiKey,
  redisBackend,
  sqliteBackend,
  tellRedisSkipped,
} from './helpers/state-backends.js';

tellRedisSkipped();

const T0 = Date.UTC(2031, 2, 3, 10, 0, 0);
const MIN = 60_000;

describe('keyspace()', () => {
  it('is 32 hex characters, stable, different per key, and does not contain the key', () => {
    const k = randomApiKey('canary');
    expect(keyspace(k)).toMatch(/^[0-9a-f]{32}$/);
    expect(keyspace(k)).toBe(keyspace(k));
    expect(keyspace(k)).not.toBe(keyspace(`${k}x`));
    expect(keyspace(k)).not.toContain(k.slice(7, 23));
  });
});

for (const make of [memoryBackend, sqliteBackend, redisBackend]) {
  const backend: Backend = make();
  describe.skipIf(backend.skip !== undefined)(`StateStore contract: ${backend.name}`, () => {
    const open: StateStore[] = [];
    const store = async (apiKey = randomApiKey(), cacheMaxBytes?: number) => {
      const s = await backend.open(apiKey, cacheMaxBytes);
      open.push(s);
      return s;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    afterAll(async () => {
      await backend.cleanup();
    });

    it('names its kind and location', async () => {
      const s = await store();
      expect(s.kind).toBe(backend.name);
      expect(s.health().kind).toBe(backend.name);
      expect(s.health().shared).toBe(backend.name !== 'memory');
      expect(s.location).not.toMatch(/password|@/);
      await s.ping();
    });

    it('grants the window, refuses one more until the oldest settled slot frees', async () => {
      const s = await store();
      const w: WindowSpec = { requests: 3, seconds: 60 };
      const slots: string[] = [];
      for (let i = 0; i < 3; i++) {
        const a = await s.acquire({ now: T0, window: w, leaseMs: 30_000 });
        expect(a.granted).toBe(true);
        if (a.granted) {
          slots.push(a.slot);
          expect(a.dayUsed).toBe(i + 1);
        }
      }
      for (const [i, slot] of slots.entries()) await s.settle(slot, T0 + 100 * (i + 1), w);
      const refused = await s.acquire({ now: T0 + 400, window: w, leaseMs: 30_000 });
      expect(refused).toEqual({ granted: false, reason: 'window', retryAt: T0 + 100 + MIN });
      const u = await s.usage(T0 + 400, w);
      expect(u).toMatchObject({ windowUsed: 3, nextFreeAt: T0 + 100 + MIN, dayUsed: 3, day: utcDay(T0) });
      expect(u.pausedUntil).toBeUndefined();
      // When each live slot frees, earliest first: what the limiter's estimates start from.
      expect(u.frees).toEqual([T0 + 100 + MIN, T0 + 200 + MIN, T0 + 300 + MIN]);
      expect((await s.usage(T0 + 400)).frees).toBeUndefined();
      // Not a millisecond early; at the time it names, it is granted.
      expect((await s.acquire({ now: T0 + 99 + MIN, window: w, leaseMs: 30_000 })).granted).toBe(false);
      expect((await s.acquire({ now: T0 + 100 + MIN, window: w, leaseMs: 30_000 })).granted).toBe(true);
      expect(await s.acquire({ now: T0 + 100 + MIN, window: w, leaseMs: 30_000 })).toEqual({
        granted: false,
        reason: 'window',
        retryAt: T0 + 200 + MIN,
      });
      // With no window given, the window is not checked (the day count still is).
      expect((await s.acquire({ now: T0 + 100 + MIN, leaseMs: 30_000 })).granted).toBe(true);
    });

    it('settle moves the slot’s free time from its lease to answeredAt + window', async () => {
      const s = await store();
      const w: WindowSpec = { requests: 1, seconds: 60 };
      const a = await s.acquire({ now: T0, window: w, leaseMs: 5_000 });
      if (!a.granted) throw new Error('not granted');
      // A pending slot is listed at its lease's end when that comes before a window from now.
      expect((await s.usage(T0 + 1, w)).frees).toEqual([T0 + 5_000]);
      // Pending: it frees at its lease's end at the latest.
      expect(await s.acquire({ now: T0 + 1, window: w, leaseMs: 5_000 })).toEqual({
        granted: false,
        reason: 'window',
        retryAt: T0 + 5_000,
      });
      await s.settle(a.slot, T0 + 1_000, w);
      expect(await s.acquire({ now: T0 + 2_000, window: w, leaseMs: 5_000 })).toEqual({
        granted: false,
        reason: 'window',
        retryAt: T0 + 1_000 + MIN,
      });
      expect((await s.acquire({ now: T0 + 5_001, window: w, leaseMs: 5_000 })).granted).toBe(false);
      expect((await s.acquire({ now: T0 + 1_000 + MIN, window: w, leaseMs: 5_000 })).granted).toBe(true);
    });

    it('a pending slot estimates min(lease end, now + window) when the lease is longer', async () => {
      const s = await store();
      const w: WindowSpec = { requests: 1, seconds: 10 };
      await s.acquire({ now: T0, window: w, leaseMs: 60_000 });
      expect(await s.acquire({ now: T0 + 1_000, window: w, leaseMs: 60_000 })).toEqual({
        granted: false,
        reason: 'window',
        retryAt: T0 + 11_000,
      });
    });

    it('a large window: the live count is exact and the frees are the earliest 64, pending and settled mixed', async () => {
      const s = await store();
      const big: WindowSpec = { requests: 100_000, seconds: 60 };
      const expected: number[] = [];
      // 300 slots a millisecond apart; every third stays pending (lease 40 s: it frees at its lease's
      // end), the others are answered at once (they free a window after).
      for (let i = 0; i < 300; i++) {
        const now = T0 + i;
        const a = await s.acquire({ now, window: big, leaseMs: 40_000 });
        if (!a.granted) throw new Error('not granted');
        if (i % 3 === 0) expected.push(now + 40_000);
        else {
          await s.settle(a.slot, now, big);
          expected.push(now + MIN);
        }
      }
      expected.sort((x, y) => x - y);
      const u = await s.usage(T0 + 300, big);
      expect(u.windowUsed).toBe(300);
      expect(u.nextFreeAt).toBeUndefined();
      expect(u.frees).toEqual(expected.slice(0, 64));
    });

    it('an over-full window (smaller than the slots it holds): retry when the slot that opens it frees', async () => {
      const s = await store();
      const wide: WindowSpec = { requests: 200, seconds: 60 };
      for (let i = 0; i < 200; i++) {
        const a = await s.acquire({ now: T0 + i, window: wide, leaseMs: 30_000 });
        if (!a.granted) throw new Error('not granted');
        await s.settle(a.slot, T0 + i, wide);
      }
      // The window shrinks to 100 (VT_RATE_LIMIT changed): 101 slots must free before one is granted,
      // the 101st at T0 + 100 + a minute (further than the 64 frees a usage lists).
      const narrow: WindowSpec = { requests: 100, seconds: 60 };
      const u = await s.usage(T0 + 500, narrow);
      expect(u.windowUsed).toBe(200);
      expect(u.nextFreeAt).toBe(T0 + 100 + MIN);
      expect(u.frees).toHaveLength(64);
      expect(await s.acquire({ now: T0 + 500, window: narrow, leaseMs: 30_000 })).toEqual({
        granted: false,
        reason: 'window',
        retryAt: T0 + 100 + MIN,
      });
    });

    it('refund frees the slot and gives back the day’s count, once', async () => {
      const s = await store();
      const w: WindowSpec = { requests: 2, seconds: 60 };
      const q = { window: w, dailyQuota: 2, leaseMs: 30_000 };
      const a = await s.acquire({ now: T0, ...q });
      const b = await s.acquire({ now: T0, ...q });
      if (!a.granted || !b.granted) throw new Error('not granted');
      expect((await s.acquire({ now: T0, ...q })).granted).toBe(false);
      await s.refund(b.slot, T0 + 10);
      await s.refund(b.slot, T0 + 10);
      expect(await s.usage(T0 + 10, w)).toMatchObject({ windowUsed: 1, dayUsed: 1 });
      const c = await s.acquire({ now: T0 + 20, ...q });
      expect(c.granted && c.dayUsed).toBe(2);
      await s.settle(a.slot, T0 + 30, w);
      expect((await s.usage(T0 + 30, w)).dayUsed).toBe(2);
    });

    it('a slot whose process died (never settled) frees when its lease expires', async () => {
      const s = await store();
      const w: WindowSpec = { requests: 1, seconds: 60 };
      expect((await s.acquire({ now: T0, window: w, leaseMs: 10_000 })).granted).toBe(true);
      expect(await s.acquire({ now: T0 + 5_000, window: w, leaseMs: 10_000 })).toEqual({
        granted: false,
        reason: 'window',
        retryAt: T0 + 10_000,
      });
      expect((await s.usage(T0 + 10_000, w)).windowUsed).toBe(0);
      expect((await s.acquire({ now: T0 + 10_000, window: w, leaseMs: 10_000 })).granted).toBe(true);
    });

    it('caps the day (UTC) and resets at 00:00 UTC', async () => {
      const s = await store();
      const late = Date.UTC(2031, 2, 3, 23, 59, 0);
      const midnight = Date.UTC(2031, 2, 4);
      for (let i = 0; i < 3; i++)
        expect((await s.acquire({ now: late, dailyQuota: 3, leaseMs: 1_000 })).granted).toBe(true);
      expect(await s.acquire({ now: late + 1, dailyQuota: 3, leaseMs: 1_000 })).toEqual({
        granted: false,
        reason: 'daily',
        retryAt: midnight,
      });
      expect(await s.usage(late + 2)).toMatchObject({ dayUsed: 3, day: '2031-03-03' });
      const next = await s.acquire({ now: midnight, dailyQuota: 3, leaseMs: 1_000 });
      expect(next.granted && next.dayUsed).toBe(1);
      expect(await s.usage(midnight + 1)).toMatchObject({ dayUsed: 1, day: '2031-03-04' });
    });

    it('honours a pause (the longest wins) with retryAt at its end', async () => {
      const s = await store();
      const w: WindowSpec = { requests: 10, seconds: 60 };
      await s.pause(T0 + 5_000, T0);
      await s.pause(T0 + 3_000, T0);
      expect(await s.acquire({ now: T0 + 1_000, window: w, leaseMs: 1_000 })).toEqual({
        granted: false,
        reason: 'paused',
        retryAt: T0 + 5_000,
      });
      await s.pause(T0 + 8_000, T0 + 1_000);
      expect((await s.usage(T0 + 6_000, w)).pausedUntil).toBe(T0 + 8_000);
      expect(await s.acquire({ now: T0 + 6_000, leaseMs: 1_000 })).toMatchObject({
        reason: 'paused',
        retryAt: T0 + 8_000,
      });
      expect((await s.acquire({ now: T0 + 8_000, window: w, leaseMs: 1_000 })).granted).toBe(true);
      expect((await s.usage(T0 + 8_000, w)).pausedUntil).toBeUndefined();
    });

    it('the daily refusal comes before the pause and the window', async () => {
      const s = await store();
      const w: WindowSpec = { requests: 1, seconds: 60 };
      await s.acquire({ now: T0, window: w, dailyQuota: 1, leaseMs: 1_000 });
      await s.pause(T0 + 5_000, T0);
      expect(await s.acquire({ now: T0 + 1, window: w, dailyQuota: 1, leaseMs: 1_000 })).toMatchObject({
        reason: 'daily',
      });
      expect(await s.acquire({ now: T0 + 1, window: w, dailyQuota: 2, leaseMs: 1_000 })).toMatchObject({
        reason: 'paused',
      });
    });

    it('files one cache entry under all its ids (md5, sha1, sha256)', async () => {
      const s = await store();
      const sha256 = `/files/${'a'.repeat(64)}`;
      const md5 = `/files/${'b'.repeat(32)}`;
      const sha1 = `/files/${'c'.repeat(40)}`;
      const body = JSON.stringify({ data: { id: 'a'.repeat(64), attributes: { names: ['é ✓ 𝄞'] } } });
      await s.cacheSet([sha256, md5, sha1], { body, fetchedAt: T0 }, 60_000, T0);
      for (const k of [sha256, md5, sha1])
        expect(await s.cacheGet(k, T0 + 1)).toEqual({ body, fetchedAt: T0 });
      expect(await s.cacheStats()).toMatchObject({ entries: 1 });
      expect((await s.cacheStats()).bytes).toBeGreaterThanOrEqual(Buffer.byteLength(body));
      expect(await s.cacheGet(`/files/${'d'.repeat(64)}`, T0 + 1)).toBeUndefined();
      // Refiled under the canonical id alone: the old entry goes whole, aliases with it.
      await s.cacheSet([sha256], { body: '{"v":2}', fetchedAt: T0 + 5 }, 60_000, T0 + 5);
      expect(await s.cacheGet(sha256, T0 + 6)).toEqual({ body: '{"v":2}', fetchedAt: T0 + 5 });
      expect(await s.cacheGet(md5, T0 + 6)).toBeUndefined();
      expect(await s.cacheStats()).toMatchObject({ entries: 1 });
      // Filed again under an alias of another entry: that entry is replaced.
      await s.cacheSet(['/files/other', sha256], { body: '{"v":3}', fetchedAt: T0 + 7 }, 60_000, T0 + 7);
      expect(await s.cacheGet(sha256, T0 + 8)).toEqual({ body: '{"v":3}', fetchedAt: T0 + 7 });
      expect(await s.cacheStats()).toMatchObject({ entries: 1 });
    });

    it('expires cache entries at their TTL and keeps not-found answers as such', async () => {
      const s = await store();
      await s.cacheSet(['/domains/a.example'], { body: '{}', fetchedAt: T0 }, 1_000, T0);
      expect(await s.cacheGet('/domains/a.example', T0 + 999)).toBeDefined();
      expect(await s.cacheGet('/domains/a.example', T0 + 1_000)).toBeUndefined();
      await s.cacheSet([`/files/${'e'.repeat(64)}`], { body: '', fetchedAt: T0, notFound: true }, 5_000, T0);
      expect(await s.cacheGet(`/files/${'e'.repeat(64)}`, T0 + 1)).toEqual({
        body: '',
        fetchedAt: T0,
        notFound: true,
      });
      // A TTL of 0 stores nothing.
      await s.cacheSet(['/urls/x'], { body: '{}', fetchedAt: T0 }, 0, T0);
      expect(await s.cacheGet('/urls/x', T0)).toBeUndefined();
    });

    it('keeps the cache within its size bound, evicting the oldest stored', async () => {
      const s = await store(randomApiKey(), 1_000);
      const body = 'x'.repeat(300);
      for (let i = 1; i <= 5; i++) {
        await s.cacheSet([`/ip_addresses/10.0.0.${i}`], { body, fetchedAt: T0 + i }, 60_000, T0 + i);
        expect((await s.cacheStats()).bytes).toBeLessThanOrEqual(1_000);
      }
      expect(await s.cacheStats()).toMatchObject({ entries: 3 });
      expect(await s.cacheGet('/ip_addresses/10.0.0.1', T0 + 10)).toBeUndefined();
      expect(await s.cacheGet('/ip_addresses/10.0.0.2', T0 + 10)).toBeUndefined();
      for (const i of [3, 4, 5]) expect(await s.cacheGet(`/ip_addresses/10.0.0.${i}`, T0 + 10)).toBeDefined();
      // Larger than the whole bound (even deflated: random bytes do not compress): not stored, nothing
      // else evicted.
      const big = randomBytes(1_200).toString('base64');
      await s.cacheSet(['/ip_addresses/big'], { body: big, fetchedAt: T0 }, 60_000, T0 + 11);
      expect(await s.cacheGet('/ip_addresses/big', T0 + 12)).toBeUndefined();
      expect(await s.cacheStats()).toMatchObject({ entries: 3 });
    });

    it('leases: exclusive, renewed by their owner, free at expiry or release', async () => {
      const s = await store();
      expect(await s.lease('fetch:/files/x', 'A', 1_000, T0)).toBe(true);
      expect(await s.lease('fetch:/files/x', 'B', 1_000, T0 + 10)).toBe(false);
      expect(await s.lease('fetch:/files/x', 'A', 1_000, T0 + 500)).toBe(true);
      expect(await s.lease('fetch:/files/x', 'B', 1_000, T0 + 1_200)).toBe(false);
      expect(await s.lease('fetch:/files/x', 'B', 1_000, T0 + 1_500)).toBe(true);
      await s.releaseLease('fetch:/files/x', 'A');
      expect(await s.lease('fetch:/files/x', 'A', 1_000, T0 + 1_600)).toBe(false);
      await s.releaseLease('fetch:/files/x', 'B');
      expect(await s.lease('fetch:/files/x', 'A', 1_000, T0 + 1_600)).toBe(true);
      expect(await s.lease('fetch:/files/y', 'B', 1_000, T0 + 1_600)).toBe(true);
    });

    it('documents: put, get, TTL, delete, list by prefix', async () => {
      const s = await store();
      await s.docPut('job:2', '{"n":2}', 1_000, T0);
      await s.docPut('job:1', '{"n":1}', undefined, T0);
      await s.docPut('jobs-other', 'x', undefined, T0);
      await s.docPut('other:1', 'y', undefined, T0);
      expect(await s.docGet('job:1', T0)).toBe('{"n":1}');
      expect(await s.docList('job:', T0 + 1)).toEqual(['job:1', 'job:2']);
      expect(await s.docList('', T0 + 1)).toEqual(['job:1', 'job:2', 'jobs-other', 'other:1']);
      expect(await s.docGet('job:2', T0 + 1_000)).toBeUndefined();
      expect(await s.docList('job:', T0 + 1_000)).toEqual(['job:1']);
      await s.docPut('job:1', '{"n":11}', 5_000, T0 + 1_000);
      expect(await s.docGet('job:1', T0 + 1_001)).toBe('{"n":11}');
      await s.docDelete('job:1');
      expect(await s.docGet('job:1', T0 + 1_001)).toBeUndefined();
      expect(await s.docList('job', T0 + 1_001)).toEqual(['jobs-other']);
      expect(await s.docList('zzz', T0)).toEqual([]);
    });

    it('two keys on one store share nothing: quota, pause, cache, leases, documents', async () => {
      const a = await store(randomApiKey('a'));
      const b = await store(randomApiKey('b'));
      const w: WindowSpec = { requests: 1, seconds: 60 };
      expect((await a.acquire({ now: T0, window: w, dailyQuota: 1, leaseMs: 10_000 })).granted).toBe(true);
      expect((await a.acquire({ now: T0, window: w, dailyQuota: 1, leaseMs: 10_000 })).granted).toBe(false);
      expect((await b.acquire({ now: T0, window: w, dailyQuota: 1, leaseMs: 10_000 })).granted).toBe(true);
      await a.pause(T0 + 60_000, T0);
      expect((await b.usage(T0 + 1)).pausedUntil).toBeUndefined();
      await a.cacheSet(['/files/k'], { body: '{"a":1}', fetchedAt: T0 }, 60_000, T0);
      expect(await b.cacheGet('/files/k', T0 + 1)).toBeUndefined();
      expect((await b.cacheStats()).entries).toBe(0);
      expect(await a.lease('L', 'A', 10_000, T0)).toBe(true);
      expect(await b.lease('L', 'B', 10_000, T0)).toBe(true);
      await a.docPut('job:1', 'a', undefined, T0);
      expect(await b.docGet('job:1', T0)).toBeUndefined();
      expect(await b.docList('', T0)).toEqual([]);
      expect((await b.usage(T0 + 1)).dayUsed).toBe(1);
      expect((await a.usage(T0 + 1)).dayUsed).toBe(1);
    });

    it.skipIf(backend.name === 'memory')(
      'a second instance on the same key sees the same state',
      async () => {
        const key = randomApiKey();
        const a = await store(key);
        const b = await store(key);
        const w: WindowSpec = { requests: 1, seconds: 60 };
        const g = await a.acquire({ now: T0, window: w, leaseMs: 10_000 });
        expect(g.granted).toBe(true);
        expect(await b.acquire({ now: T0, window: w, leaseMs: 10_000 })).toMatchObject({ reason: 'window' });
        await a.cacheSet(['/files/k', '/files/k2'], { body: '{"a":1}', fetchedAt: T0 }, 60_000, T0);
        expect(await b.cacheGet('/files/k2', T0 + 1)).toEqual({ body: '{"a":1}', fetchedAt: T0 });
        expect(await a.lease('L', 'A', 10_000, T0)).toBe(true);
        expect(await b.lease('L', 'B', 10_000, T0)).toBe(false);
        await b.docPut('job:1', 'x', undefined, T0);
        expect(await a.docList('job:', T0)).toEqual(['job:1']);
      },
    );
  });
}
