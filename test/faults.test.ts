/**
 * Faults and abuse: 1,000 mixed tool calls against a stand-in that fails 10% of requests in every way
 * VirusTotal or the network can (500, 503, 429, connection reset, no answer, truncated JSON, a body
 * too large). Every call must answer, with a result or a clear error, within its bound; the server
 * must not crash; and the next call must work. Loopback only, bounded in count and time. Timeouts,
 * back-off and 429 pauses pass on a virtual clock that the stand-in, the server and the stopwatch share.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { FAULT_MARKER, faultInjector, rateLimitInjector, seeded } from './helpers/faults.js';
import { startHarness, TEST_KEY, textOf } from './helpers/harness.js';
import { inVirtualTime } from './helpers/virtual-time.js';

/**
 * The client's timeout, on the virtual clock (helpers/virtual-time.ts): a hanging request costs it in
 * virtual seconds, while an ordinary loopback exchange, which takes real milliseconds, stays far inside
 * it even on a busy machine.
 */
const TIMEOUT_S = 3;
const objects = new RecordedApi().objects();
const ids = objects.map((o) =>
  o.type === 'url' ? String((o.attributes as { url: string }).url) : String(o.id),
);

/** The mixed workload: mostly lookups that must go upstream (fresh), some batches, some misc calls. */
function callFor(i: number, rand: () => number): { name: string; args: Record<string, unknown> } {
  const pick = () => ids[Math.floor(rand() * ids.length)] as string;
  const r = rand();
  if (r < 0.6) return { name: 'vt_get_report', args: { indicator: pick(), fresh: true } };
  if (r < 0.7) return { name: 'vt_get_report', args: { indicator: pick(), detail: 'detailed' } };
  if (r < 0.8) return { name: 'vt_triage', args: { indicators: [pick(), pick(), pick()] } };
  if (r < 0.85)
    return { name: 'vt_get_report', args: { indicator: `${'f'.repeat(63)}${i % 10}`, fresh: true } };
  if (r < 0.9) return { name: 'vt_get_report', args: { indicator: '../../users/me' } };
  return { name: 'vt_quota', args: {} };
}

describe('1,000 mixed calls with 10% injected upstream faults', () => {
  it(
    'every call answers within its bound, the server never crashes, and the next call works',
    () =>
      inVirtualTime(async () => {
        const faults = faultInjector(0.1, 7);
        const h = await startHarness({
          env: { VT_TIMEOUT_SECONDS: String(TIMEOUT_S), VT_MAX_WAIT_SECONDS: '3', VT_MAX_CONCURRENCY: '16' },
          api: { hook: faults.hook },
        });
        try {
          const rand = seeded(1234);
          const calls = Array.from({ length: 1000 }, (_, i) => callFor(i, rand));
          const outcomes: Array<{ ms: number; r: CallToolResult }> = [];
          let next = 0;
          // 16 callers at a time, like a busy agent pipeline.
          await Promise.all(
            Array.from({ length: 16 }, async () => {
              while (next < calls.length) {
                const c = calls[next++] as { name: string; args: Record<string, unknown> };
                const t0 = performance.now();
                const r = (await h.client.callTool({ name: c.name, arguments: c.args }, undefined, {
                  timeout: 30_000,
                })) as CallToolResult;
                outcomes.push({ ms: performance.now() - t0, r });
              }
            }),
          );
          faults.stop();
          expect(outcomes).toHaveLength(1000);
          console.log('faults played:', JSON.stringify(faults.played), 'upstream requests:', h.api.count());
          // Every kind of fault was played at least once.
          expect(Object.keys(faults.played).sort()).toEqual([
            '429',
            '500',
            '503',
            'hang',
            'huge',
            'reset',
            'truncated',
          ]);

          // Bound of one call: a timeout per attempt (no retry after a timeout), retries of 5xx within
          // a few seconds of backoff, and the 3 s maximum wait. Generous, but finite and never 30 s.
          const bound = (TIMEOUT_S + 3) * 1000 * 3;
          const slowest = Math.max(...outcomes.map((o) => o.ms));
          console.log(
            `slowest call ${Math.round(slowest)} ms (bound ${bound} ms); ${outcomes.filter((o) => !o.r.isError).length} answered`,
          );
          expect(slowest).toBeLessThan(bound);

          const errors = outcomes.filter((o) => o.r.isError);
          const ok = outcomes.filter((o) => !o.r.isError);
          expect(ok.length).toBeGreaterThan(700);
          for (const { r } of outcomes) {
            const text = textOf(r);
            expect(text.length).toBeGreaterThan(10);
            // No raw upstream body, no key, no stack trace.
            expect(text).not.toContain(FAULT_MARKER);
            expect(text).not.toContain(TEST_KEY);
            expect(text).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
          }
          // Errors are the curated kinds, never the internal-error fallback.
          for (const { r } of errors) {
            expect(textOf(r)).toMatch(
              /not valid|temporarily|did not answer|Could not reach|larger than|refusing requests|rate limit|is not a recognised|not an|VirusTotal|No new triage job/,
            );
            expect(textOf(r)).not.toContain('internal error');
          }

          // And the next call works.
          const after = await h.call('vt_get_report', { indicator: 'github.com', fresh: true });
          expect(after.isError).toBeFalsy();
          expect(textOf(after)).toContain('Domain github.com');
        } finally {
          faults.stop();
          await h.close();
        }
      }),
    120_000,
  );
});

describe('36% of requests answered 429 without Retry-After, limit off', () => {
  it(
    'pauses are proportionate: every call answers within seconds, not after 15 s pauses',
    () =>
      inVirtualTime(async () => {
        const faults = rateLimitInjector(0.36, 11);
        const h = await startHarness({
          env: { VT_RATE_LIMIT: 'off', VT_MAX_CONCURRENCY: '16' },
          api: { hook: faults.hook },
        });
        try {
          const rand = seeded(99);
          const calls = Array.from({ length: 80 }, () => ids[Math.floor(rand() * ids.length)] as string);
          const times: number[] = [];
          let next = 0;
          const t0 = performance.now();
          await Promise.all(
            Array.from({ length: 8 }, async () => {
              while (next < calls.length) {
                const indicator = calls[next++] as string;
                const t = performance.now();
                const r = await h.call('vt_get_report', { indicator, fresh: true });
                times.push(performance.now() - t);
                expect(textOf(r)).not.toContain(FAULT_MARKER);
              }
            }),
          );
          const total = performance.now() - t0;
          const slowest = Math.max(...times);
          console.log(
            `80 calls at 36% 429s: ${faults.refused()} refused, total ${Math.round(total)} ms, slowest call ${Math.round(slowest)} ms`,
          );
          expect(faults.refused()).toBeGreaterThan(20);
          // One 429 used to stop every request for 15 s. Now a pause is 1 s, doubling only while 429s
          // keep coming, and a call retries at most 3 times: 1 + 2 + 4 s at the very worst, plus the run's own.
          expect(slowest).toBeLessThan(15_000);
        } finally {
          await h.close();
        }
      }),
    120_000,
  );
});
