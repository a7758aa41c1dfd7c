/** Raw VT object in, compact summary and its text out: the one entry point tools use. */
import type { Json } from './common.js';
import { obj } from './common.js';
import { type DomainSummary, renderDomainText, summarizeDomain } from './domain.js';
import { type Detail, type FileSummary, renderFileText, summarizeFile } from './file.js';
import { type IpSummary, renderIpText, summarizeIp } from './ip.js';
import { renderUrlText, summarizeUrl, type UrlSummary } from './url.js';

export type { Detail } from './file.js';
export type ReportSummary = FileSummary | UrlSummary | DomainSummary | IpSummary;

export interface Rendered<S> {
  summary: S;
  text: string;
}

/** Summarises a VT object of type file, url, domain or ip_address; undefined for other types. */
export function summarizeReport(
  data: unknown,
  detail: Detail,
  maxChars: number,
): Rendered<ReportSummary> | undefined {
  const d = obj(data) as Json | undefined;
  if (!d) return undefined;
  switch (d.type) {
    case 'file': {
      const s = summarizeFile(d, detail);
      return { summary: s, text: renderFileText(s, maxChars) };
    }
    case 'url': {
      const s = summarizeUrl(d, detail);
      return { summary: s, text: renderUrlText(s, maxChars) };
    }
    case 'domain': {
      const s = summarizeDomain(d, detail);
      return { summary: s, text: renderDomainText(s, maxChars) };
    }
    case 'ip_address': {
      const s = summarizeIp(d, detail);
      return { summary: s, text: renderIpText(s, maxChars) };
    }
    default:
      return undefined;
  }
}
