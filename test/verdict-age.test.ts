/**
 * The age of a verdict: every report answer that dates its analysis also says how old it is once that
 * is more than 30 days ("analysed 2024-07-29, 2 years ago"), and its structured summary carries
 * analysis_age_days. Summaries stay pure: the age comes from the `now` the tool passes, and a summary
 * and its text are still made once per cached answer (and per age). A file analysed over a year ago
 * suggests a fresh scan, only where the write tools are listed (VT_ENABLE_SUBMISSIONS=true). On
 * recorded data, with the clock fixed.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecordedApi, type StandInRequest, send } from '../src/demo/recorded-api.js';
import { ageDays, ageWords, statsLine } from '../src/summaries/common.js';
import { renderReport, summarizeReport } from '../src/summaries/index.js';
import { deepFreeze } from '../src/util/freeze.js';
import { DAY_MS } from '../src/util/time.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

type Json = Record<string, unknown>;

const NOW = Date.parse('2026-12-06T12:00:00Z');
/** The OrcusRAT sample of the golden answers, analysed 2024-07-29. */
const ORCUS = '6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb';
const URL_ = 'http://nlus-romania.ro/wp-includes/simplepie/data/8dc4cd232ae39c414761cf2d96792dcb';

const recorded = new RecordedApi();
function recordedObject(type: string, id: string): Json {
  const o = (recorded.objects(type) as Json[]).find((x) => x.id === id);
  if (!o) throw new Error(`no recorded ${type} ${id}`);
  return o;
}
const orcus = recordedObject('file', ORCUS);
const ORCUS_ANALYSED = ((orcus.attributes as Json).last_analysis_date as number) * 1000;

interface ReportSummaryLike {
  last_analysis?: string;
  analysis_age_days?: number;
}
const summaryOf = (r: { structuredContent?: Json }) =>
  (r.structuredContent?.summary ?? {}) as ReportSummaryLike;
const verdictLine = (text: string) => text.split('\n').find((l) => l.startsWith('Verdict: ')) ?? '';

describe('the age in words', () => {
  it('says nothing within 30 days, then days under 60, months under two years, years after', () => {
    expect([0, 10, 30].map(ageWords)).toEqual([undefined, undefined, undefined]);
    expect(ageWords(undefined)).toBeUndefined();
    expect(ageWords(31)).toBe('31 days ago');
    expect(ageWords(59)).toBe('59 days ago');
    expect(ageWords(60)).toBe('2 months ago');
    expect(ageWords(400)).toBe('13 months ago');
    expect(ageWords(729)).toBe('24 months ago');
    expect(ageWords(730)).toBe('2 years ago');
    expect(ageWords(2607)).toBe('7 years ago');
  });

  it('counts whole days from the analysis to now, never below zero', () => {
    expect(ageDays('2026-12-01T12:00:00Z', NOW)).toBe(5);
    expect(ageDays('2026-12-01T12:00:01Z', NOW)).toBe(4);
    // A clock behind VirusTotal's: the analysis is not in the future.
    expect(ageDays('2026-12-07T00:00:00Z', NOW)).toBe(0);
    expect(ageDays(undefined, NOW)).toBeUndefined();
    expect(ageDays('not a date', NOW)).toBeUndefined();
  });

  it('goes in the verdict line, after the date', () => {
    const stats = { malicious: 54, suspicious: 0, undetected: 21, harmless: 0, total: 75 };
    expect(statsLine('malicious', stats, '2024-07-29T04:22:49Z', 860)).toBe(
      'Verdict: MALICIOUS, 54/75 engines malicious (analysed 2024-07-29, 2 years ago)',
    );
    expect(statsLine('malicious', stats, '2024-07-29T04:22:49Z', 10)).toBe(
      'Verdict: MALICIOUS, 54/75 engines malicious (analysed 2024-07-29)',
    );
    // Without a date there is nothing to give an age to.
    expect(statsLine('malicious', stats, undefined, 860)).toBe('Verdict: MALICIOUS, 54/75 engines malicious');
  });
});

describe('summaries: the age comes from `now`, and the memos still hold', () => {
  it('adds analysis_age_days after last_analysis, and nothing without `now`', () => {
    const plain = summarizeReport(orcus, 'concise');
    expect(plain).not.toHaveProperty('analysis_age_days');
    const s = summarizeReport(orcus, 'concise', NOW);
    const days = Math.floor((NOW - ORCUS_ANALYSED) / DAY_MS);
    expect(s?.analysis_age_days).toBe(days);
    const keys = Object.keys(s ?? {});
    expect(keys[keys.indexOf('last_analysis') + 1]).toBe('analysis_age_days');
    expect(renderReport(s as NonNullable<typeof s>, 8000)).toContain('(analysed 2024-07-29, 2 years ago)');
    expect(renderReport(plain as NonNullable<typeof plain>, 8000)).toContain('(analysed 2024-07-29)\n');
  });

  it('makes the summary once per cached answer, one aged copy per age, and each text once', () => {
    const data = deepFreeze(structuredClone(orcus));
    const base = summarizeReport(data, 'concise');
    const a = summarizeReport(data, 'concise', NOW);
    const b = summarizeReport(data, 'concise', NOW + 3_600_000);
    // The same day of age: the same frozen copy, and the same text.
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    if (!a || !base) throw new Error('no summary');
    expect(renderReport(a, 4000)).toBe(renderReport(a, 4000));
    // The summary behind it is still the one made for this answer.
    expect(summarizeReport(data, 'concise')).toBe(base);
    // A day on: another copy, whose text says its own age.
    const later = summarizeReport(data, 'concise', NOW + 400 * DAY_MS);
    expect(later).not.toBe(a);
    expect(later?.analysis_age_days).toBe((a.analysis_age_days ?? 0) + 400);
    expect(renderReport(later as NonNullable<typeof later>, 4000)).toContain('3 years ago');
    expect(renderReport(a, 4000)).toContain('2 years ago');
    // The text memo tells the options apart.
    expect(renderReport(a, 4000, { submissions: true })).not.toBe(renderReport(a, 4000));
  });

  it('keeps the verdict line, age included, within a short budget', () => {
    const s = summarizeReport(orcus, 'detailed', NOW);
    if (!s) throw new Error('no summary');
    for (const max of [300, 600, 1200]) {
      const text = renderReport(s, max, { submissions: true });
      expect(text.length).toBeLessThanOrEqual(max);
      expect(verdictLine(text)).toContain('(analysed 2024-07-29, 2 years ago)');
    }
  });
});

/** Stand-in answers: recorded objects, a domain and an IP given an analysis (their recordings have none). */
function analysedNetworkObjects(req: StandInRequest, res: ServerResponse): boolean {
  const analysed = {
    last_analysis_date: Math.floor(Date.parse('2025-09-01T00:00:00Z') / 1000),
    last_analysis_stats: { malicious: 0, suspicious: 0, undetected: 20, harmless: 70 },
  };
  const as = (type: string, id: string) => {
    const o = recordedObject(type, id);
    send(res, 200, { data: { ...o, attributes: { ...(o.attributes as Json), ...analysed } } });
    return true;
  };
  if (req.path === '/domains/github.com') return as('domain', 'github.com');
  if (req.path === '/ip_addresses/1.1.1.1') return as('ip_address', '1.1.1.1');
  return false;
}

describe('vt_get_report answers (clock fixed at 2026-12-06)', () => {
  let h: Harness | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    vi.useRealTimers();
  });

  it('a file analysed in 2024 reads "2 years ago", in text and as analysis_age_days', async () => {
    h = await startHarness();
    for (const detail of ['concise', 'detailed']) {
      const r = await h.call('vt_get_report', { indicator: ORCUS, detail });
      expect(verdictLine(textOf(r))).toBe(
        'Verdict: MALICIOUS, 54/75 engines malicious (analysed 2024-07-29, 2 years ago)',
      );
      expect(summaryOf(r).analysis_age_days).toBe(Math.floor((NOW - ORCUS_ANALYSED) / DAY_MS));
    }
  });

  it('a URL, a domain and an IP say their age the same way', async () => {
    h = await startHarness({ api: { hook: analysedNetworkObjects } });
    const url = await h.call('vt_get_report', { indicator: URL_ });
    expect(verdictLine(textOf(url))).toBe(
      'Verdict: MALICIOUS, 7/71 engines malicious (analysed 2019-10-19, 7 years ago)',
    );
    expect(summaryOf(url).analysis_age_days).toBeGreaterThan(2600);
    for (const indicator of ['github.com', '1.1.1.1']) {
      for (const detail of ['concise', 'detailed']) {
        const r = await h.call('vt_get_report', { indicator, detail });
        expect(verdictLine(textOf(r)), indicator).toBe(
          'Verdict: UNDETECTED, 0/90 engines flag it (analysed 2025-09-01, 15 months ago)',
        );
        expect(summaryOf(r).analysis_age_days).toBe(461);
      }
    }
  });

  it('an analysis from 10 days ago shows its date and no age; the structure still counts the days', async () => {
    vi.setSystemTime(ORCUS_ANALYSED + 10 * DAY_MS + 60_000);
    h = await startHarness();
    const r = await h.call('vt_get_report', { indicator: ORCUS });
    expect(verdictLine(textOf(r))).toBe('Verdict: MALICIOUS, 54/75 engines malicious (analysed 2024-07-29)');
    expect(summaryOf(r).analysis_age_days).toBe(10);
  });

  it('a report without an analysis date has no age', async () => {
    h = await startHarness();
    const r = await h.call('vt_get_report', { indicator: 'ninoseki.xyz' });
    expect(summaryOf(r).last_analysis).toBeUndefined();
    expect(summaryOf(r)).not.toHaveProperty('analysis_age_days');
    expect(textOf(r)).not.toMatch(/ ago\)/);
  });
});

describe('the fresh-scan hint', () => {
  let h: Harness | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    vi.useRealTimers();
  });
  const HINT = /^Rescan: the analysis is over a year old\. If the user has the file, vt_submit_file/m;

  it('appears with submissions enabled, for a file analysed over a year ago', async () => {
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
    for (const detail of ['concise', 'detailed']) {
      const text = textOf(await h.call('vt_get_report', { indicator: ORCUS, detail }));
      expect(text).toMatch(HINT);
      // It names what exists: the upload tool, and VirusTotal's own button, never a tool that is not there.
      expect(text).not.toMatch(/vt_reanaly[sz]e/);
    }
  });

  it('does not appear with submissions disabled, where no write tool is listed', async () => {
    h = await startHarness();
    const text = textOf(await h.call('vt_get_report', { indicator: ORCUS }));
    expect(text).toContain('2 years ago');
    expect(text).not.toMatch(/Rescan|vt_submit_file/);
  });

  it('does not appear for a file analysed less than a year ago', async () => {
    vi.setSystemTime(ORCUS_ANALYSED + 200 * DAY_MS);
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
    const text = textOf(await h.call('vt_get_report', { indicator: ORCUS }));
    expect(verdictLine(text)).toContain('(analysed 2024-07-29, 7 months ago)');
    expect(text).not.toMatch(/Rescan/);
  });

  it('is never given for URLs, domains or IPs', async () => {
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
    const text = textOf(await h.call('vt_get_report', { indicator: URL_ }));
    expect(text).toContain('7 years ago');
    expect(text).not.toMatch(/Rescan/);
  });
});
