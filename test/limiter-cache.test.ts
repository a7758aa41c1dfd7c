/** Unit tests of the rate limiter's arithmetic and of the cache's aliasing and bounds, on a fake clock. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseRateLimit } from '../src/config.js';
import { nextUtcMidnight } from '../src/util/time.js';
import { aliasKeys, ResponseCache } from '../src/vt/cache.js';
import { DailyCapError, type VtError, WaitTooLongError } from '../src/vt/errors.js';
import { cacheKey } from '../src/vt/gateway.js';
import { RateLimiter } from '../src/vt/limiter.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('RateLimiter', () => {
  it('grants a window of requests at once, then one per freed slot, in order', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12) });
    const lim = new RateLimiter({
      window: { requests: 2, seconds: 10 },
      maxConcurrency: 10,
      maxWaitMs: 60_000,
    });
    const order: number[] = [];
    const waits: number[] = [];
    const ps = [0, 1, 2, 3, 4].map((i) =>
      lim.acquire({ onWait: (w) => waits.push(w.etaMs) }).then(() => order.push(i)),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(10_100);
    expect(order).toEqual([0, 1, 2, 3]);
    await vi.advanceTimersByTimeAsync(10_100);
    await Promise.all(ps);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    // The third waiter was told about 10 s, the fifth about 20 s.
    expect(Math.max(...waits)).toBeGreaterThanOrEqual(20_000);
    expect(Math.max(...waits)).toBeLessThan(21_000);
  });

  it('refuses at once a wait longer than the maximum, naming when a slot frees', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12) });
    const lim = new RateLimiter({
      window: { requests: 1, seconds: 60 },
      maxConcurrency: 4,
      maxWaitMs: 5_000,
    });
    await lim.acquire();
    const err = await lim.acquire().catch((e: unknown) => e);
    if (!(err instanceof WaitTooLongError)) throw new Error(`not a WaitTooLongError: ${String(err)}`);
    expect(err.quotaScope).toBe('rate');
    // Facts; answers/wording.ts words them ("would wait about 60 s … a slot is free again at 12:01:00Z").
    expect(err.retryAfterSeconds).toBeGreaterThanOrEqual(60);
    expect(err.retryAfterSeconds).toBeLessThanOrEqual(61);
    expect(err.resetAt.toISOString()).toMatch(/^2026-01-01T12:01:00/);
    expect(err).toMatchObject({
      window: { requests: 1, seconds: 60 },
      maxWaitSeconds: 5,
      pausedByUpstream: false,
    });
  });

  it('enforces the daily cap and resets it at 00:00 UTC', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 23, 59, 0) });
    const lim = new RateLimiter({ dailyQuota: 2, maxConcurrency: 4, maxWaitMs: 1000 });
    await lim.acquire();
    await lim.acquire();
    const err = await lim.acquire().catch((e: unknown) => e);
    if (!(err instanceof DailyCapError)) throw new Error(`not a DailyCapError: ${String(err)}`);
    expect(err.quotaScope).toBe('daily');
    expect(err.resetAt.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    vi.setSystemTime(Date.UTC(2026, 0, 2, 0, 0, 1));
    await expect(lim.acquire()).resolves.toBeUndefined();
    expect(lim.stats().daily?.used).toBe(1);
  });

  it('a cancelled waiter leaves the line and never gets a slot', async () => {
    vi.useFakeTimers({ now: 0 });
    const lim = new RateLimiter({
      window: { requests: 1, seconds: 10 },
      maxConcurrency: 4,
      maxWaitMs: 60_000,
    });
    await lim.acquire();
    const ac = new AbortController();
    const p = lim.acquire({ signal: ac.signal }).catch((e: VtError) => e.kind);
    ac.abort();
    expect(await p).toBe('cancelled');
    expect(lim.stats().queued).toBe(0);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(lim.stats().day_used).toBe(1);
  });

  it('holds the window open until the answer comes back', async () => {
    vi.useFakeTimers({ now: 0 });
    const lim = new RateLimiter({
      window: { requests: 1, seconds: 10 },
      maxConcurrency: 4,
      maxWaitMs: 60_000,
    });
    // The first request takes 3 s: VirusTotal may have counted it as late as 3 s.
    const slow = lim.run(() => new Promise((r) => setTimeout(r, 3_000)));
    await vi.advanceTimersByTimeAsync(3_000);
    await slow;
    let sent = false;
    const next = lim.run(async () => {
      sent = true;
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toBe(false);
    await vi.advanceTimersByTimeAsync(3_100);
    await next;
    expect(sent).toBe(true);
  });

  it('nextUtcMidnight', () => {
    expect(new Date(nextUtcMidnight(Date.UTC(2026, 10, 28, 13, 5))).toISOString()).toBe(
      '2026-11-29T00:00:00.000Z',
    );
  });
});

describe('ResponseCache', () => {
  const file = {
    data: { type: 'file', attributes: { md5: 'A'.repeat(32), sha1: 'b'.repeat(40), sha256: 'c'.repeat(64) } },
  };

  it('files one answer under the md5, sha1 and sha256 of the file', () => {
    const c = new ResponseCache({ ttlMs: 1000, notFoundTtlMs: 100, maxEntries: 10, maxBytes: 1e6 });
    c.set(`/files/${'a'.repeat(32)}`, JSON.stringify(file), new Date());
    expect(c.get(`/files/${'c'.repeat(64)}`)?.body).toEqual(file);
    expect(c.get(`/files/${'b'.repeat(40)}`)?.body).toEqual(file);
    expect(c.stats().entries).toBe(1);
    expect(aliasKeys('/files/x/contacted_ips', file)).toEqual([]);
  });

  it('expires entries, keeps not-found answers shorter, and evicts the least recently used', () => {
    let now = 0;
    const c = new ResponseCache({
      ttlMs: 1000,
      notFoundTtlMs: 100,
      maxEntries: 2,
      maxBytes: 1e6,
      now: () => now,
    });
    c.set('/domains/a.com', '{"a":1}', new Date());
    c.setNotFound('/domains/b.com', new Date());
    now = 150;
    expect(c.get('/domains/b.com')).toBeUndefined();
    expect(c.get('/domains/a.com')).toBeDefined();
    c.set('/domains/c.com', '{"c":1}', new Date());
    c.set('/domains/d.com', '{"d":1}', new Date());
    expect(c.get('/domains/a.com')).toBeUndefined();
    expect(c.stats().entries).toBe(2);
    now = 2000;
    expect(c.get('/domains/d.com')).toBeUndefined();
  });

  it('stays within its byte bound', () => {
    const c = new ResponseCache({ ttlMs: 1000, notFoundTtlMs: 100, maxEntries: 100, maxBytes: 2000 });
    for (let i = 0; i < 10; i++)
      c.set(`/domains/${i}.com`, JSON.stringify({ i, pad: 'x'.repeat(300) }), new Date());
    expect(c.stats().bytes).toBeLessThanOrEqual(2000);
    expect(c.stats().entries).toBeLessThan(10);
    expect(c.get('/domains/9.com')).toBeDefined();
  });

  it('alias rows leave with their entry: the cache holds 3 keys per file at most, whatever went through', () => {
    const c = new ResponseCache({ ttlMs: 60_000, notFoundTtlMs: 100, maxEntries: 10, maxBytes: 1e6 });
    const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
    for (let i = 0; i < 1000; i++) {
      const body = {
        data: { type: 'file', attributes: { md5: hex(i, 32), sha1: hex(i, 40), sha256: hex(i, 64) } },
      };
      // Asked by md5: filed under the sha256, with the md5 and sha1 as aliases.
      c.set(`/files/${hex(i, 32)}`, JSON.stringify(body), new Date());
    }
    expect(c.stats().entries).toBe(10);
    expect(c.keys()).toHaveLength(30);
    expect(c.get(`/files/${hex(999, 40)}`)?.body).toMatchObject({ data: { type: 'file' } });
    expect(c.get(`/files/${hex(0, 32)}`)).toBeUndefined();
    // The same file again under another hash replaces its entry rather than adding one.
    const again = {
      data: { type: 'file', attributes: { md5: hex(999, 32), sha1: hex(999, 40), sha256: hex(999, 64) } },
    };
    c.set(`/files/${hex(999, 64)}`, JSON.stringify(again), new Date());
    expect(c.stats().entries).toBe(10);
    expect(c.keys()).toHaveLength(30);
  });

  it('cacheKey ignores the order of query parameters', () => {
    expect(cacheKey('/x', { b: 1, a: 'z' })).toBe(cacheKey('/x', { a: 'z', b: 1, c: undefined }));
  });
});

describe('VT_RATE_LIMIT', () => {
  it('parses the forms people write, and refuses nonsense', () => {
    expect(parseRateLimit('4/60s')).toEqual({ requests: 4, seconds: 60 });
    expect(parseRateLimit('1000/1m')).toEqual({ requests: 1000, seconds: 60 });
    expect(parseRateLimit('off')).toBeUndefined();
    expect(parseRateLimit(undefined)).toEqual({ requests: 4, seconds: 60 });
    expect(parseRateLimit(undefined, true)).toBeUndefined();
    expect(() => parseRateLimit('fast')).toThrow(/4\/60s/);
    expect(() => parseRateLimit('0/60s')).toThrow();
  });
});
