/**
 * Reports: one entry per object type a report is given for (file, URL, domain, IP address), each
 * with its schema, its summariser (raw VT object in, typed summary out) and its text (rendered from
 * the summary). vt_get_report and the vt://{type}/{id} resources use these; one-line items of any
 * object type are in related.ts.
 */
import { z } from 'zod';
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

/** Summarises a VT object of type file, url, domain or ip_address; undefined for other types. */
export function summarizeReport(data: unknown, detail: Detail): ReportSummary | undefined {
  const d = obj(data);
  if (!d || !isReportType(d.type)) return undefined;
  return (REPORTS[d.type] as ReportKind<ReportSummary>).summarise(d, detail);
}

/** The text of a report summary, within maxChars (what it cuts is named in it). */
export function renderReport(s: ReportSummary, maxChars: number): string {
  return (REPORTS[s.type] as ReportKind<ReportSummary>).render(s, maxChars);
}
