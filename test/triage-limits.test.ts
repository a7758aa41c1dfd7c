/**
 * vt_triage's input limits answer in words (1,000 per job): a list
 * over the per-job maximum, a text over its size limit or an entry too long for an indicator names the
 * limit and what to do, at no upstream request; a text with more indicators than a job holds starts a
 * job of the first 1,000 and says where the rest begin; the schema keeps advertising the same limits.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TRIAGE } from '../src/tools/triage.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

/** vt_triage's structuredContent: a job. */
interface TriageJob {
  job: string;
  status: 'running' | 'paused' | 'done' | 'cancelled';
  total: number;
  counts: Record<string, number>;
  results: Array<{ input: string; verdict: string }>;
  ignored?: Record<string, number>;
}
const jobOf = (r: CallToolResult) => r.structuredContent as unknown as TriageJob;

const domains = (n: number) => Array.from({ length: n }, (_, i) => `host${i}.example.com`);

describe('vt_triage input limits', () => {
  it(`a list of ${MAX_TRIAGE + 1}: names the limit of ${MAX_TRIAGE} and what to do, no upstream request`, async () => {
    expect(MAX_TRIAGE).toBe(1000);
    const r = await h.call('vt_triage', { indicators: domains(MAX_TRIAGE + 1) });
    expect(r.isError).toBe(true);
    const text = textOf(r);
    expect(text).toContain('The list has 1,001 indicators; vt_triage checks at most 1,000 per job.');
    expect(text).toMatch(
      /Split the list into jobs of 1,000 or fewer, or pass the indicators as one text .*the first 1,000 are checked and the answer says where the rest begin/,
    );
    expect(text).not.toMatch(/Invalid input at/);
    expect(h.api.count()).toBe(0);
  });

  it('a list of 2,500: the same words, with its size', async () => {
    const r = await h.call('vt_triage', { indicators: domains(2500) });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('The list has 2,500 indicators; vt_triage checks at most 1,000 per job.');
    expect(h.api.count()).toBe(0);
  });

  it(`a list of exactly ${MAX_TRIAGE} is taken: one job, every one looked up once`, async () => {
    const before = h.api.count();
    let r = await h.call('vt_triage', { indicators: domains(MAX_TRIAGE) });
    expect(r.isError, textOf(r)).toBeFalsy();
    const job = jobOf(r).job;
    expect(jobOf(r).total).toBe(MAX_TRIAGE);
    expect(jobOf(r)).not.toHaveProperty('ignored');
    for (let i = 0; i < 5 && jobOf(r).status === 'running'; i++) r = await h.call('vt_triage', { job });
    expect(jobOf(r).status).toBe('done');
    expect(jobOf(r).counts).toMatchObject({ pending: 0, failed: 0, not_found: MAX_TRIAGE });
    expect(h.api.count() - before).toBe(MAX_TRIAGE);
  });

  it(`the same list of ${MAX_TRIAGE + 1} as text: the first ${MAX_TRIAGE} are in the job, and the answer says where the rest begin`, async () => {
    const list = domains(MAX_TRIAGE + 1);
    const r = await h.call('vt_triage', { indicators: list.join('\n') });
    expect(r.isError, textOf(r)).toBeFalsy();
    const sc = jobOf(r);
    expect(sc.total).toBe(MAX_TRIAGE);
    expect(sc.ignored).toEqual({ over_limit: 1 });
    expect(textOf(r)).toContain(
      `Only the first 1,000 indicators are in this job; 1 more begin at \`${list.at(-1)}\` in the text you gave: start another job with them.`,
    );
    // The one left out is not in the job.
    expect(sc.results.some((x) => x.input === list.at(-1))).toBe(false);
  });

  it('a text over 200,000 characters and an entry over 8,192 say so', async () => {
    const before = h.api.count();
    const long = await h.call('vt_triage', { indicators: 'x '.repeat(100_001) });
    expect(long.isError).toBe(true);
    expect(textOf(long)).toMatch(
      /The text is 200,002 characters; vt_triage reads at most 200,000\. Split it/,
    );
    const entry = await h.call('vt_triage', {
      indicators: ['github.com', `https://a.example/${'a'.repeat(8200)}`],
    });
    expect(entry.isError).toBe(true);
    expect(textOf(entry)).toMatch(/An entry of the list is longer than 8,192 characters/);
    const wrong = await h.call('vt_triage', { indicators: 42 });
    expect(wrong.isError).toBe(true);
    expect(textOf(wrong)).toMatch(
      /Give a list of up to 1,000 indicators \(strings\), or one text of up to 200,000/,
    );
    expect(h.api.count() - before).toBe(0);
  });

  it('tools/list still states the limits in the schema', async () => {
    const { tools } = await h.client.listTools();
    const schema = JSON.stringify(tools.find((t) => t.name === 'vt_triage')?.inputSchema);
    expect(schema).toContain(`"maxItems":${MAX_TRIAGE}`);
    expect(schema).toContain('"maxLength":200000');
    expect(schema).toContain('"maxLength":8192');
  });
});
