/**
 * One row per file in vt_triage, however many of its hashes were given: the md5, sha1 and sha256 of
 * one file are known to be one file only once VirusTotal answers, so the rows are merged when shown
 * (by the sha256 of the answer). The merged row names the other inputs; the total, the counts and the
 * pages count the file once; the file costs one upstream request (the other hashes find its answer in
 * the cache); rows without an answer (not found) are never merged; a job followed with {job} shows the
 * same.
 */
import { createHash } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import type { TriageRow } from '../src/summaries/triage.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';
import { vtWindow } from './helpers/limits.js';
import { virtualTimeForEachTest } from './helpers/virtual-time.js';

const ORCUS = {
  md5: 'e2a52f78fc1dc2eb561fd5d77892d642',
  sha1: 'ffe1dd532e08911537d01f51f21c1ce181f4ac71',
  sha256: '6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb',
};

/** Recorded files with all three hashes, one entry per file. */
const recorded = (() => {
  const seen = new Map<string, { md5: string; sha1: string; sha256: string }>();
  for (const o of new RecordedApi().objects('file') as Array<{
    id: string;
    attributes?: Record<string, unknown>;
  }>) {
    const a = o.attributes ?? {};
    const [md5, sha1, sha256] = [a.md5, a.sha1, a.sha256];
    if (typeof md5 !== 'string' || typeof sha1 !== 'string' || typeof sha256 !== 'string') continue;
    if (sha256 !== o.id || sha256 === ORCUS.sha256 || seen.has(sha256)) continue;
    seen.set(sha256, { md5, sha1, sha256 });
  }
  return [...seen.values()];
})();

/** Hashes VirusTotal does not know (the stand-in answers them "not found"). */
const unknown = (n: number, salt: string, hex = 64) =>
  Array.from({ length: n }, (_, i) =>
    createHash('sha256').update(`${salt}-${i}`).digest('hex').slice(0, hex),
  );

interface Structured {
  job: string;
  status: 'running' | 'paused' | 'done' | 'cancelled';
  total: number;
  counts: Record<string, number>;
  results: TriageRow[];
  next_cursor?: string;
}
const sc = (r: CallToolResult) => r.structuredContent as unknown as Structured;
const sum = (c: Record<string, number>) => Object.values(c).reduce((n, v) => n + v, 0);
const fileRequests = (h: Harness) => h.api.requests.filter((r) => r.path.startsWith('/files/')).length;

/** Follows a job until it is done (the harness has no rate limit: a poll or two). */
async function finished(h: Harness, first: CallToolResult): Promise<CallToolResult> {
  expect(first.isError, textOf(first)).toBeFalsy();
  let r = first;
  for (let i = 0; i < 10 && sc(r).status === 'running'; i++)
    r = await h.call('vt_triage', { job: sc(r).job });
  expect(sc(r).status).toBe('done');
  return r;
}

describe('one row per file', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('md5, sha1 and sha256 of one file: one row naming the other two, counted once, one request', async () => {
    h = await startHarness();
    const r = await finished(
      h,
      await h.call('vt_triage', { indicators: [ORCUS.md5, ORCUS.sha1, ORCUS.sha256] }),
    );
    const s = sc(r);
    expect(s.total).toBe(1);
    expect(s.counts).toMatchObject({ malicious: 1, pending: 0, not_found: 0, failed: 0 });
    expect(sum(s.counts)).toBe(1);
    expect(s.results).toHaveLength(1);
    // The row shows the sha256 given, and names the other inputs in the order they were given.
    expect(s.results[0]).toMatchObject({
      input: ORCUS.sha256,
      id: ORCUS.sha256,
      verdict: 'malicious',
      also_given_as: [ORCUS.md5, ORCUS.sha1],
    });
    const text = textOf(r);
    expect(text).toContain('(done): 1 indicator: 1 malicious.');
    expect(text).toContain(
      `- MALICIOUS 54/75 · file ${ORCUS.sha256} · also given as ${ORCUS.md5}, ${ORCUS.sha1} · `,
    );
    expect(text.match(/^- /gm)).toHaveLength(1);
    // The first answer is filed under every hash of the file: the others cost nothing.
    expect(fileRequests(h)).toBe(1);
  });

  it('without its sha256: the row shows the first hash given, the sha256 found and the other input', async () => {
    h = await startHarness();
    const r = await finished(
      h,
      await h.call('vt_triage', { indicators: `seen ${ORCUS.sha1} and ${ORCUS.md5}` }),
    );
    const s = sc(r);
    expect(s.total).toBe(1);
    expect(s.results).toEqual([expect.objectContaining({ input: ORCUS.sha1, also_given_as: [ORCUS.md5] })]);
    expect(textOf(r)).toContain(
      `file ${ORCUS.sha1} (sha256 ${ORCUS.sha256}) · also given as ${ORCUS.md5} · "trojan.orcusrat/msil"`,
    );
    expect(fileRequests(h)).toBe(1);
  });

  it('one hash in two cases is one indicator, as before: looked up once, no "also given as"', async () => {
    h = await startHarness();
    const r = await finished(
      h,
      await h.call('vt_triage', {
        indicators: [ORCUS.md5, ORCUS.md5.toUpperCase(), ORCUS.sha256.toUpperCase()],
      }),
    );
    const s = sc(r);
    expect(s.total).toBe(1);
    expect(s.results).toHaveLength(1);
    // The sha256 as given (upper case) is the one shown; the md5 as first given is named.
    expect(s.results[0]).toMatchObject({
      input: ORCUS.sha256.toUpperCase(),
      id: ORCUS.sha256,
      also_given_as: [ORCUS.md5],
    });
    expect(textOf(r)).toContain('1 input named an indicator already in the list (looked up once).');
    expect(fileRequests(h)).toBe(1);
  });

  it('rows without an answer are not merged: hashes VirusTotal does not know stay one row each', async () => {
    h = await startHarness();
    const [a, b] = unknown(2, 'nf');
    const md5 = unknown(1, 'nf-md5', 32)[0] as string;
    const r = await finished(h, await h.call('vt_triage', { indicators: [a, b, md5, ORCUS.md5] }));
    const s = sc(r);
    expect(s.total).toBe(4);
    expect(s.counts).toMatchObject({ malicious: 1, not_found: 3 });
    expect(s.results.map((x) => x.input).sort()).toEqual([a, b, md5, ORCUS.md5].sort());
    expect(s.results.every((x) => x.also_given_as === undefined)).toBe(true);
  });

  it('pages over a list with merges neither skip nor repeat a row, and count each file once', async () => {
    expect(recorded.length).toBeGreaterThanOrEqual(10);
    // 30 inputs: 4 files by all three hashes, 3 by md5 and sha256, 3 by sha256 alone, 5 unknown
    // hashes and 4 domains VirusTotal does not know: 19 rows.
    const three = recorded.slice(0, 4);
    const two = recorded.slice(4, 7);
    const one = recorded.slice(7, 10);
    const inputs = [
      ...three.flatMap((f) => [f.md5, f.sha1, f.sha256]),
      ...two.flatMap((f) => [f.sha256, f.md5]),
      ...one.map((f) => f.sha256),
      ...unknown(5, 'page'),
      ...Array.from({ length: 4 }, (_, i) => `nowhere${i}.example.com`),
    ];
    // Interleaved, so that the hashes of one file are apart in the list.
    const list = inputs
      .map((x, i) => ({ x, k: (i * 7) % inputs.length }))
      .sort((p, q) => p.k - q.k)
      .map((p) => p.x);
    expect(new Set(list).size).toBe(30);
    h = await startHarness({ env: { VT_MAX_RESPONSE_CHARS: '2000' } });
    const first = await finished(h, await h.call('vt_triage', { indicators: list }));
    expect(sc(first).total).toBe(19);
    expect(sum(sc(first).counts)).toBe(19);
    expect(sc(first).counts.not_found).toBe(9);
    expect(fileRequests(h)).toBe(15);
    const job = sc(first).job;
    // Every page, from the first on: the rows and the cursors.
    const rows: TriageRow[] = [];
    let page = await h.call('vt_triage', { job });
    const cursors: string[] = [];
    for (let i = 0; i < 30; i++) {
      const s = sc(page);
      expect(s.total).toBe(19);
      expect(s.results.length).toBeGreaterThan(0);
      rows.push(...s.results);
      if (!s.next_cursor) break;
      expect(s.next_cursor).toBe(`r:${rows.length}`);
      cursors.push(s.next_cursor);
      page = await h.call('vt_triage', { job, cursor: s.next_cursor });
    }
    expect(cursors.length).toBeGreaterThan(0);
    expect(rows).toHaveLength(19);
    // Every input in exactly one row, as the row's input or one it was also given as.
    const named = rows.flatMap((r) => [r.input, ...(r.also_given_as ?? [])]);
    expect(named.sort()).toEqual([...list].sort());
    expect(new Set(rows.map((r) => r.id)).size).toBe(19);
    for (const f of three) {
      const r = rows.find((x) => x.id === f.sha256);
      expect(r?.input).toBe(f.sha256);
      expect([...(r?.also_given_as ?? [])].sort()).toEqual([f.md5, f.sha1].sort());
    }
    for (const f of two) expect(rows.find((x) => x.id === f.sha256)?.also_given_as).toEqual([f.md5]);
    for (const f of one) expect(rows.find((x) => x.id === f.sha256)).not.toHaveProperty('also_given_as');
    // Page 2 read again through its cursor is the same page, and goes on from where page 1 stopped.
    const again = sc(await h.call('vt_triage', { job, cursor: cursors[0] }));
    const offset = Number((cursors[0] as string).slice(2));
    expect(again.results).toEqual(rows.slice(offset, offset + again.results.length));
    expect(textOf(await h.call('vt_triage', { job, cursor: cursors[0] }))).toContain(
      `(Results from number ${offset + 1}, most dangerous first.)`,
    );
  });
});

describe('a job followed with {job}', () => {
  let hs: Harness[] = [];
  virtualTimeForEachTest({
    closeFirst: async () => {
      await Promise.all(hs.map((h) => h.close()));
      hs = [];
    },
  });

  it('shows the merged row, and every answer on the way adds up to its total', async () => {
    const vt = vtWindow(4, 2);
    const h = await startHarness({
      // Each call answers within 2 s, so the job is followed over a few polls (a wait shorter than the
      // window would hold the job's lookups back: each one waits up to that long for its slot).
      env: { VT_RATE_LIMIT: '4/2s', VT_MAX_WAIT_SECONDS: '2' },
      api: { hook: vt.hook },
    });
    hs.push(h);
    const others = recorded.slice(0, 8).map((f) => f.sha256);
    const list = [ORCUS.md5, ...others.slice(0, 4), ORCUS.sha256, ...others.slice(4), ORCUS.sha1];
    const first = await h.call('vt_triage', { indicators: list });
    expect(first.isError, textOf(first)).toBeFalsy();
    expect(sc(first).status).toBe('running');
    const job = sc(first).job;
    let last = first;
    for (let polls = 0; polls < 30; polls++) {
      const s = sc(last);
      // The total counts a file once as soon as its hashes are known to be one file.
      expect(sum(s.counts)).toBe(s.total);
      expect(s.total).toBeLessThanOrEqual(list.length);
      expect(s.total).toBeGreaterThanOrEqual(9);
      if (s.status !== 'running') break;
      last = await h.call('vt_triage', { job });
    }
    const s = sc(last);
    expect(s.status, textOf(last)).toBe('done');
    expect(s.total).toBe(9);
    expect(s.counts.pending).toBe(0);
    expect(s.results).toHaveLength(9);
    const orcus = s.results.find((r) => r.id === ORCUS.sha256);
    expect(orcus).toMatchObject({ input: ORCUS.sha256, also_given_as: [ORCUS.md5, ORCUS.sha1] });
    expect(textOf(last)).toContain(`file ${ORCUS.sha256} · also given as ${ORCUS.md5}, ${ORCUS.sha1}`);
    expect(textOf(last)).toContain(`Triage job ${job} (done): 9 indicators:`);
    // Nine files, nine requests: the other hashes of one were answered from the cache.
    expect(h.api.count('/files/')).toBe(9);
    expect(vt.rejected()).toBe(0);
    // The resource shows the same state.
    const res = await h.client.readResource({ uri: `vt://triage/${job}` });
    expect(String((res.contents[0] as { text: string }).text)).toContain(
      `also given as ${ORCUS.md5}, ${ORCUS.sha1}`,
    );
  }, 60_000);
});
