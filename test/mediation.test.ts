/**
 * The API mediation end to end (issue: rate limits, quota, cache and batch triage), through the MCP
 * client against the stand-in API. Timing checks compare with an ideal derived from the configured
 * limit plus a request latency measured in the same run, never with a fixed number of seconds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { type Harness, startHarness, TEST_KEY, textOf } from './helpers/harness.js';
import { sleep, slowUpstream, vtWindow } from './helpers/limits.js';

const files = new RecordedApi().objects('file') as Array<{ id: string; attributes: Record<string, string> }>;
const sha256s = [...new Set(files.map((f) => f.id))];
const PE = files.find((f) => f.attributes.md5 === 'e2a52f78fc1dc2eb561fd5d77892d642');

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** One round trip to a stand-in of its own (so the limited one never sees it), measured in this run. */
async function oneRequestLatencyMs(): Promise<number> {
  const api = await new RecordedApi().start();
  try {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await (await fetch(`${api.url}/files/${sha256s[i]}`, { headers: { 'x-apikey': TEST_KEY } })).text();
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[2] as number;
  } finally {
    await api.close();
  }
}

describe('rate limit and triage', () => {
  it('20 distinct indicators under 4 per 2 s: no upstream 429, all answered, within 1.3× the ideal time', async () => {
    expect(sha256s.length).toBeGreaterThanOrEqual(20);
    const vt = vtWindow(4, 2);
    h = await startHarness({ env: { VT_RATE_LIMIT: '4/2s' }, api: { hook: vt.hook } });
    const latency = await oneRequestLatencyMs();
    const indicators = sha256s.slice(0, 20);
    const t0 = performance.now();
    const r = await h.call('vt_triage', { indicators });
    const elapsed = performance.now() - t0;
    const sc = r.structuredContent as { results: Array<{ verdict: string }>; unchecked: string[] };
    expect(r.isError).toBeFalsy();
    expect(vt.rejected()).toBe(0);
    expect(sc.results).toHaveLength(20);
    expect(sc.unchecked).toEqual([]);
    expect(sc.results.every((x) => x.verdict !== 'error')).toBe(true);
    // 4 go at once, then 4 more every 2 s: the last batch leaves at 8 s.
    const ideal = (Math.ceil(20 / 4) - 1) * 2000 + latency;
    console.log(
      `triage of 20 under 4/2s: ${Math.round(elapsed)} ms, ideal ${Math.round(ideal)} ms, ratio ${(elapsed / ideal).toFixed(3)}`,
    );
    expect(elapsed / ideal).toBeLessThanOrEqual(1.3);
    // The limiter really waited: faster than the window allows would have been a 429.
    expect(elapsed).toBeGreaterThanOrEqual(8000 - 100);

    // The same 20 again: all from the cache.
    const before = h.api.count('/files/');
    const again = await h.call('vt_triage', { indicators });
    expect((again.structuredContent as { results: unknown[] }).results).toHaveLength(20);
    expect(h.api.count('/files/')).toBe(before);
  }, 30_000);

  it('stops at the daily cap mid-triage with partial results, the unchecked list and the reset time', async () => {
    h = await startHarness({ env: { VT_DAILY_QUOTA: '5' } });
    const indicators = sha256s.slice(0, 8);
    const r = await h.call('vt_triage', { indicators });
    const sc = r.structuredContent as {
      results: Array<{ input: string }>;
      unchecked: string[];
      stopped?: string;
    };
    expect(h.api.count('/files/')).toBe(5);
    expect(sc.results).toHaveLength(5);
    expect(sc.unchecked).toHaveLength(3);
    expect(new Set([...sc.results.map((x) => x.input), ...sc.unchecked])).toEqual(new Set(indicators));
    const text = textOf(r);
    expect(text).toMatch(/daily cap of 5/);
    expect(text).toMatch(/resets at \d{4}-\d{2}-\d{2}T00:00:00Z/);
    expect(text).toContain('call vt_triage again with these');
    // A later single lookup gets the same plain answer, and cached results still work.
    const more = await h.call('vt_get_report', { indicator: sc.unchecked[0] as string });
    expect(more.isError).toBe(true);
    expect(textOf(more)).toMatch(/daily cap of 5 .*resets at/);
    const cached = await h.call('vt_get_report', { indicator: sc.results[0]?.input as string });
    expect(cached.isError).toBeFalsy();
    expect(textOf(cached)).toContain('(from cache)');
  });

  it('extracts indicators from pasted text, defanged ones included, and orders the most dangerous first', async () => {
    h = await startHarness();
    const text = `Seen in the mail: hxxp://example[.]com/ and e2a52f78fc1dc2eb561fd5d77892d642; the attachment invoice.pdf.
      Infra: github[.]com, 1.1.1[.]1, and again E2A52F78FC1DC2EB561FD5D77892D642.`;
    const r = await h.call('vt_triage', { indicators: text });
    const sc = r.structuredContent as { results: Array<{ verdict: string; type: string }> };
    expect(sc.results.map((x) => x.type).sort()).toEqual(['domain', 'file', 'ip_address', 'url']);
    expect(sc.results[0]?.verdict).toBe('malicious');
    expect(textOf(r)).toContain('File names, not looked up: invoice.pdf');
    expect(h.api.count()).toBe(4);
  });

  it('reports progress per finished indicator', async () => {
    h = await startHarness();
    const seen: number[] = [];
    await h.client.callTool(
      { name: 'vt_triage', arguments: { indicators: sha256s.slice(0, 5) } },
      undefined,
      {
        onprogress: (p) => {
          seen.push(p.progress);
        },
      },
    );
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(seen.every((p, i) => i === 0 || p > (seen[i - 1] as number))).toBe(true);
    expect(seen.at(-1)).toBe(5);
  });

  it('a request that would wait longer than VT_MAX_WAIT_SECONDS answers at once, saying when a slot frees', async () => {
    h = await startHarness({ env: { VT_RATE_LIMIT: '1/60s', VT_MAX_WAIT_SECONDS: '1' } });
    await h.call('vt_get_report', { indicator: sha256s[0] as string });
    const r = await h.call('vt_get_report', { indicator: sha256s[1] as string });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/would wait about 6\d s.*slot is free again at about \d{4}-\d\d-\d\dT/);
    expect(h.api.count('/files/')).toBe(1);
  });
});

describe('cache and de-duplication', () => {
  it('md5 then sha256 of one file: one upstream request', async () => {
    h = await startHarness();
    const md5 = PE?.attributes.md5 as string;
    const a = await h.call('vt_get_report', { indicator: md5 });
    const b = await h.call('vt_get_report', { indicator: PE?.id as string });
    const c = await h.call('vt_get_report', { indicator: PE?.attributes.sha1 as string });
    expect(h.api.count('/files/')).toBe(1);
    expect(textOf(b)).toContain('(from cache)');
    expect((a.structuredContent as { id: string }).id).toBe((c.structuredContent as { id: string }).id);
  });

  it('one URL in several spellings: one upstream request', async () => {
    h = await startHarness();
    for (const u of [
      'http://example.com/',
      'HTTP://EXAMPLE.COM',
      'example.com/',
      'hxxp://example[.]com:80/',
    ]) {
      const r = await h.call('vt_get_report', { indicator: u, type: 'url' });
      expect(r.isError).toBeFalsy();
    }
    expect(h.api.count('/urls/')).toBe(1);
  });

  it('10 simultaneous identical calls: one upstream request', async () => {
    const slow = slowUpstream(150);
    h = await startHarness({ api: { hook: slow.hook } });
    const calls = Array.from({ length: 10 }, () => h?.call('vt_get_report', { indicator: 'github.com' }));
    const results = await Promise.all(calls);
    expect(results.every((r) => !r?.isError)).toBe(true);
    expect(h.api.count('/domains/')).toBe(1);
  });

  it('fresh: true goes upstream again; not-found answers are cached briefly', async () => {
    h = await startHarness();
    await h.call('vt_get_report', { indicator: 'github.com' });
    await h.call('vt_get_report', { indicator: 'github.com', fresh: true });
    expect(h.api.count('/domains/')).toBe(2);
    const unknown = `${'0'.repeat(63)}1`;
    await h.call('vt_get_report', { indicator: unknown });
    const again = await h.call('vt_get_report', { indicator: unknown });
    expect((again.structuredContent as { found: boolean }).found).toBe(false);
    expect(h.api.count(`/files/${unknown}`)).toBe(1);
  });
});

describe('upstream errors and cancellation', () => {
  it('a 429 from VirusTotal, then 200: the model sees a normal answer', async () => {
    let first = true;
    h = await startHarness({
      api: {
        hook: (_req, res) => {
          if (!first) return false;
          first = false;
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
          res.end(JSON.stringify({ error: { code: 'QuotaExceededError', message: 'Quota exceeded' } }));
          return true;
        },
      },
    });
    const r = await h.call('vt_get_report', { indicator: 'github.com' });
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toContain('Domain github.com');
    expect(textOf(r)).not.toMatch(/429|quota/i);
    expect(h.api.count('/domains/')).toBe(2);
  });

  it('a 503 then 200 is retried; a 429 that persists past the maximum wait gets a plain answer', async () => {
    let n = 0;
    h = await startHarness({
      env: { VT_MAX_WAIT_SECONDS: '2' },
      api: {
        hook: (req, res) => {
          n++;
          if (req.path.startsWith('/domains/') && n === 1) {
            res.writeHead(503, { 'content-type': 'application/json' });
            res.end('{"error":{"code":"TransientError","message":"try later"}}');
            return true;
          }
          if (req.path.startsWith('/ip_addresses/')) {
            res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '5' });
            res.end('{"error":{"code":"QuotaExceededError","message":"Quota exceeded"}}');
            return true;
          }
          return false;
        },
      },
    });
    const ok = await h.call('vt_get_report', { indicator: 'github.com' });
    expect(ok.isError).toBeFalsy();
    const r = await h.call('vt_get_report', { indicator: '1.1.1.1' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(
      /refusing requests for this key \(QuotaExceededError\).*Try again after about \d{4}-/,
    );
    expect(h.api.count('/ip_addresses/')).toBe(1);
  });

  it('cancelling a queued call: no upstream request for it afterwards', async () => {
    h = await startHarness({ env: { VT_RATE_LIMIT: '1/30s' } });
    await h.call('vt_get_report', { indicator: 'github.com' });
    const ac = new AbortController();
    const queued = h.client
      .callTool({ name: 'vt_get_report', arguments: { indicator: '1.1.1.1' } }, undefined, {
        signal: ac.signal,
      })
      .then(
        () => 'answered',
        () => 'rejected',
      );
    await sleep(200);
    ac.abort();
    expect(await queued).toBe('rejected');
    await sleep(1000);
    expect(h.api.count('/ip_addresses/')).toBe(0);
    const q = await h.call('vt_quota', {});
    expect((q.structuredContent as { server: { limiter: { queued: number } } }).server.limiter.queued).toBe(
      0,
    );
  });

  it('with the limiter off and VT_MAX_CONCURRENCY=8, never more than 8 requests in flight', async () => {
    const slow = slowUpstream(100);
    h = await startHarness({
      env: { VT_RATE_LIMIT: 'off', VT_MAX_CONCURRENCY: '8' },
      api: { hook: slow.hook },
    });
    const r = await h.call('vt_triage', { indicators: sha256s.slice(0, 24) });
    expect((r.structuredContent as { results: unknown[] }).results).toHaveLength(24);
    expect(slow.peak()).toBeLessThanOrEqual(8);
    expect(slow.peak()).toBeGreaterThan(4);
  });
});

describe('vt_quota', () => {
  it('shows spending, queue and cache, and VT own figures on request', async () => {
    h = await startHarness({ env: { VT_RATE_LIMIT: '4/60s', VT_DAILY_QUOTA: '500' } });
    await h.call('vt_get_report', { indicator: 'github.com' });
    await h.call('vt_get_report', { indicator: 'github.com' });
    const r = await h.call('vt_quota', { include_vt: true });
    const text = textOf(r);
    // The second call came from the cache: one lookup spent, one hit out of two.
    expect(text).toContain('Rate window: 1/4 used in the last 60 s');
    expect(text).toMatch(/Today: 1\/500 lookups used; resets at \d{4}-\d\d-\d\dT00:00:00Z/);
    expect(text).toMatch(/hit rate 50%/);
    expect(text).toContain('daily 12/500');
    expect(text).not.toContain(TEST_KEY);
    const sc = r.structuredContent as { virustotal: Record<string, unknown> };
    expect(sc.virustotal.api_requests_daily).toEqual({
      user: { used: 12, allowed: 500 },
      group: { used: 0, allowed: 0 },
    });
  });
});

describe('triage edge cases', () => {
  it('a missing or wrong key is answered as such, not as a quota problem', async () => {
    h = await startHarness({ noKey: true });
    const none = await h.call('vt_triage', { indicators: ['github.com', '1.1.1.1'] });
    expect(none.isError).toBe(true);
    expect(textOf(none)).toMatch(/No VirusTotal API key is configured.*VIRUSTOTAL_API_KEY/);
    await h.close();

    h = await startHarness({ api: { apiKey: 'another-key' } });
    const wrong = await h.call('vt_triage', { indicators: ['github.com', '1.1.1.1'] });
    expect(wrong.isError).toBe(true);
    expect(textOf(wrong)).toMatch(/rejected the API key.*VIRUSTOTAL_API_KEY/);
    expect(textOf(wrong)).not.toMatch(/quota/i);
  });

  it('private IPs and email addresses are named, never looked up', async () => {
    h = await startHarness();
    const r = await h.call('vt_triage', {
      indicators: 'Beacon from 10.0.0.5 and 192.168.1.20 to 1.1.1[.]1; phish sent by alice@corp.example',
    });
    const sc = r.structuredContent as { results: Array<{ input: string }> };
    expect(sc.results.map((x) => x.input)).toEqual(['1.1.1.1']);
    expect(textOf(r)).toMatch(
      /Nothing to look up: 10\.0\.0\.5 \(private \(RFC 1918\) address\), 192\.168\.1\.20 .*alice@corp\.example \(email address\)/,
    );
    expect(h.api.count()).toBe(1);
    const single = await h.call('vt_get_report', { indicator: '10.0.0.1' });
    expect(textOf(single)).toMatch(/10\.0\.0\.1 is a private \(RFC 1918\) address.*Not looked up/);
    expect((single.structuredContent as { found: boolean }).found).toBe(false);
    expect(h.api.count()).toBe(1);
  });

  it('returns by its deadline with the rest unchecked and the time to retry, and failed lookups can be resumed', async () => {
    h = await startHarness({
      env: { VT_RATE_LIMIT: '2/60s' },
      api: {
        hook: (req, res) => {
          if (!req.path.includes('github.com')) return false;
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{"error":{"code":"InternalError","message":"boom"}}');
          return true;
        },
      },
    });
    const t0 = performance.now();
    const r = await h.call('vt_triage', { indicators: ['github.com', ...sha256s.slice(0, 5)] });
    const elapsed = performance.now() - t0;
    const sc = r.structuredContent as {
      results: Array<{ input: string; verdict: string }>;
      unchecked: string[];
      retry_after?: string;
    };
    // Two lookups fit the window; the third would wait a whole window, past the call's budget.
    // Two slots in the window; the failed lookup's retry would need a third, so it is not sent.
    expect(h.api.count()).toBe(2);
    // Well under the configured window: the call did not sit waiting for the next slot.
    const WINDOW_MS = 60_000;
    expect(elapsed).toBeLessThan(WINDOW_MS / 2);
    expect(sc.retry_after).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(textOf(r)).toMatch(/Stopped early: All 2 lookups allowed per 60 s/);
    // The failed one is in `unchecked` with those never sent, so one list resumes everything.
    expect(sc.unchecked).toContain('github.com');
    expect(sc.results.length + sc.unchecked.length).toBe(
      6 + sc.results.filter((x) => x.verdict === 'error').length,
    );
    expect(textOf(r)).toMatch(/call vt_triage again with these after \d{4}-/);
  });
});

describe('shared in-flight requests', () => {
  it('one caller cancelling leaves the others their answer; the last one out cancels, and the next starts afresh', async () => {
    const slow = slowUpstream(300);
    h = await startHarness({ api: { hook: slow.hook } });
    const gw = h.runtime.gateway;
    const a = new AbortController();
    const b = new AbortController();
    const pa = gw.fetch({ path: '/domains/github.com', signal: a.signal }).then(
      () => 'answer',
      (e: { kind?: string }) => e.kind,
    );
    const pb = gw.fetch({ path: '/domains/github.com', signal: b.signal }).then(
      () => 'answer',
      (e: { kind?: string }) => e.kind,
    );
    await sleep(50);
    a.abort();
    expect(await pa).toBe('cancelled');
    expect(await pb).toBe('answer');
    expect(h.api.count('/domains/')).toBe(1);

    // Both leave: the request is cancelled; a caller right after is not handed the cancelled one.
    const c = new AbortController();
    const pc = gw
      .fetch({ path: '/ip_addresses/1.1.1.1', signal: c.signal })
      .catch((e: { kind?: string }) => e.kind);
    await sleep(50);
    c.abort();
    expect(await pc).toBe('cancelled');
    const next = await gw.fetch<{ data?: { id?: string } }>({ path: '/ip_addresses/1.1.1.1' });
    expect(next.body.data?.id).toBe('1.1.1.1');
  });
});
