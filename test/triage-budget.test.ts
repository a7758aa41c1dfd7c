/**
 * vt_triage keeps both halves of its answer within VT_MAX_RESPONSE_CHARS (issue 9, item 12): a 200 KB
 * paste gives bounded text and bounded structuredContent, what is left out is counted, and the closing
 * notes (unchecked, skipped, not looked up, how to continue) are never what gets cut.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { MAX_TRIAGE } from '../src/tools/triage.js';
import { parseIndicator } from '../src/vt/indicators.js';
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

interface Structured {
  results: Array<Record<string, unknown>>;
  unchecked: string[];
  results_more?: number;
  unchecked_more?: number;
}

describe('a 200 KB paste', () => {
  it('text and structuredContent both stay within VT_MAX_RESPONSE_CHARS, closing notes kept, cuts counted', async () => {
    h = await startHarness();
    const text = paste();
    expect(text.length).toBeGreaterThan(199_000);
    expect(text.length).toBeLessThanOrEqual(200_000);
    const r = await h.call('vt_triage', { indicators: text });
    expect(r.isError).toBeFalsy();
    const body = textOf(r);
    const sc = r.structuredContent as unknown as Structured;
    const budget = h.config.maxResponseChars;
    const structuredChars = JSON.stringify(sc).length;
    console.log(
      `200 KB paste: text ${body.length} chars, structuredContent ${structuredChars} chars (budget ${budget})`,
    );
    expect(budget).toBe(24_000);
    expect(body.length).toBeLessThanOrEqual(budget);
    expect(structuredChars).toBeLessThanOrEqual(budget);
    // One lookup per indicator checked, no more than the per-call maximum.
    expect(h.api.count()).toBe(MAX_TRIAGE);

    // The closing notes are all there, whole: what was left unchecked and how to continue, what was not
    // looked up and why, the file names set aside, and how to read the verdicts.
    expect(body).toMatch(/Unchecked \([\d,]+; call vt_triage again with these\)/);
    expect(body).toMatch(/\+[\d,]+ more not listed here: they come after `[^`]+` in the text/);
    expect(body).toMatch(/Only 100 indicators are checked per call/);
    expect(body).toMatch(/Nothing to look up: 10\.\d+\.\d+\.7 \(private \(RFC 1918\) address\)/);
    expect(body).toMatch(/192\.0\.2\.\d+ \(documentation address \(TEST-NET-1/);
    expect(body).toMatch(/File names, not looked up: invoice_\d+\.pdf.*\(\+[\d,]+ more\)/);
    expect(body).toMatch(/NOT FOUND means VirusTotal has never seen it/);
    expect(body.split('\n').at(-1)).toMatch(/^Verdicts count engines: /);
    expect(body).not.toMatch(/…$/);

    // What the structured content leaves out is counted, and the counts add up to the whole.
    const firstLine = body.split('\n')[0] as string;
    const m = /^Triage of ([\d,]+) indicators: (\d+) checked.*, ([\d,]+) unchecked\.$/.exec(firstLine);
    expect(m, firstLine).not.toBeNull();
    const [total = 0, checked = 0, unchecked = 0] = (m as RegExpExecArray)
      .slice(1)
      .map((x) => Number(x.replace(/,/g, '')));
    expect(checked).toBe(MAX_TRIAGE);
    expect(sc.results.length + (sc.results_more ?? 0)).toBe(checked);
    expect(sc.unchecked.length + (sc.unchecked_more ?? 0)).toBe(unchecked);
    expect(checked + (unchecked as number)).toBe(total);
    expect(sc.unchecked_more).toBeGreaterThan(0);
    // The listed unchecked are the first ones in the text's order, and the note points, as the text
    // writes it (defanged, say), at the last one listed: the rest of the text from there is what is left.
    const after = /they come after `([^`]+)` in the text/.exec(body)?.[1] as string;
    expect(text.indexOf(after)).toBeGreaterThan(0);
    const listed = (
      /^Unchecked \([^)]*\): (.*) \(\+[\d,]+ more not listed here/m.exec(body)?.[1] ?? ''
    ).split(' ');
    const last = parseIndicator(after);
    expect(last.ok && last.indicator.value).toBe(listed.at(-1));
    // Text and structuredContent cut the same sequence, each where its own budget ends.
    const shorter = Math.min(listed.length, sc.unchecked.length);
    expect(shorter).toBeGreaterThan(100);
    expect(listed.slice(0, shorter)).toEqual(sc.unchecked.slice(0, shorter));
    // The recorded files in the paste were found and rank first.
    expect(sc.results[0]?.verdict).not.toBe('not_found');
  });

  it('holds at the smallest budget too (VT_MAX_RESPONSE_CHARS=2000)', async () => {
    h = await startHarness({ env: { VT_MAX_RESPONSE_CHARS: '2000' } });
    const r = await h.call('vt_triage', { indicators: paste() });
    const body = textOf(r);
    const sc = r.structuredContent as unknown as Structured;
    expect(body.length).toBeLessThanOrEqual(2000);
    expect(JSON.stringify(sc).length).toBeLessThanOrEqual(2000);
    expect(body).toMatch(/Unchecked \([\d,]+; call vt_triage again with these\)/);
    expect(body).toMatch(/Nothing to look up: /);
    expect(body.split('\n').at(-1)).toMatch(/^Verdicts count engines: /);
    expect((sc.results_more ?? 0) + sc.results.length).toBe(MAX_TRIAGE);
    expect(sc.results_more).toBeGreaterThan(0);
  });

  it('in demo mode too, banner and rewording included', async () => {
    h = await startHarness({ demo: true });
    const r = await h.call('vt_triage', { indicators: paste() });
    const body = textOf(r);
    expect(body).toMatch(/^\[DEMO DATA/);
    expect(body.length).toBeLessThanOrEqual(h.config.maxResponseChars);
    expect(JSON.stringify(r.structuredContent).length).toBeLessThanOrEqual(h.config.maxResponseChars);
    expect(body).toMatch(/Unchecked \([\d,]+; call vt_triage again with these\)/);
  });

  it('a list of 100 very long URLs: both halves bounded, every row counted', async () => {
    h = await startHarness();
    const urls = Array.from(
      { length: MAX_TRIAGE },
      (_, i) => `https://long${i}.example.com/${'a'.repeat(8000)}`,
    );
    const r = await h.call('vt_triage', { indicators: urls });
    const body = textOf(r);
    const sc = r.structuredContent as unknown as Structured;
    const budget = h.config.maxResponseChars;
    expect(body.length).toBeLessThanOrEqual(budget);
    expect(JSON.stringify(sc).length).toBeLessThanOrEqual(budget);
    expect(sc.results.length + (sc.results_more ?? 0)).toBe(MAX_TRIAGE);
    expect(body.split('\n').at(-1)).toMatch(/^Verdicts count engines: /);
  });

  it('a small triage is unchanged: everything listed, no counts of anything left out', async () => {
    h = await startHarness();
    const r = await h.call('vt_triage', { indicators: known.slice(0, 5) });
    const sc = r.structuredContent as unknown as Structured;
    expect(sc.results).toHaveLength(5);
    expect(sc.unchecked).toEqual([]);
    expect(sc).not.toHaveProperty('results_more');
    expect(sc).not.toHaveProperty('unchecked_more');
    expect(textOf(r)).not.toMatch(/more not listed|not shown/);
  });
});
