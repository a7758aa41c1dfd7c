/**
 * What the server keeps of an answer (src/vt/kept-answer.ts) leaves out the engines that flagged
 * nothing. The judge is every recorded file, URL, domain and IP object: each answer made from what is
 * kept (reports concise and detailed, their text, relationship and search lines, triage rows, pivots)
 * is the answer made from the object as VirusTotal sent it. And through the server: what the SQLite
 * file holds of a fresh answer has only the flagging engines, and a cached answer reads as the fresh one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { renderReport, summarizeReport } from '../src/summaries/index.js';
import { pivotQueries } from '../src/summaries/pivots.js';
import { summarizeObject, summarizeRelated } from '../src/summaries/related.js';
import { triageRow } from '../src/summaries/triage.js';
import type { VtObject } from '../src/vt/envelope.js';
import { keptAnswer } from '../src/vt/kept-answer.js';
import { openStateStore } from '../src/vt/state/open.js';
import { unpackBody } from '../src/vt/state/packed-body.js';
import { startHarness, TEST_KEY, textOf } from './helpers/harness.js';

type Obj = Record<string, unknown> & { attributes?: Record<string, unknown> };

const recordings = new RecordedApi()
  .objects()
  .filter((o) => ['file', 'url', 'domain', 'ip_address'].includes(String(o.type))) as Obj[];

/**
 * The recordings, and one of them with an engine that found the file suspicious: no recording has such
 * a verdict, and a suspicious engine is shown as a malicious one is.
 */
const recorded: Obj[] = [...recordings, withSuspicious(recordings.find((o) => o.type === 'file') as Obj)];

function withSuspicious(o: Obj): Obj {
  const r = { ...(o.attributes?.last_analysis_results as Record<string, unknown>) };
  const engine = Object.keys(r).find((e) => (r[e] as { category?: string }).category === 'undetected');
  r[engine as string] = { category: 'suspicious', engine_name: engine, result: 'Suspicious.Heuristic' };
  return { ...o, id: 'with-suspicious', attributes: { ...o.attributes, last_analysis_results: r } };
}

function keptOf(o: Obj): Obj {
  return (keptAnswer({ data: o }) as { data: Obj }).data;
}

const results = (o: Obj) =>
  (o.attributes?.last_analysis_results ?? {}) as Record<string, { category?: string }>;

describe('what is kept of an answer', () => {
  it('has recordings to judge by, most of them with engines that flagged nothing', () => {
    expect(recordings.length).toBeGreaterThan(100);
    const withClean = recordings.filter((o) =>
      Object.values(results(o)).some((r) => r.category !== 'malicious' && r.category !== 'suspicious'),
    );
    expect(withClean.length).toBeGreaterThan(recordings.length / 2);
  });

  it('keeps exactly the engines that flagged, and the counts whole', () => {
    for (const o of recorded) {
      const k = keptOf(o);
      const flagged = Object.entries(results(o)).filter(
        ([, r]) => r.category === 'malicious' || r.category === 'suspicious',
      );
      expect(Object.entries(results(k))).toEqual(flagged);
      expect(k.attributes?.last_analysis_stats).toEqual(o.attributes?.last_analysis_stats);
      // Nothing else of the object changes.
      const { last_analysis_results: _a, ...rest } = o.attributes ?? {};
      const { last_analysis_results: _b, ...keptRest } = k.attributes ?? {};
      expect(keptRest).toEqual(rest);
    }
  });

  it('makes every answer the object as sent makes', () => {
    const now = Date.parse('2026-12-07T00:00:00Z');
    for (const o of recorded) {
      const k = keptOf(o);
      for (const detail of ['concise', 'detailed'] as const) {
        const a = summarizeReport(o, detail, now);
        const b = summarizeReport(k, detail, now);
        expect(b).toEqual(a);
        if (a && b) expect(renderReport(b, 6000)).toBe(renderReport(a, 6000));
      }
      expect(summarizeRelated(k as VtObject)).toEqual(summarizeRelated(o as VtObject));
      expect(summarizeObject(k as VtObject)).toEqual(summarizeObject(o as VtObject));
      expect(triageRow('x', 'file', String(o.id), k as VtObject)).toEqual(
        triageRow('x', 'file', String(o.id), o as VtObject),
      );
      expect(pivotQueries(k.attributes ?? {})).toEqual(pivotQueries(o.attributes ?? {}));
    }
  });

  it('gives back the same value when there is nothing to leave out', () => {
    const plain = { data: { type: 'analysis', attributes: { results: { A: { category: 'undetected' } } } } };
    expect(keptAnswer(plain)).toBe(plain);
    const allFlagged = {
      data: [{ type: 'file', attributes: { last_analysis_results: { A: { category: 'malicious' } } } }],
    };
    expect(keptAnswer(allFlagged)).toBe(allFlagged);
    expect(keptAnswer('text')).toBe('text');
    expect(keptAnswer({ data: null })).toEqual({ data: null });
  });

  it('cuts every object of a page', () => {
    const page = { data: recorded.slice(0, 5), meta: { cursor: 'c' }, links: { next: 'n' } };
    const k = keptAnswer(page) as typeof page;
    expect(k.meta).toEqual(page.meta);
    expect(k.data).toEqual(recorded.slice(0, 5).map(keptOf));
  });
});

describe('through the server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtbrief-kept-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('files only the flagging engines in the SQLite cache, and answers the same from it', async () => {
    const file = join(dir, 'state.db');
    const sha = '03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b';
    const open = async () =>
      (await openStateStore(`sqlite:${file}`, { apiKey: TEST_KEY, env: {}, cacheMaxBytes: 1e7 })).store;
    const first = await startHarness({ store: await open() });
    let fresh: string;
    try {
      fresh = textOf(await first.call('vt_get_report', { indicator: sha, detail: 'detailed' }));
    } finally {
      await first.close();
    }
    const db = new DatabaseSync(file, { readOnly: true });
    const rows = db.prepare('SELECT body, encoding FROM cache').all();
    db.close();
    const bodies = rows.map((r) => JSON.parse(unpackBody(r.body as Uint8Array, Number(r.encoding))));
    const stored = bodies.find((b) => b?.data?.id === sha);
    expect(stored).toBeDefined();
    const categories = Object.values(stored.data.attributes.last_analysis_results).map(
      (r) => (r as { category: string }).category,
    );
    expect(categories.length).toBeGreaterThan(0);
    expect(categories.every((c) => c === 'malicious' || c === 'suspicious')).toBe(true);

    // A new process answers from the file alone, word for word as the fresh answer (but its source line).
    const second = await startHarness({ store: await open() });
    try {
      const cached = textOf(await second.call('vt_get_report', { indicator: sha, detail: 'detailed' }));
      expect(second.api.requests).toHaveLength(0);
      const body = (t: string) => t.split('\n').filter((l) => !/fetched|cached|Source/i.test(l));
      expect(body(cached)).toEqual(body(fresh));
    } finally {
      await second.close();
    }
  });
});
