/**
 * Reports: one entry per object type a report is given for (file, URL, domain, IP address), each
 * with its schema, its summariser (raw VT object in, typed summary out) and its text (rendered from
 * the summary). vt_get_report and the vt://{type}/{id} resources use these; one-line items of any
 * object type are in related.ts. The age of the last analysis depends on when one asks: the caller
 * passes `now`, and the summary it gets carries analysis_age_days for that moment.
 */
import { z } from 'zod';
import { deepFreeze, madeOnce } from '../util/freeze.js';
import type { IndicatorType } from '../vt/indicators.js';
import { ageDays, type Detail, type Json, obj, type ReportTextOptions } from './common.js';
import { type DomainSummary, domainSummarySchema, renderDomainText, summarizeDomain } from './domain.js';
import { type FileSummary, fileSummarySchema, renderFileText, summarizeFile } from './file.js';
import { type IpSummary, ipSummarySchema, renderIpText, summarizeIp } from './ip.js';
import { renderUrlText, summarizeUrl, type UrlSummary, urlSummarySchema } from './url.js';

export const reportSummarySchema = z.discriminatedUnion('type', [
  fileSummarySchema,
  urlSummarySchema,
  domainSummarySchema,
  ipSummarySchema,
]);
export type ReportSummary = z.infer<typeof reportSummarySchema>;

interface ReportKind<S extends ReportSummary> {
  summarise(data: Json, detail: Detail): S;
  render(summary: S, maxChars: number, opts?: ReportTextOptions): string;
}

const REPORTS: { [T in IndicatorType]: ReportKind<Extract<ReportSummary, { type: T }>> } = {
  file: { summarise: summarizeFile, render: renderFileText } satisfies ReportKind<FileSummary>,
  url: { summarise: summarizeUrl, render: renderUrlText } satisfies ReportKind<UrlSummary>,
  domain: { summarise: summarizeDomain, render: renderDomainText } satisfies ReportKind<DomainSummary>,
  ip_address: { summarise: summarizeIp, render: renderIpText } satisfies ReportKind<IpSummary>,
};

/** A type's entry, for any summary (its methods take the summaries of their own type). */
function kindOf(t: IndicatorType): ReportKind<ReportSummary> {
  return REPORTS[t];
}

function isReportType(t: unknown): t is IndicatorType {
  return typeof t === 'string' && Object.hasOwn(REPORTS, t);
}

/**
 * Summaries already made, by the object they were made from: the cache hands every caller of a recent
 * answer one frozen object (vt/cache.ts), so a burst of calls for it summarises it once. Pure functions of
 * their input, and frozen here, they are safe to share.
 */
const MADE = new WeakMap<object, Map<Detail, ReportSummary>>();

/**
 * Summarises a VT object of type file, url, domain or ip_address; undefined for other types. Given
 * `now` (ms), the summary also says how many whole days old its last analysis is then.
 */
export function summarizeReport(data: unknown, detail: Detail, now?: number): ReportSummary | undefined {
  const d = obj(data);
  if (!d || !isReportType(d.type)) return undefined;
  const kind = kindOf(d.type);
  const s = madeOnce(MADE, d, detail, () => kind.summarise(d, detail));
  return now === undefined ? s : aged(s, now);
}

/**
 * A remembered summary with its age, for the age last asked: one copy a day per summary, itself frozen
 * and so remembered by renderReport (its texts are those of that age).
 */
const AGED = new WeakMap<object, ReportSummary>();

/** The summary with analysis_age_days at `now`, placed after last_analysis; as it is without one. */
function aged(s: ReportSummary, now: number): ReportSummary {
  const days = ageDays(s.last_analysis, now);
  if (days === undefined) return s;
  const kept = AGED.get(s);
  if (kept?.analysis_age_days === days) return kept;
  const copy: ReportSummary = { ...s, analysis_age_days: days };
  // An object's keys (and its JSON) keep the order they were first set in: what follows last_analysis
  // is set again, to follow the age.
  const keys: Json = copy;
  let after = false;
  for (const [k, v] of Object.entries(s)) {
    if (after) {
      delete keys[k];
      keys[k] = v;
    }
    if (k === 'last_analysis') after = true;
  }
  if (!Object.isFrozen(s)) return copy;
  AGED.set(s, deepFreeze(copy));
  return copy;
}

/**
 * Texts already rendered from a remembered (frozen) summary, by the room they were given and the
 * options. A summary with an age is a copy per age (aged), so a text never outlives its day.
 */
const RENDERED = new WeakMap<object, Map<string, string>>();

/** The text of a report summary, within maxChars (what it cuts is named in it). */
export function renderReport(s: ReportSummary, maxChars: number, opts: ReportTextOptions = {}): string {
  const key = `${maxChars}${opts.submissions ? ' submissions' : ''}`;
  return madeOnce(RENDERED, s, key, () => kindOf(s.type).render(s, maxChars, opts));
}
