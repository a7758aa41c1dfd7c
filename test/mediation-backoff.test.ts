/**
 * VirusTotal's 429. A `Retry-After: 0` (or none, or garbage) made a hot loop
 * (10,890 requests in 10 s from one call); with the limit off, a 429 without Retry-After paused every
 * request for 15 s. Now a 429 pauses everyone for VT's Retry-After when usable, never less than a
 * floor (1 s, or the window's share per request), doubling while 429s keep coming, and a request is
 * retried after a 429 at most 3 times.
 *
 * The gateway runs on fake timers with a fake client for the arithmetic; one end-to-end check runs
 * against the stand-in on a virtual clock that the stand-in, the servers and the stopwatch share.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/log.js';
import { ResponseCache } from '../src/vt/cache.js';
import {
  MAX_RETRY_AFTER_SECONDS,
  parseRetryAfter,
  type VtClient,
  type VtResponse,
} from '../src/vt/client.js';
import { errorFromResponse, UpstreamRefusedError, type VtError } from '../src/vt/errors.js';
import { MediatedGateway } from '../src/vt/gateway.js';
import { RateLimiter } from '../src/vt/limiter.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';
import { virtualTimeForEachTest } from './helpers/virtual-time.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('Retry-After', () => {
  const now = Date.UTC(2026, 0, 1, 12);
  it('takes delta-seconds and HTTP-dates, and nothing else', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('5', now)).toBe(5);
    expect(parseRetryAfter(' 12 ', now)).toBe(12);
    expect(parseRetryAfter(['7', '9'], now)).toBe(7);
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', now)).toBe(30);
    // Garbage, negative, fractional, a date in the past: none (the caller's floor applies).
    for (const v of ['', '-1', '-0', '1.5', '1e3', 'soon', '5 s', 'NaN', 'Infinity', '0x10', undefined]) {
      expect(parseRetryAfter(v, now), String(v)).toBeUndefined();
    }
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:59:00 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('2026-01-01T12:00:30Z', now)).toBeUndefined();
    // Huge values are capped at a day.
    expect(parseRetryAfter('99999999999', now)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', now)).toBe(MAX_RETRY_AFTER_SECONDS);
  });
});

const QUOTA_BODY = { error: { code: 'QuotaExceededError', message: 'Quota exceeded' } };

/** A client that answers 429 (with this Retry-After) to the requests `refuse` picks, and 200 otherwise. */
function fakeClient(retryAfter: string | undefined, refuse: (n: number) => boolean = () => true) {
  const sent: number[] = [];
  const client = {
    hasKey: true,
    async send(): Promise<VtResponse> {
      const n = sent.push(Date.now());
      // A guard, not the behaviour under test: the old code looped here without end.
      if (n > 500) throw new Error('hot loop');
      if (refuse(n)) throw errorFromResponse(429, QUOTA_BODY, parseRetryAfter(retryAfter));
      const raw = Buffer.from('{"data":{"id":"x","type":"domain"}}');
      return { status: 200, body: JSON.parse(raw.toString()), bytes: raw.length, raw };
    },
  };
  return { client: client as unknown as VtClient, sent };
}

function gateway(client: VtClient, window?: { requests: number; seconds: number }) {
  const logs: string[] = [];
  const limiter = new RateLimiter({ ...(window ? { window } : {}), maxConcurrency: 16, maxWaitMs: 90_000 });
  const cache = new ResponseCache({ ttlMs: 60_000, notFoundTtlMs: 60_000, maxEntries: 100, maxBytes: 1e6 });
  const log = createLogger({ level: 'debug', write: (l) => logs.push(l) });
  return { gw: new MediatedGateway({ client, limiter, cache, log, maxWaitMs: 90_000 }), limiter, logs };
}

describe('upstream 429 back-off', () => {
  for (const [label, window] of [
    ['limit off', undefined],
    ['1000/60s', { requests: 1000, seconds: 60 }],
  ] as const) {
    it(`${label}: Retry-After: 0 on every answer gives 4 requests (3 retries), 1 s, 2 s and 4 s apart`, async () => {
      vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12) });
      const { client, sent } = fakeClient('0');
      const { gw } = gateway(client, window);
      const p = gw.fetch({ path: '/domains/a.example' }).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(60_000);
      const err = await p;
      expect(sent).toHaveLength(4);
      const gaps = sent.slice(1).map((t, i) => t - (sent[i] as number));
      expect(gaps[0]).toBeGreaterThanOrEqual(1000);
      expect(gaps[1]).toBeGreaterThanOrEqual(2000);
      expect(gaps[2]).toBeGreaterThanOrEqual(4000);
      expect(Math.max(...gaps)).toBeLessThan(4100);
      expect(err).toBeInstanceOf(UpstreamRefusedError);
      expect(err).toMatchObject({ kind: 'quota', quotaScope: 'upstream' });
      // Facts; answers/wording.ts words them ("still refusing … after 3 retries over 7 s").
      expect(err).toMatchObject({ vtCode: 'QuotaExceededError', retries: 3, waitedSeconds: 7 });
      expect(err).toHaveProperty('resetAt', expect.any(Date));
      expect(gw.stats().upstream).toMatchObject({ requests: 4, rate_limited: 4, retries: 3, failures: 0 });
    });
  }

  for (const v of ['-5', 'soon', '1.5', undefined]) {
    it(`Retry-After ${JSON.stringify(v)} is read as none: the floor applies`, async () => {
      vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12) });
      const { client, sent } = fakeClient(v, (n) => n === 1);
      const { gw } = gateway(client);
      const p = gw.fetch({ path: '/domains/a.example' });
      await vi.advanceTimersByTimeAsync(999);
      expect(sent).toHaveLength(1);
      // With the limit off, no Retry-After: one second, not 15.
      await vi.advanceTimersByTimeAsync(2);
      expect(sent).toHaveLength(2);
      await expect(p).resolves.toMatchObject({ fromCache: false });
    });
  }

  it("VirusTotal's Retry-After is followed when it asks for longer than the floor", async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12) });
    const { client, sent } = fakeClient('7', (n) => n === 1);
    const { gw } = gateway(client);
    const p = gw.fetch({ path: '/domains/a.example' });
    await vi.advanceTimersByTimeAsync(6_990);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(20);
    expect(sent).toHaveLength(2);
    await p;
  });

  it('with a window, the floor is the window share per request (4/60s: 15 s)', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12) });
    const { client, sent } = fakeClient('0', (n) => n === 1);
    const { gw } = gateway(client, { requests: 4, seconds: 60 });
    const p = gw.fetch({ path: '/domains/a.example' });
    await vi.advanceTimersByTimeAsync(14_900);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toHaveLength(2);
    await p;
  });

  it('8 requests refused at once are one episode: everyone waits 1 s, not 2^8', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12) });
    const { client, sent } = fakeClient('0', (n) => n <= 8 || n === 17);
    const { gw, limiter } = gateway(client);
    const ps = Array.from({ length: 8 }, (_, i) => gw.fetch({ path: `/domains/d${i}.example` }));
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(8);
    expect(limiter.stats().paused_until).toBe('2026-01-01T12:00:01Z');
    await vi.advanceTimersByTimeAsync(1_001);
    expect(sent).toHaveLength(16);
    await Promise.all(ps);
    // A success ends the episode: the next 429 starts again at the floor.
    const next = gw.fetch({ path: '/domains/d8.example' });
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(17);
    await vi.advanceTimersByTimeAsync(1_001);
    expect(sent).toHaveLength(18);
    await next;
  });

  it('429s that keep coming double the pause up to the cap, across calls; later calls wait the pause out', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12) });
    const { client, sent } = fakeClient(undefined);
    const { gw } = gateway(client);
    // Three calls one after another, against a VirusTotal that refuses everything.
    const errs: VtError[] = [];
    const run = (async () => {
      for (let i = 0; i < 3; i++) {
        await gw.fetch({ path: `/domains/d${i}.example` }).catch((e: VtError) => errs.push(e));
      }
    })();
    await vi.advanceTimersByTimeAsync(400_000);
    await run;
    const gaps = sent.slice(1).map((t, i) => t - (sent[i] as number));
    // 1, 2, 4 s (the first call's 3 retries), then 8, 16, 32 s and the 60 s cap: a call that gives up
    // leaves the pause in place, and the next call waits it out (or answers that it would wait too long).
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000]);
    expect(errs).toHaveLength(3);
    expect(errs.every((e) => e.kind === 'quota')).toBe(true);
  });
});

describe('end to end against the stand-in', () => {
  let hs: Harness[] = [];
  // Both servers, the stand-in and the pauses on a virtual clock (helpers/virtual-time.ts).
  virtualTimeForEachTest({
    closeFirst: async () => {
      await Promise.all(hs.map((h) => h.close()));
      hs = [];
    },
  });

  it('one call against a VirusTotal that always answers 429 with Retry-After: 0 sends 4 requests', async () => {
    const always429 = {
      hook: (_req: unknown, res: import('node:http').ServerResponse) => {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end(JSON.stringify(QUOTA_BODY));
        return true;
      },
    };
    hs = await Promise.all([
      startHarness({ env: { VT_RATE_LIMIT: 'off' }, api: always429 }),
      startHarness({ env: { VT_RATE_LIMIT: '1000/60s', VT_DAILY_QUOTA: '500' }, api: always429 }),
    ]);
    const t0 = performance.now();
    const answers = await Promise.all(hs.map((h) => h.call('vt_get_report', { indicator: 'github.com' })));
    const elapsed = performance.now() - t0;
    for (const [i, h] of hs.entries()) {
      console.log(
        `Retry-After: 0, ${i === 0 ? 'limit off' : '1000/60s'}: ${h.api.count()} upstream requests in ${Math.round(elapsed)} ms`,
      );
      expect(h.api.count()).toBe(4);
      const r = answers[i];
      expect(r?.isError).toBe(true);
      expect(textOf(r as never)).toMatch(
        /still refusing requests for this key \(QuotaExceededError\) after 3 retries/,
      );
    }
    // 1 + 2 + 4 s of pauses: bounded, and far from the 90 s maximum wait.
    expect(elapsed).toBeGreaterThanOrEqual(7_000);
    expect(elapsed).toBeLessThan(20_000);
    const q = await hs[1]?.call('vt_quota', {});
    expect(textOf(q as never)).toMatch(/Today: 4\/500 lookups used/);
  }, 30_000);
});
