/**
 * Pivot queries in file reports: built from the similarity features of every recorded file, correctly
 * quoted for VT Intelligence, shown in vt_get_report answers, and within the report text budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { renderReport, summarizeReport } from '../src/summaries/index.js';
import { pivotQueries, signerOf } from '../src/summaries/pivots.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

type Json = Record<string, unknown>;

const api = new RecordedApi();
const FILES = api.objects('file');

function attrs(o: Json): Json {
  return (o.attributes ?? {}) as Json;
}

describe('pivotQueries (pure)', () => {
  it('builds one query per feature, quoted where VT needs quotes', () => {
    const tlsh = `T1${'A'.repeat(70)}`;
    const q = pivotQueries({
      pe_info: { imphash: 'F34D5F2D4577ED6D9CEEC516C1F5A744' },
      vhash: '016046655d5551z13z200787z57z82z1efz',
      ssdeep: '3072:Lz071uv4BPMkibTIA5sf6r+WVc2HhG82g1Vr5s1PTleHp:NABy',
      tlsh,
      main_icon: { dhash: '71F0CC989386BA80' },
      signature_info: { signers: 'Evil "Corp" Ltd.; Some CA; Root CA' },
    });
    expect(q).toEqual([
      { feature: 'imphash', query: 'imphash:f34d5f2d4577ed6d9ceec516c1f5a744' },
      { feature: 'vhash', query: 'vhash:"016046655d5551z13z200787z57z82z1efz"' },
      { feature: 'ssdeep', query: 'ssdeep:"3072:Lz071uv4BPMkibTIA5sf6r+WVc2HhG82g1Vr5s1PTleHp:NABy"' },
      { feature: 'tlsh', query: `tlsh:${tlsh}` },
      { feature: 'main_icon_dhash', query: 'main_icon_dhash:71f0cc989386ba80' },
      { feature: 'signer', query: 'signature:"Evil Corp Ltd."' },
    ]);
  });

  it('offers no query for a malformed value, and none that text could break out of', () => {
    const q = pivotQueries({
      pe_info: { imphash: 'not-a-hash' },
      vhash: '155076655d555d55555"z',
      ssdeep: '3072:abc" OR p:0 "x:def',
      tlsh: 'TNULL',
      main_icon: { dhash: '123' },
      signature_info: { signers: '""' },
    });
    expect(q).toEqual([]);
    expect(signerOf({ signature_info: { signers: 'Name\u202e With\u0000Control' } })).toBe(
      'Name With Control',
    );
  });

  it('covers every recorded file: each pivot carries the file’s own value', () => {
    let withPivots = 0;
    for (const o of FILES) {
      const a = attrs(o);
      const q = new Map(pivotQueries(a).map((p) => [p.feature, p.query]));
      if (q.size > 0) withPivots++;
      // ssdeep is in every recorded file and always well formed.
      expect(q.get('ssdeep')).toBe(`ssdeep:"${a.ssdeep as string}"`);
      const imphash = (a.pe_info as Json | undefined)?.imphash;
      if (typeof imphash === 'string') expect(q.get('imphash')).toBe(`imphash:${imphash}`);
      if (typeof a.vhash === 'string' && !a.vhash.includes('"')) {
        expect(q.get('vhash')).toBe(`vhash:"${a.vhash}"`);
      }
      if (typeof a.tlsh === 'string' && a.tlsh !== 'TNULL') expect(q.get('tlsh')).toBe(`tlsh:${a.tlsh}`);
      const dhash = (a.main_icon as Json | undefined)?.dhash;
      if (typeof dhash === 'string') expect(q.get('main_icon_dhash')).toBe(`main_icon_dhash:${dhash}`);
    }
    expect(withPivots).toBe(FILES.length);
  });

  it('keeps the report text budget: median ≤ 1,600 and max ≤ 4,000 over all recorded reports', () => {
    const sizes = api
      .objects()
      .map((o) => {
        const s = summarizeReport(o, 'concise');
        return s ? renderReport(s, 24_000 - 200).length : 0;
      })
      .sort((a, b) => a - b);
    expect(sizes.length).toBeGreaterThan(100);
    const median = sizes[Math.floor(sizes.length / 2)] ?? 0;
    expect(median).toBeLessThanOrEqual(1600);
    expect(sizes.at(-1)).toBeLessThanOrEqual(4000);
  });
});

describe('pivots in vt_get_report answers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  const withImphash = FILES.filter(
    (o) => typeof (attrs(o).pe_info as Json | undefined)?.imphash === 'string',
  );

  it.each(withImphash.slice(0, 6).map((o) => [String(o.id), o] as const))(
    'file %s lists its pivots for vt_search',
    async (_id, o) => {
      const res = await h.call('vt_get_report', { indicator: String(o.id) });
      expect(res.isError, textOf(res)).toBeFalsy();
      const text = textOf(res);
      const line = text.split('\n').find((l) => l.startsWith('Pivots (vt_search): '));
      expect(line).toBeDefined();
      const imphash = (attrs(o).pe_info as Json).imphash as string;
      expect(line).toContain(`imphash:${imphash}`);
      expect(line).toContain(`ssdeep:"${attrs(o).ssdeep as string}"`);
      const pivots = ((res.structuredContent as Json).summary as Json).pivots as Array<{ query: string }>;
      expect(pivots.map((p) => p.query)).toEqual(pivotQueries(attrs(o)).map((p) => p.query));
    },
  );

  it('a pivot query runs as given through vt_search', async () => {
    const o = withImphash[0];
    if (!o) throw new Error('expected a PE file in the recordings');
    const query = pivotQueries(attrs(o))[0]?.query as string;
    const res = await h.call('vt_search', { query });
    expect(res.isError, textOf(res)).toBeFalsy();
    expect(h.api.requests.at(-1)?.query.query).toBe(query);
  });
});
