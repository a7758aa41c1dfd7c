/**
 * vt_triage's input limits answer in words (issue 9, item 19): a list over the per-call maximum, a text
 * over its size limit or an entry too long for an indicator names the limit and what to do, at no
 * upstream request; the schema keeps advertising the same limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TRIAGE } from '../src/tools/triage.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const domains = (n: number) => Array.from({ length: n }, (_, i) => `host${i}.example.com`);

describe('vt_triage input limits', () => {
  it(`a list of ${MAX_TRIAGE + 1}: names the limit of ${MAX_TRIAGE} and what to do, no upstream request`, async () => {
    const r = await h.call('vt_triage', { indicators: domains(MAX_TRIAGE + 1) });
    expect(r.isError).toBe(true);
    const text = textOf(r);
    expect(text).toContain(
      `The list has ${MAX_TRIAGE + 1} indicators; vt_triage checks at most ${MAX_TRIAGE} per call.`,
    );
    expect(text).toMatch(/Split the list into calls of 100 or fewer, or pass the indicators as one text/);
    expect(text).not.toMatch(/Invalid input at/);
    expect(h.api.count()).toBe(0);
  });

  it('a list of 1,000: the same words, with its size', async () => {
    const r = await h.call('vt_triage', { indicators: domains(1000) });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('The list has 1,000 indicators; vt_triage checks at most 100 per call.');
  });

  it(`a list of exactly ${MAX_TRIAGE} is taken`, async () => {
    const before = h.api.count();
    const r = await h.call('vt_triage', { indicators: domains(MAX_TRIAGE) });
    expect(r.isError).toBeFalsy();
    expect(h.api.count() - before).toBe(MAX_TRIAGE);
  });

  it('the same list as text: the first 100 checked, the rest returned unchecked', async () => {
    const list = domains(MAX_TRIAGE + 1);
    const r = await h.call('vt_triage', { indicators: list.join('\n') });
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as { unchecked: string[] }).unchecked).toEqual([list.at(-1)]);
  });

  it('a text over 200,000 characters and an entry over 8,192 say so', async () => {
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
      /Give a list of up to 100 indicators \(strings\), or one text of up to 200,000/,
    );
  });

  it('tools/list still states the limits in the schema', async () => {
    const { tools } = await h.client.listTools();
    const schema = JSON.stringify(tools.find((t) => t.name === 'vt_triage')?.inputSchema);
    expect(schema).toContain(`"maxItems":${MAX_TRIAGE}`);
    expect(schema).toContain('"maxLength":200000');
    expect(schema).toContain('"maxLength":8192');
  });
});
