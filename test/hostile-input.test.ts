/**
 * Text that is not valid Unicode (a lone surrogate: half of a character) in `query`,
 * `cursor` or any other text parameter is bad input. It gets a clear input error, not "internal error
 * ... may work if retried", and spends no lookup. So does a cursor that is not a cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

const SHA = '6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const LONE: Array<[string, string, Record<string, unknown>]> = [
  ['query', 'vt_search', { query: 'type:peexe name:\ud800x' }],
  ['query', 'vt_search', { query: 'trailing half of an emoji \ud83d' }],
  ['query', 'vt_search', { query: '\ude00 leading low surrogate' }],
  ['cursor', 'vt_search', { query: 'type:peexe', cursor: 'STEwCi4\ud800' }],
  ['order', 'vt_search', { query: 'type:peexe', order: 'positives\udc00' }],
  [
    'cursor',
    'vt_get_relationships',
    { indicator: 'github.com', relationship: 'resolutions', cursor: '\udfff' },
  ],
  ['relationship', 'vt_get_relationships', { indicator: 'github.com', relationship: 'resolutions\ud800' }],
  ['relationships', 'vt_get_relationships', { indicator: 'github.com', relationships: ['subdomains\ud800'] }],
  ['indicator', 'vt_get_relationships', { indicator: 'github\ud800.com', relationship: 'resolutions' }],
  ['indicator', 'vt_get_report', { indicator: 'github\ud800.com' }],
  ['indicator', 'vt_get_behaviour', { indicator: `${SHA}\ud800` }],
];

describe('a lone surrogate is bad input', () => {
  it.each(LONE)('in %s (%s)', async (param, tool, args) => {
    const before = h.api.requests.length;
    const r = await h.call(tool, args);
    const text = textOf(r);
    expect(r.isError).toBe(true);
    expect(text).toContain(`\`${param}\` is not valid Unicode text`);
    expect(text).not.toMatch(/internal error|may work if retried/);
    expect(h.api.requests.length).toBe(before);
  });

  it('while a whole emoji is fine', async () => {
    const before = h.api.requests.length;
    const r = await h.call('vt_search', { query: 'name:"😀.exe"' });
    expect(r.isError).toBeFalsy();
    expect(h.api.requests.length).toBe(before + 1);
  });
});

describe('a cursor that is not a cursor', () => {
  it.each([
    ['a line break', 'abc\ndef'],
    ['a space', 'abc def'],
    ['markup', '![x](https://attacker.example/c)'],
    ['a tag character', 'abc\u{E0041}'],
  ])('with %s is refused before any lookup', async (_what, cursor) => {
    for (const [tool, args] of [
      ['vt_search', { query: 'type:peexe', cursor }],
      ['vt_get_relationships', { indicator: 'github.com', relationship: 'resolutions', cursor }],
    ] as const) {
      const before = h.api.requests.length;
      const r = await h.call(tool, args);
      expect(r.isError).toBe(true);
      expect(textOf(r)).toContain('`cursor` is not a cursor');
      expect(h.api.requests.length).toBe(before);
    }
  });

  it('an empty cursor still means the first page', async () => {
    const r = await h.call('vt_get_relationships', {
      indicator: 'github.com',
      relationship: 'resolutions',
      cursor: '',
    });
    expect(r.isError).toBeFalsy();
  });
});
