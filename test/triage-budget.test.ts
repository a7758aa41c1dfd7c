/**
 * vt_triage keeps both halves of its answer within VT_MAX_RESPONSE_CHARS, as a job:
 * a 200 KB paste gives bounded text and bounded structuredContent on every page; the job
 * holds the first 1,000 indicators and the answer says where in the text the rest begin; what a page
 * leaves out is counted and reached with next_cursor, no row skipped; and the closing notes (left
 * out, skipped, not looked up, how to read the verdicts) are never what gets cut.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { RANK, type TriageRow, triageLine } from '../src/summaries/triage.js';
import { MAX_TRIAGE } from '../src/tools/triage.js';
import { extractIndicators, parseIndicator } from '../src/vt/indicators.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

const files = new RecordedApi().objects('file') as Array<{ id: string }>;
const known = [...new Set(files.map((f) => f.id))];

/** A deterministic pseudo-random generator, so every run pastes the same text. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * About 200,000 characters of what an analyst pastes: log lines with hashes, defanged URLs and domains,
 * public and private IPs, email addresses, file names and plenty of words that are none of these.
 */
function paste(chars = 200_000): string {
  const r = rng(9);
  const hex = (n: number) =>
    Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');
  const word = () =>
    ['the', 'beacon', 'dropped', 'payload', 'from', 'host', 'user', 'alert', 'seen'][Math.floor(r() * 9)];
  const pieces: Array<(i: number) => string> = [
    () => hex(64),
    () => hex(32),
    (i) => `hxxps://cdn${i}.bad-site[.]net/gate.php?id=${hex(12)}`,
    (i) => `update${i}.evil-example[.]com`,
    (i) => `45.${(i >> 8) & 255}.${i & 255}.${1 + (i % 250)}`,
    (i) => `10.${(i >> 8) & 255}.${i & 255}.7`,
    (i) => `192.0.2.${i & 255}`,
    (i) => `user${i}@corp.example`,
    (i) => `invoice_${i}.pdf`,
    () => `${word()} ${word()} ${word()}`,
    () => `junk-${hex(20)}-token`,
  ];
  const out: string[] = [known.slice(0, 8).join(' ')];
  let len = out.join(' ').length;
  for (let i = 0; ; i++) {
    const piece = (pieces[i % pieces.length] as (i: number) => string)(i);
    const sep = i % 7 === 0 ? '\n' : ' ';
    if (len + sep.length + piece.length > chars) break;
    out.push(sep, piece);
    len += sep.length + piece.length;
  }
  return out.join('').replace(/^ /, '');
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** vt_triage's structuredContent: a job. */
interface Structured {
  job: string;
  status: 'running' | 'paused' | 'done' | 'cancelled';
  total: number;
  counts: Record<string, number>;
  results: TriageRow[];
  next_cursor?: string;
  ignored?: { not_indicators?: number; not_looked_up?: number; file_names?: number; over_limit?: number };
  /** What respond() left out of each list to keep within the budget. */
  truncated?: Record<string, number>;
}
const sc = (r: CallToolResult) => r.structuredContent as unknown as Structured;

/** Starts a job and follows it with {job} alone until it is done. */
async function triage(harness: Harness, indicators: string | string[]): Promise<CallToolResult> {
  let r = await harness.call('vt_triage', { indicators });
  expect(r.isError, textOf(r)).toBeFalsy();
  for (let i = 0; i < 10 && sc(r).status === 'running'; i++)
    r = await harness.call('vt_triage', { job: sc(r).job });
  expect(sc(r).status).toBe('done');
  return r;
}

/** Indicators a text holds, as a job counts them: each id once. */
const distinct = (text: string) =>
  new Set(extractIndicators(text).indicators.map((i) => `${i.type}:${i.id}`)).size;

/**
 * Every page of a done job's results, from the first answer on by next_cursor: each page within the
 * budget in both halves, next_cursor just past the rows the page holds (so no row is skipped), and the
 * text showing the rows of the structure and pointing at the same next page.
 */
async function allPages(harness: Harness, first: CallToolResult): Promise<TriageRow[]> {
  const budget = harness.config.maxResponseChars;
  const rows: TriageRow[] = [];
  let page = first;
  for (let offset = 0; ; ) {
    const s = sc(page);
    const body = textOf(page);
    expect(body.length).toBeLessThanOrEqual(budget);
    expect(JSON.stringify(s).length).toBeLessThanOrEqual(budget);
    expect(s.results.length).toBeGreaterThan(0);
    // What respond() would have had to cut from this page is counted, and still comes on the next.
    const held = s.results.length + (s.truncated?.results ?? 0);
    const shown = body.split('\n').filter((l) => l.startsWith('- '));
    expect(shown).toEqual(s.results.map(triageLine));
    rows.push(...s.results);
    if (s.next_cursor === undefined) {
      expect(offset + held).toBe(s.total);
      expect(body).not.toMatch(/more results, less dangerous/);
      break;
    }
    expect(s.next_cursor).toBe(`r:${offset + held}`);
    expect(body).toContain(
      `(+${(s.total - offset - held).toLocaleString('en-US')} more results, less dangerous: vt_triage {"job":"${s.job}","cursor":"${s.next_cursor}"})`,
    );
    offset += held;
    page = await harness.call('vt_triage', { job: s.job, cursor: s.next_cursor });
    expect(page.isError, textOf(page)).toBeFalsy();
    if (offset > 0)
      expect(textOf(page)).toContain(
        `(Results from number ${(offset + 1).toLocaleString('en-US')}, most dangerous first.)`,
      );
  }
  return rows;
}

describe('a 200 KB paste', () => {
  it('text and structuredContent both stay within VT_MAX_RESPONSE_CHARS, closing notes kept, cuts counted', async () => {
    h = await startHarness();
    const text = paste();
    expect(text.length).toBeGreaterThan(199_000);
    expect(text.length).toBeLessThanOrEqual(200_000);
    const r = await triage(h, text);
    const body = textOf(r);
    const s = sc(r);
    const budget = h.config.maxResponseChars;
    const structuredChars = JSON.stringify(s).length;
    console.log(
      `200 KB paste: text ${body.length} chars, structuredContent ${structuredChars} chars (budget ${budget}), ` +
        `${s.results.length} rows on the first page`,
    );
    expect(budget).toBe(24_000);
    expect(body.length).toBeLessThanOrEqual(budget);
    expect(structuredChars).toBeLessThanOrEqual(budget);
    // The paste holds more indicators than a job: the job takes the first 1,000, one lookup each.
    const found = distinct(text);
    expect(found).toBeGreaterThan(MAX_TRIAGE);
    expect(s.total).toBe(MAX_TRIAGE);
    expect(h.api.count()).toBe(MAX_TRIAGE);

    // The closing notes are all there, whole: what is not in the job and where it begins, what was not
    // looked up and why, the file names set aside, and how to read the verdicts.
    const overflow =
      /Only the first 1,000 indicators are in this job; ([\d,]+) more begin at `([^`]+)` in the text you gave: start another job with them\./.exec(
        body,
      );
    expect(overflow, body).not.toBeNull();
    expect(body).toMatch(/Nothing to look up: 10\.\d+\.\d+\.7 \(private \(RFC 1918\) address\)/);
    expect(body).toMatch(/192\.0\.2\.\d+ \(documentation address \(TEST-NET-1/);
    expect(body).toMatch(/File names, not looked up: invoice_\d+\.pdf.*\(\+[\d,]+ more\)/);
    expect(body).toMatch(/NOT FOUND means VirusTotal has never seen it/);
    expect(body.split('\n').at(-1)).toMatch(/^Verdicts count engines: /);
    expect(body).not.toMatch(/…$/);

    // What the job left out is counted, and the counts add up to the whole.
    const [, more = '', at = ''] = overflow as RegExpExecArray;
    expect(Number(more.replace(/,/g, ''))).toBe(found - MAX_TRIAGE);
    expect(s.ignored?.over_limit).toBe(found - MAX_TRIAGE);
    expect(s.ignored?.not_looked_up).toBeGreaterThan(0);
    expect(s.ignored?.file_names).toBeGreaterThan(0);
    const firstLine = body.split('\n')[0] as string;
    const tally = /^Triage job ([a-z0-9]{12}) \(done\): ([\d,]+) indicators: (.*)\.$/.exec(firstLine);
    expect(tally, firstLine).not.toBeNull();
    expect((tally as RegExpExecArray)[1]).toBe(s.job);
    expect((tally as RegExpExecArray)[2]).toBe('1,000');
    for (const part of ((tally as RegExpExecArray)[3] as string).split(', ')) {
      const [, n = '', what = ''] = /^([\d,]+) (.+)$/.exec(part) ?? [];
      expect(s.counts[what.replace(' ', '_')], part).toBe(Number(n.replace(/,/g, '')));
    }
    expect(Object.values(s.counts).reduce((a, b) => a + b, 0)).toBe(MAX_TRIAGE);
    expect(s.counts.pending).toBe(0);

    // The note points, as the text writes it (defanged, say), at the first indicator left out: the
    // text up to there holds exactly the job's 1,000, and that one is not in the job.
    const where = text.indexOf(at);
    expect(where).toBeGreaterThan(0);
    expect(distinct(text.slice(0, where))).toBe(MAX_TRIAGE);
    const first = parseIndicator(at);
    expect(first.ok).toBe(true);

    // The results come in pages within the budget, every row once, most dangerous first.
    expect(s.next_cursor).toMatch(/^r:\d+$/);
    const rows = await allPages(h, r);
    expect(rows).toHaveLength(MAX_TRIAGE);
    expect(new Set(rows.map((x) => `${x.type}:${x.id}`)).size).toBe(MAX_TRIAGE);
    expect(rows.every((x, i) => i === 0 || RANK[x.verdict] >= RANK[(rows[i - 1] as TriageRow).verdict])).toBe(
      true,
    );
    expect(rows.some((x) => first.ok && x.type === first.indicator.type && x.id === first.indicator.id)).toBe(
      false,
    );
    // The recorded files in the paste were found and rank first.
    expect(s.results[0]?.verdict).not.toBe('not_found');
    // Nothing more was looked up for the pages.
    expect(h.api.count()).toBe(MAX_TRIAGE);
  });

  it('holds at the smallest budget too (VT_MAX_RESPONSE_CHARS=2000)', async () => {
    h = await startHarness({ env: { VT_MAX_RESPONSE_CHARS: '2000' } });
    const r = await triage(h, paste());
    const body = textOf(r);
    const s = sc(r);
    expect(body.length).toBeLessThanOrEqual(2000);
    expect(JSON.stringify(s).length).toBeLessThanOrEqual(2000);
    expect(body).toMatch(/Only the first 1,000 indicators are in this job; [\d,]+ more begin at `[^`]+`/);
    expect(body).toMatch(/Nothing to look up: /);
    expect(body.split('\n').at(-1)).toMatch(/^Verdicts count engines: /);
    expect(s.total).toBe(MAX_TRIAGE);
    // Pages are small at this budget, but every row is reached, none twice.
    expect(s.next_cursor).toBeDefined();
    const rows = await allPages(h, r);
    expect(rows).toHaveLength(MAX_TRIAGE);
    expect(new Set(rows.map((x) => `${x.type}:${x.id}`)).size).toBe(MAX_TRIAGE);
  });

  it('in demo mode too, banner and rewording included', async () => {
    h = await startHarness({ demo: true });
    const r = await triage(h, paste());
    const body = textOf(r);
    expect(body).toMatch(/^\[DEMO DATA/);
    expect(body.length).toBeLessThanOrEqual(h.config.maxResponseChars);
    expect(JSON.stringify(r.structuredContent).length).toBeLessThanOrEqual(h.config.maxResponseChars);
    expect(body).toMatch(/Only the first 1,000 indicators are in this job; [\d,]+ more begin at `[^`]+`/);
    expect(body).toMatch(/NOT FOUND means the demo recordings hold nothing on it/);
    expect(body.split('\n').at(-1)).toMatch(/^Verdicts count engines: /);
    expect(sc(r).next_cursor).toBeDefined();
  });

  it('a list of 100 very long URLs: both halves bounded on every page, every row reached', async () => {
    h = await startHarness();
    const urls = Array.from({ length: 100 }, (_, i) => `https://long${i}.example.com/${'a'.repeat(8000)}`);
    const r = await triage(h, urls);
    const body = textOf(r);
    const budget = h.config.maxResponseChars;
    expect(body.length).toBeLessThanOrEqual(budget);
    expect(JSON.stringify(sc(r)).length).toBeLessThanOrEqual(budget);
    expect(body.split('\n').at(-1)).toMatch(/^Verdicts count engines: /);
    const rows = await allPages(h, r);
    expect(rows).toHaveLength(100);
    // structuredContent keeps each input whole; the text shows its start.
    expect(new Set(rows.map((x) => x.input))).toEqual(new Set(urls));
  });

  it('a small triage is unchanged: everything listed, no counts of anything left out', async () => {
    h = await startHarness();
    const r = await triage(h, known.slice(0, 5));
    const s = sc(r);
    expect(s.results).toHaveLength(5);
    expect(s.counts.pending).toBe(0);
    expect(s).not.toHaveProperty('next_cursor');
    expect(s).not.toHaveProperty('ignored');
    expect(s).not.toHaveProperty('truncated');
    expect(textOf(r)).not.toMatch(/more results|more begin at|not shown/);
  });
});
