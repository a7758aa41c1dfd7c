/**
 * What is counted, and what is kept.
 * - Item 3: a request that never reached VirusTotal (connection refused, no DNS answer) costs no
 *   window slot and no daily count, and the answer says VirusTotal could not be reached. A request
 *   that may have reached it (the connection broke afterwards) stays counted: VT counts what it gets.
 * - Item 19: failed upstream requests (a wrong key included) show in vt_quota's upstream figures.
 * - Item 6: vt_quota include_vt puts the key in no cache key, no in-flight key and no log line.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { VtClient } from '../src/vt/client.js';
import { ConnectionError } from '../src/vt/errors.js';
import { RateLimiter } from '../src/vt/limiter.js';
import { type Harness, startHarness, TEST_KEY, textOf } from './helpers/harness.js';
import { virtualTimeForEachTest } from './helpers/virtual-time.js';

const sha256 = (new RecordedApi().objects('file')[0] as { id: string }).id;

/** A URL on a port that was just bound and closed: nothing listens there. */
async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}/api/v3`;
}

let h: Harness | undefined;
async function closeHarness(): Promise<void> {
  await h?.close();
  h = undefined;
}
afterEach(async () => {
  vi.useRealTimers();
  await closeHarness();
});

interface QuotaServer {
  limiter: { window?: { used: number }; daily?: { used: number }; day_used: number };
  upstream: { requests: number; failures: number; unreachable: number; rate_limited: number };
}

describe('requests that never reached VirusTotal are not charged', () => {
  // Retries back off, pauses pass: on a virtual clock.
  virtualTimeForEachTest({ closeFirst: closeHarness });
  it('with the API on a closed port, triage and lookups spend nothing and say VirusTotal could not be reached', async () => {
    h = await startHarness({
      env: { VIRUSTOTAL_API_URL: await closedPortUrl(), VT_RATE_LIMIT: '4/60s', VT_DAILY_QUOTA: '500' },
    });
    // The job's lookups fail as unreachable, each after the job's 2 tries; following it with {job}
    // (should the first answer come before the job is done) sends nothing anywhere.
    let triage = await h.call('vt_triage', { indicators: ['github.com', '1.1.1.1', sha256] });
    expect(triage.isError, textOf(triage)).toBeFalsy();
    const job = (triage.structuredContent as { job: string }).job;
    for (let i = 0; i < 5 && (triage.structuredContent as { status: string }).status === 'running'; i++) {
      triage = await h.call('vt_triage', { job });
    }
    const sc = triage.structuredContent as {
      status: string;
      counts: Record<string, number>;
      results: Array<{ verdict: string; error?: string }>;
    };
    expect(sc.status).toBe('done');
    expect(sc.counts).toMatchObject({ failed: 3, pending: 0 });
    expect(sc.results).toHaveLength(3);
    expect(sc.results.every((x) => x.verdict === 'error' && x.error === 'lookup failed (transient)')).toBe(
      true,
    );
    const text = textOf(triage);
    expect(text).toMatch(/3 lookups failed \(transient\): VirusTotal could not be reached \(ECONNREFUSED\)/);
    expect(text).toMatch(/no quota was used/);
    expect(text).not.toMatch(/allowed per 60 s are in use/);
    for (const indicator of ['example.com', '8.8.4.4']) {
      const r = await h.call('vt_get_report', { indicator });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/VirusTotal could not be reached .*no quota was used/);
    }
    const q = await h.call('vt_quota', {});
    const server = (q.structuredContent as { server: QuotaServer }).server;
    expect(server.limiter.window?.used).toBe(0);
    expect(server.limiter.daily?.used).toBe(0);
    expect(server.upstream.requests).toBe(0);
    // Each attempt is sent 3 times by the gateway (two retries of a connection error); the job tries
    // each of its 3 lookups twice, the 2 single lookups once.
    const attempts = 3 * 2 * 3 + 2 * 3;
    expect(server.upstream.unreachable).toBe(attempts);
    expect(textOf(q)).toContain('Rate window: 0/4 used');
    expect(textOf(q)).toMatch(/Today: 0\/500 lookups used/);
    expect(textOf(q)).toContain(`${attempts} attempts never reached VirusTotal`);
  }, 30_000);

  it('a name that does not resolve is not charged either', async () => {
    const client = new VtClient({
      baseUrl: 'http://vtbrief-test.invalid/api/v3',
      apiKey: TEST_KEY,
      timeoutMs: 10_000,
    });
    const limiter = new RateLimiter({
      window: { requests: 4, seconds: 60 },
      dailyQuota: 10,
      maxConcurrency: 4,
      maxWaitMs: 1000,
    });
    try {
      const err = await limiter
        .run(() => client.send('GET', '/domains/example.com'))
        .catch((e: unknown) => e);
      if (!(err instanceof ConnectionError)) throw new Error(`not a ConnectionError: ${String(err)}`);
      expect(err.notSent).toBe(true);
      expect(err.reason).toBe('unreachable');
      expect(err.networkCode).toMatch(/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL)$/);
      expect(limiter.stats().window?.used).toBe(0);
      expect(limiter.stats().day_used).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('a connection broken after the request arrived stays counted (VirusTotal may have counted it)', async () => {
    h = await startHarness({
      env: { VT_RATE_LIMIT: '4/60s', VT_DAILY_QUOTA: '500' },
      api: {
        hook: (_req, res) => {
          res.socket?.destroy();
          return true;
        },
      },
    });
    const r = await h.call('vt_get_report', { indicator: 'github.com' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).not.toMatch(/no quota was used/);
    const q = await h.call('vt_quota', {});
    const server = (q.structuredContent as { server: QuotaServer }).server;
    expect(h.api.count()).toBe(3);
    expect(server.limiter.window?.used).toBe(3);
    expect(server.limiter.daily?.used).toBe(3);
    expect(server.upstream).toMatchObject({ requests: 3, failures: 3, unreachable: 0 });
  });
});

describe('the limiter and a refund', () => {
  it('the limiter gives a refunded slot to the next waiter at once', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 12) });
    const lim = new RateLimiter({
      window: { requests: 1, seconds: 60 },
      dailyQuota: 2,
      maxConcurrency: 4,
      maxWaitMs: 120_000,
    });
    const refused = new ConnectionError('unreachable', { networkCode: 'ECONNREFUSED' });
    let sentAt = -1;
    const first = lim.run(async () => {
      throw refused;
    });
    // Waits for the window's one slot, held by the first request while it is out.
    const next = lim.run(async () => {
      sentAt = Date.now();
    });
    await expect(first).rejects.toBe(refused);
    await vi.advanceTimersByTimeAsync(0);
    await next;
    expect(sentAt).toBe(Date.UTC(2026, 0, 1, 12));
    // One request sent: the window and the day count it, not the refused one.
    expect(lim.stats().window?.used).toBe(1);
    expect(lim.stats().day_used).toBe(1);
  });
});

describe('upstream figures', () => {
  virtualTimeForEachTest({ closeFirst: closeHarness });
  it('with a wrong key, vt_quota counts the failed requests', async () => {
    h = await startHarness({ api: { apiKey: 'another-key' } });
    const r = await h.call('vt_get_report', { indicator: 'github.com' });
    expect(textOf(r)).toMatch(/rejected the API key/);
    const q = await h.call('vt_quota', {});
    const server = (q.structuredContent as { server: QuotaServer }).server;
    expect(server.upstream).toMatchObject({ requests: 1, failures: 1 });
    expect(textOf(q)).toMatch(/Upstream since start: 1 lookup, 0 answered 429, 0 retries, 1 failure\./);
  });

  it('a 404 is an answer, not a failure; a 500 that is retried and fails again is two', async () => {
    h = await startHarness({
      api: {
        hook: (req, res) => {
          if (!req.path.startsWith('/ip_addresses/')) return false;
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{"error":{"code":"InternalError","message":"boom"}}');
          return true;
        },
      },
    });
    await h.call('vt_get_report', { indicator: `${'0'.repeat(63)}1` });
    await h.call('vt_get_report', { indicator: '1.1.1.1' });
    const q = await h.call('vt_quota', {});
    const server = (q.structuredContent as { server: QuotaServer }).server;
    expect(server.upstream).toMatchObject({ requests: 4, failures: 3 });
  });
});

describe('the key in no cache key and no log line', () => {
  virtualTimeForEachTest({ closeFirst: closeHarness });
  it("vt_quota include_vt asks for the key's own user without filing the key anywhere", async () => {
    h = await startHarness();
    await h.call('vt_get_report', { indicator: 'github.com' });
    const first = await h.call('vt_quota', { include_vt: true });
    expect(textOf(first)).toContain('daily 12/500');
    const second = await h.call('vt_quota', { include_vt: true });
    expect(textOf(second)).toContain('daily 12/500');
    // It reached VirusTotal's own path for the key's user, twice: live counters are never cached.
    expect(h.api.count(`/users/${TEST_KEY}/overall_quotas`)).toBe(2);
    const spellings = [TEST_KEY, encodeURIComponent(TEST_KEY), TEST_KEY.toLowerCase()];
    const keys = h.runtime.cache.keys();
    expect(keys).toContain('/domains/github.com');
    for (const k of keys) for (const s of spellings) expect(k.toLowerCase()).not.toContain(s.toLowerCase());
    expect(keys.some((k) => k.includes('/users/'))).toBe(false);
    // Nothing logged carried it either (redaction would have left its mark).
    for (const line of h.logs) {
      for (const s of spellings) expect(line).not.toContain(s);
      expect(line).not.toContain('[redacted]');
    }
  });
});
