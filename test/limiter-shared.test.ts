/** The limiter over a store shared with another process: the store's refusals are waited for, within each caller's wait. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VtError } from '../src/vt/errors.js';
import { RateLimiter } from '../src/vt/limiter.js';
import { MemoryStore } from '../src/vt/state/memory.js';
import { openSqliteStore } from '../src/vt/state/sqlite.js';
import { keyspace } from '../src/vt/state/store.js';

const limiter = (store: MemoryStore, maxWaitMs: number) =>
  new RateLimiter({
    window: { requests: 2, seconds: 1 },
    maxConcurrency: 4,
    maxWaitMs,
    store,
    leaseMs: 5_000,
  });

describe('RateLimiter with shared accounting', () => {
  it('waits for slots another process holds, and counts its own in the store', async () => {
    const store = new MemoryStore({ cacheMaxBytes: 1e6 });
    const a = limiter(store, 5_000);
    const b = limiter(store, 5_000);
    await b.acquire();
    await b.acquire();
    const t0 = performance.now();
    await a.acquire();
    // Not before b's slots left the window (a second): the store, not a's own count, held it back.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
    const usage = await store.usage(Date.now(), { requests: 2, seconds: 1 });
    expect(usage.dayUsed).toBe(3);
  });

  it('answers at once when the shared window makes the wait longer than the caller may wait', async () => {
    const store = new MemoryStore({ cacheMaxBytes: 1e6 });
    const a = limiter(store, 300);
    const b = limiter(store, 5_000);
    await b.acquire();
    await b.acquire();
    const t0 = performance.now();
    const err = await a.acquire().catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(VtError);
    expect(err).toMatchObject({ kind: 'quota', quotaScope: 'rate' });
    // Refused as soon as the store said when a slot frees, not after waiting for it.
    expect(ms).toBeLessThan(300);
  });

  it('with neither a window nor a daily cap, writes nothing to a shared store per request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtbrief-limiter-'));
    const store = openSqliteStore({
      path: join(dir, 'state.db'),
      keyspace: keyspace('k'),
      cacheMaxBytes: 1e6,
    });
    let calls = 0;
    const counted = new Proxy(store, {
      get(target, name, receiver) {
        const v = Reflect.get(target, name, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (name === 'acquire' || name === 'settle' || name === 'refund') calls++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const free = new RateLimiter({ maxConcurrency: 4, maxWaitMs: 1_000, store: counted, leaseMs: 5_000 });
    for (let i = 0; i < 5; i++) await free.run(async () => i);
    expect(calls).toBe(0);
    // With a cap, each request is counted in the store.
    const capped = new RateLimiter({
      dailyQuota: 100,
      maxConcurrency: 4,
      maxWaitMs: 1_000,
      store: counted,
      leaseMs: 5_000,
    });
    for (let i = 0; i < 5; i++) await capped.run(async () => i);
    expect(calls).toBe(10);
    expect((await store.usage(Date.now())).dayUsed).toBe(5);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("in memory, counts every request even without a limit: today's count is the store's", async () => {
    const store = new MemoryStore({ cacheMaxBytes: 0 });
    const lim = new RateLimiter({ maxConcurrency: 4, maxWaitMs: 1_000, store });
    for (let i = 0; i < 3; i++) await lim.run(async () => i);
    expect((await store.usage(Date.now())).dayUsed).toBe(3);
    expect(lim.stats().day_used).toBe(3);
  });
});
