/**
 * Reports: one entry per object type a report is given for (file, URL, domain, IP address), each
 * with its schema, its summariser (raw VT object in, typed summary out) and its text (rendered from
 * the summary). vt_get_report and the vt://{type}/{id} resources use these; one-line items of any
 * object type are in related.ts.
 */
import { z } from 'zod';
import { deepFreeze } from '../util/freeze.js';
import type { IndicatorType } from '../vt/indicators.js';
import { type Detail, type Json, obj } from './common.js';
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
  render(summary: S, maxChars: number): string;
}

const REPORTS: { [T in IndicatorType]: ReportKind<Extract<ReportSummary, { type: T }>> } = {
  file: { summarise: summarizeFile, render: renderFileText } satisfies ReportKind<FileSummary>,
  url: { summarise: summarizeUrl, render: renderUrlText } satisfies ReportKind<UrlSummary>,
  domain: { summarise: summarizeDomain, render: renderDomainText } satisfies ReportKind<DomainSummary>,
  ip_address: { summarise: summarizeIp, render: renderIpText } satisfies ReportKind<IpSummary>,
};

function isReportType(t: unknown): t is IndicatorType {
  return typeof t === 'string' && Object.hasOwn(REPORTS, t);
}

/**
 * Summaries already made, by the object they were made from: the cache hands every caller of a recent
 * answer one frozen object (vt/cache.ts), so a burst of calls for it summarises it once. Pure functions of
 * their input, and frozen here, they are safe to share.
 */
const MADE = new WeakMap<object, Partial<Record<Detail, ReportSummary>>>();

/** Summarises a VT object of type file, url, domain or ip_address; undefined for other types. */
export function summarizeReport(data: unknown, detail: Detail): ReportSummary | undefined {
  const d = obj(data);
  if (!d || !isReportType(d.type)) return undefined;
  // Only an object nobody can change (a cached answer) is remembered.
  if (!Object.isFrozen(d)) return (REPORTS[d.type] as ReportKind<ReportSummary>).summarise(d, detail);
  let made = MADE.get(d);
  if (!made) {
    made = {};
    MADE.set(d, made);
  }
  made[detail] ??= deepFreeze((REPORTS[d.type] as ReportKind<ReportSummary>).summarise(d, detail));
  return made[detail];
}

/** Texts already rendered from a remembered (frozen) summary, by the room they were given. */
const RENDERED = new WeakMap<object, Map<number, string>>();

/** The text of a report summary, within maxChars (what it cuts is named in it). */
export function renderReport(s: ReportSummary, maxChars: number): string {
  if (!Object.isFrozen(s)) return (REPORTS[s.type] as ReportKind<ReportSummary>).render(s, maxChars);
  let byRoom = RENDERED.get(s);
  if (!byRoom) {
    byRoom = new Map();
    RENDERED.set(s, byRoom);
  }
  let text = byRoom.get(maxChars);
  if (text === undefined) {
    text = (REPORTS[s.type] as ReportKind<ReportSummary>).render(s, maxChars);
    byRoom.set(maxChars, text);
  }
  return text;
}
