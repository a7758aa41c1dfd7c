/**
 * respond()'s budget for structuredContent (src/answers/respond.ts fitStructure): the structure is cut
 * only when over budget, largest lists first, then optional fields, only in ways the output schema
 * allows, and every cut is counted in `truncated`.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fitStructure, pageStructured } from '../src/answers/respond.js';

const size = (v: unknown) => JSON.stringify(v).length;
const items = (n: number, width: number) => Array.from({ length: n }, (_, i) => `${i}`.padEnd(width, 'x'));

describe('fitStructure', () => {
  it('leaves a structure within budget as it is', () => {
    const s = { a: items(3, 10), b: 'short' };
    expect(fitStructure(s, 1_000)).toBe(s);
  });

  it('cuts the largest list first, from its end, and counts what it cut', () => {
    const s = { big: items(100, 50), small: items(5, 50), note: 'kept' };
    const out = fitStructure(s, 2_000) as typeof s & { truncated?: Record<string, number> };
    expect(size(out)).toBeLessThanOrEqual(2_000);
    expect(out.big.length + (out.truncated?.big ?? 0)).toBe(100);
    expect(out.big).toEqual(s.big.slice(0, out.big.length));
    // The small list is cut only once the big one is down to its size.
    expect(out.small.length + (out.truncated?.small ?? 0)).toBe(5);
    expect(out.note).toBe('kept');
    // The input is not changed.
    expect(s.big).toHaveLength(100);
  });

  it('keeps a weighted list longer', () => {
    const s = { results: items(40, 50), unchecked: items(40, 50) };
    const out = fitStructure(s, 2_000, { weights: { results: 2 } });
    expect(size(out)).toBeLessThanOrEqual(2_000);
    expect(out.results.length).toBeGreaterThan(out.unchecked.length);
  });

  it('leaves out optional fields the schema allows, largest first, before emptying lists', () => {
    const schema = z.object({
      id: z.string(),
      names: z.array(z.string()),
      whois: z.string().optional(),
      truncated: z.record(z.string(), z.number()).optional(),
    });
    const s = { id: 'i'.repeat(300), names: items(10, 100), whois: 'w'.repeat(1_500) };
    const out = fitStructure(s, 1_000, { schema }) as Partial<typeof s> & {
      truncated?: Record<string, number>;
    };
    expect(size(out)).toBeLessThanOrEqual(1_000);
    expect(out.whois).toBeUndefined();
    expect(out.truncated?.whois).toBe(1);
    // Required, however large.
    expect(out.id).toBe(s.id);
    expect(out.names?.length).toBeGreaterThanOrEqual(1);
    expect(schema.safeParse(out).success).toBe(true);
  });
});

describe('a page cut to its text', () => {
  it('says in the structure how many items the text had no room for', () => {
    expect(pageStructured(['a', 'b', 'c'], 2, { next: 'c1', total: 9 })).toEqual({
      items: ['a', 'b'],
      next_cursor: 'c1',
      total: 9,
      truncated: { items: 1 },
    });
    expect(pageStructured(['a'], 1, {})).toEqual({ items: ['a'] });
  });

  it('fitStructure counts on from what the tool already left out', () => {
    const s = {
      items: Array.from({ length: 50 }, (_, i) => `item-${i}-${'x'.repeat(40)}`),
      truncated: { items: 3 },
    };
    const fitted = fitStructure(s, 800) as typeof s;
    expect(fitted.items.length).toBeLessThan(50);
    expect(fitted.truncated.items).toBe(3 + (50 - fitted.items.length));
  });
});
