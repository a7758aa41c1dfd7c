/**
 * Cache hits that share work: the answers hit most recently are kept parsed and frozen (one object for
 * every caller), and what is read from such an answer (its checked envelope, its summary, its text) is
 * made once. Bounded: an answer out of the few kept parsed is parsed again, into a new object.
 */
import { describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { renderReport, summarizeReport } from '../src/summaries/index.js';
import { ResponseCache } from '../src/vt/cache.js';

const files = new RecordedApi().objects('file') as Array<{ id: string }>;
const cache = () =>
  new ResponseCache({ ttlMs: 60_000, notFoundTtlMs: 60_000, maxEntries: 1000, maxBytes: 64e6 });
/** The `data` of the answer cached for `o`. */
function dataOf(c: ResponseCache, o: { id: string }): unknown {
  const body = c.get(`/files/${o.id}`)?.body as { data: unknown } | undefined;
  if (!body) throw new Error(`${o.id} is not cached`);
  return body.data;
}
const put = (c: ResponseCache, o: { id: string }) =>
  c.set(`/files/${o.id}`, Buffer.from(JSON.stringify({ data: o })), new Date());

describe('hot answers', () => {
  it('hands every caller one frozen object, which nobody can change', () => {
    const c = cache();
    put(c, files[0] as { id: string });
    const a = c.get(`/files/${files[0]?.id}`)?.body as { data: { attributes: Record<string, unknown> } };
    const b = c.get(`/files/${files[0]?.id}`)?.body;
    expect(b).toBe(a);
    expect(Object.isFrozen(a.data.attributes)).toBe(true);
    expect(() => {
      a.data.attributes.meaningful_name = 'changed';
    }).toThrow(TypeError);
  });

  it('makes the summary and its text once per answer, and again for an answer replaced', () => {
    const c = cache();
    const o = files[1] as { id: string };
    put(c, o);
    const data = dataOf(c, o);
    const s1 = summarizeReport(data, 'concise');
    expect(summarizeReport(data, 'concise')).toBe(s1);
    expect(summarizeReport(data, 'detailed')).not.toBe(s1);
    expect(Object.isFrozen(s1)).toBe(true);
    if (!s1) throw new Error('no summary');
    expect(renderReport(s1, 4000)).toBe(renderReport(s1, 4000));
    // A fresh answer for the same object: a new object, summarised anew.
    put(c, o);
    const again = dataOf(c, o);
    expect(again).not.toBe(data);
    expect(summarizeReport(again, 'concise')).not.toBe(s1);
    expect(summarizeReport(again, 'concise')).toEqual(s1);
    // An object nobody froze (an answer straight from upstream) is summarised each time.
    const loose = structuredClone(data);
    expect(summarizeReport(loose, 'concise')).not.toBe(summarizeReport(loose, 'concise'));
  });

  it('keeps only the few answers hit last parsed', () => {
    const c = cache();
    const many = files.slice(0, 40);
    expect(many.length).toBe(40);
    for (const o of many) put(c, o);
    const first = c.get(`/files/${many[0]?.id}`)?.body;
    expect(c.get(`/files/${many[0]?.id}`)?.body).toBe(first);
    // 39 other answers hit since: the first is out of the parsed few, and parsed anew.
    for (const o of many.slice(1)) c.get(`/files/${o.id}`);
    const later = c.get(`/files/${many[0]?.id}`)?.body;
    expect(later).not.toBe(first);
    expect(later).toEqual(first);
  });
});
