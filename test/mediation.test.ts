/**
 * The API mediation end to end (issue: rate limits, quota, cache and batch triage), through the MCP
 * client against the stand-in API. Timing checks compare with an ideal derived from the configured
 * limit plus a request latency measured in the same run, never with a fixed number of seconds.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { type Harness, startHarness, TEST_KEY, textOf } from './helpers/harness.js';
import { sleep, slowUpstream, vtWindow } from './helpers/limits.js';
import { virtualTimeForEachTest } from './helpers/virtual-time.js';

const files = new RecordedApi().objects('file') as Array<{ id: string; attributes: Record<string, string> }>;
const sha256s = [...new Set(files.map((f) => f.id))];
const PE = files.find((f) => f.attributes.md5 === 'e2a52f78fc1dc2eb561fd5d77892d642');

// Every test here waits on a window, a pause, a retry or a slow stand-in: on a virtual clock.
virtualTimeForEachTest();

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** vt_triage's structuredContent (a job). */
interface TriageJob {
  job: string;
  status: 'running' | 'paused' | 'done' | 'cancelled';
  total: number;
  counts: Record<
    'malicious' | 'suspicious' | 'undetected' | 'no_verdict' | 'not_found' | 'failed' | 'pending',
    number
  >;
  next_lookup_at?: string;
  eta?: string;
  paused_for?: 'daily_cap' | 'fair_share';
  plan?: { today: number; later: number; resumes_at: string };
  results: Array<{ input: string; verdict: string; error?: string }>;
  next_cursor?: string;
}
const jobOf = (r: CallToolResult) => r.structuredContent as unknown as TriageJob;

/** Follows a job with {job} alone until it is no longer running (each call waits within its budget). */
async function settle(harness: Harness, answer: CallToolResult, maxPolls = 10): Promise<CallToolResult> {
  let last = answer;
  for (let i = 0; i < maxPolls && jobOf(last).status === 'running'; i++) {
    last = await harness.call('vt_triage', { job: jobOf(last).job });
  }
  return last;
}

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
    const first = await h.call('vt_triage', { indicators });
    expect(first.isError, textOf(first)).toBeFalsy();
    // The call waits for the job within its budget; should it answer before the job is done, the job
    // is followed with {job} alone until it is.
    const r = await settle(h, first);
    const elapsed = performance.now() - t0;
    const sc = jobOf(r);
    expect(vt.rejected()).toBe(0);
    expect(sc).toMatchObject({ status: 'done', total: 20 });
    expect(sc.counts).toMatchObject({ pending: 0, failed: 0 });
    expect(sc.next_cursor).toBeUndefined();
    expect(sc.results).toHaveLength(20);
    expect(new Set(sc.results.map((x) => x.input))).toEqual(new Set(indicators));
    expect(sc.results.every((x) => x.verdict !== 'error')).toBe(true);
    // Every indicator once upstream.
    expect(h.api.count('/files/')).toBe(20);
    // 4 go at once, then 4 more every 2 s: the last batch leaves at 8 s.
    const ideal = (Math.ceil(20 / 4) - 1) * 2000 + latency;
    console.log(
      `triage of 20 under 4/2s: ${Math.round(elapsed)} ms, ideal ${Math.round(ideal)} ms, ratio ${(elapsed / ideal).toFixed(3)}`,
    );
    expect(elapsed / ideal).toBeLessThanOrEqual(1.3);
    // The limiter really waited: faster than the window allows would have been a 429.
    expect(elapsed).toBeGreaterThanOrEqual(8000 - 100);

    // The same 20 again (a new job): all from the cache.
    const before = h.api.count('/files/');
    const again = jobOf(await settle(h, await h.call('vt_triage', { indicators })));
    expect(again.status).toBe('done');
    expect(again.results).toHaveLength(20);
    expect(again.results.every((x) => x.verdict !== 'error')).toBe(true);
    expect(h.api.count('/files/')).toBe(before);
  }, 30_000);

  it('pauses the job at the daily cap mid-triage: partial results, the rest pending, and how to carry it on', async () => {
    h = await startHarness({ env: { VT_DAILY_QUOTA: '5' } });
    const indicators = sha256s.slice(0, 8);
    const r = await h.call('vt_triage', { indicators });
    expect(r.isError, textOf(r)).toBeFalsy();
    const sc = jobOf(r);
    // As many lookups as the cap allows, not one more.
    expect(h.api.count('/files/')).toBe(5);
    // The call waited until the cap paused the job: partial results, the rest pending.
    expect(sc).toMatchObject({ status: 'paused', total: 8, paused_for: 'daily_cap' });
    expect(sc.counts.pending).toBe(3);
    expect(sc.results).toHaveLength(5);
    expect(sc.results.every((x) => x.verdict !== 'error')).toBe(true);
    const checked = sc.results.map((x) => x.input);
    expect(new Set(checked).size).toBe(5);
    expect(checked.every((x) => indicators.includes(x))).toBe(true);
    // It was planned for at the start: 5 today, 3 after the reset.
    expect(sc.plan).toMatchObject({ today: 5, later: 3 });
    expect(sc.plan?.resumes_at).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00Z$/);
    const text = textOf(r);
    expect(text.split('\n')[0]).toMatch(
      /^Triage job [a-z0-9]{12} \(paused\): 8 indicators: .*3 pending, paused: the day's cap is spent\.$/,
    );
    expect(text).toMatch(
      /VT_DAILY_QUOTA 5\): about 5 lookups today .*then it pauses, and the other 3 wait until you carry it on with resume from \d{4}-\d{2}-\d{2}T00:00:00Z/,
    );
    expect(text).toContain(`vt_triage {"job":"${sc.job}","resume":true}`);
    // A poll while it is paused sends nothing and says the same.
    const poll = jobOf(await h.call('vt_triage', { job: sc.job }));
    expect(poll).toMatchObject({ status: 'paused', paused_for: 'daily_cap' });
    expect(poll.counts.pending).toBe(3);
    expect(h.api.count('/files/')).toBe(5);
    // Its owner may carry it on; the same day the cap still holds, so it pauses again having spent nothing.
    const resumed = await h.call('vt_triage', { job: sc.job, resume: true });
    expect(textOf(resumed)).toMatch(/^Resumed: job [a-z0-9]{12} carries on from where it paused\.\n/);
    expect(jobOf(resumed)).toMatchObject({ status: 'paused', paused_for: 'daily_cap' });
    expect(h.api.count('/files/')).toBe(5);
    // A later single lookup gets the plain answer of the cap, and cached results still work.
    const pending = indicators.find((x) => !checked.includes(x)) as string;
    const more = await h.call('vt_get_report', { indicator: pending });
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

  it('reports progress per finished indicator while the call waits for the job', async () => {
    // One lookup a second, so that each result comes in while the call is waiting for the job.
    h = await startHarness({ env: { VT_RATE_LIMIT: '1/1s' } });
    const seen: number[] = [];
    const r = await h.client.callTool(
      { name: 'vt_triage', arguments: { indicators: sha256s.slice(0, 5) } },
      undefined,
      {
        onprogress: (p) => {
          seen.push(p.progress);
        },
      },
    );
    expect(jobOf(r as CallToolResult).status).toBe('done');
    expect(seen.every((p, i) => i === 0 || p > (seen[i - 1] as number))).toBe(true);
    // Each finished indicator was reported as it came in, the last one included.
    for (let done = 1; done <= 5; done++) expect(seen).toContain(done);
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

describe('a job larger than what is left of the day', () => {
  it("states its plan without an ETA at the window's pace, and shows when the next lookup goes", async () => {
    h = await startHarness({
      env: { VT_RATE_LIMIT: '1/60s', VT_DAILY_QUOTA: '3', VT_MAX_WAIT_SECONDS: '1' },
    });
    const r = await h.call('vt_triage', { indicators: sha256s.slice(0, 8) });
    const sc = jobOf(r);
    expect(sc).toMatchObject({ status: 'running', plan: { today: 3, later: 5 } });
    expect(sc.next_lookup_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(sc).not.toHaveProperty('eta');
    // Without a plan the same window gives an ETA.
    const h2 = await startHarness({ env: { VT_RATE_LIMIT: '1/60s', VT_MAX_WAIT_SECONDS: '1' } });
    try {
      const plain = jobOf(await h2.call('vt_triage', { indicators: sha256s.slice(0, 8) }));
      expect(plain.status).toBe('running');
      expect(plain).toHaveProperty('eta');
    } finally {
      await h2.close();
    }
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
    // No key: no job is started, and the answer says what to set.
    h = await startHarness({ noKey: true });
    const none = await h.call('vt_triage', { indicators: ['github.com', '1.1.1.1'] });
    expect(none.isError).toBe(true);
    expect(textOf(none)).toMatch(/No VirusTotal API key is configured.*VIRUSTOTAL_API_KEY/);
    expect(h.api.count()).toBe(0);
    await h.close();

    // A wrong key: the first lookup fails on the key (a rejected key is not retried), and the job stops
    // there: the rest fail with the same reason without a request each. The answer says the key was rejected.
    h = await startHarness({ env: { VT_MAX_CONCURRENCY: '1' }, api: { apiKey: 'another-key' } });
    const six = ['github.com', '1.1.1.1', 'example.com', '8.8.8.8', 'example.org', '9.9.9.9'];
    const wrong = await settle(h, await h.call('vt_triage', { indicators: six }));
    const sc = jobOf(wrong);
    expect(sc.status).toBe('done');
    expect(sc.counts).toMatchObject({ failed: 6, pending: 0, undetected: 0, not_found: 0 });
    expect(sc.results.map((x) => [x.verdict, x.error])).toEqual(
      six.map(() => ['error', 'lookup failed (auth)']),
    );
    expect(h.api.count()).toBe(1);
    expect(textOf(wrong)).toMatch(
      /6 lookups failed \(auth\): VirusTotal rejected the API key \(WrongCredentialsError\).*VIRUSTOTAL_API_KEY/,
    );
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

  it('returns within its budget with the job running and the rest pending; polls finish it, a failing lookup retried, then reported failed', async () => {
    // Two lookups per 10 s and one at a time: the 14 requests of this job (5 files, and github.com
    // 3 times with 2 retries each) take about a minute, three times the call's budget of 20 s.
    const BUDGET_MS = 20_000;
    h = await startHarness({
      env: { VT_RATE_LIMIT: '2/10s', VT_MAX_WAIT_SECONDS: String(BUDGET_MS / 1000), VT_MAX_CONCURRENCY: '1' },
      api: {
        hook: (req, res) => {
          if (!req.path.includes('github.com')) return false;
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{"error":{"code":"InternalError","message":"boom"}}');
          return true;
        },
      },
    });
    const indicators = ['github.com', ...sha256s.slice(0, 5)];
    const t0 = performance.now();
    const r = await h.call('vt_triage', { indicators });
    const elapsed = performance.now() - t0;
    expect(r.isError, textOf(r)).toBeFalsy();
    const sc = jobOf(r);
    // It waited for results for its budget, and no longer; the job goes on without it.
    console.log(
      `first answer after ${Math.round(elapsed)} ms, ratio ${(elapsed / BUDGET_MS).toFixed(3)} to the budget`,
    );
    expect(elapsed / BUDGET_MS).toBeGreaterThanOrEqual(0.9);
    expect(elapsed / BUDGET_MS).toBeLessThanOrEqual(1.1);
    expect(sc).toMatchObject({ status: 'running', total: 6 });
    expect(sc.counts.pending).toBeGreaterThan(0);
    expect(Object.values(sc.counts).reduce((a, b) => a + b, 0)).toBe(6);
    expect(sc.results.length + sc.counts.pending).toBe(6);
    // When the next lookup leaves and when the job should be done, and how to follow it.
    expect(sc.next_lookup_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(sc.eta).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(textOf(r)).toMatch(/next lookup (now|in \d+ s), done by about \d{4}-/);
    expect(textOf(r)).toContain(`Follow it with vt_triage {"job":"${sc.job}"}`);

    // Polls with {job} alone finish it: every file answered once, github.com failed after 2 tries.
    const last = await settle(h, r);
    const done = jobOf(last);
    expect(done).toMatchObject({ status: 'done', total: 6 });
    expect(done.counts).toMatchObject({ pending: 0, failed: 1 });
    expect(done.results).toHaveLength(6);
    const github = done.results.find((x) => x.input === 'github.com');
    expect(github).toMatchObject({ verdict: 'error', error: 'lookup failed (transient)' });
    expect(done.results.filter((x) => x.verdict === 'error')).toHaveLength(1);
    // Failed lookups rank last.
    expect(done.results.at(-1)?.input).toBe('github.com');
    // 2 tries by the job, each sent 3 times by the gateway (2 retries of a 500).
    expect(h.api.count('/domains/github.com')).toBe(2 * 3);
    expect(h.api.count('/files/')).toBe(5);
    expect(textOf(last)).toMatch(
      /1 lookup failed \(transient\): VirusTotal is unavailable right now \(InternalError\)/,
    );
    expect(textOf(last)).not.toContain('Follow it with');
  }, 30_000);
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
