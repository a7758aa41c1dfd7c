/** URL report: raw VT url object in, compact summary out. */
import { z } from 'zod';
import {
  analysisAgeShape,
  clean,
  compact,
  type Detail,
  dateTimeSchema,
  fmtInt,
  guiLink,
  isoDate,
  type Json,
  num,
  obj,
  strings,
} from './common.js';
import { analysisPart, analysisPartShape, renderAnalysis } from './network.js';
import { joinMore, q, TextBuilder } from './text.js';

const strs = z.array(z.string());

export const urlSummarySchema = z.object({
  type: z.literal('url'),
  id: z.string(),
  url: z.string().optional(),
  final_url: z.string().optional(),
  title: z.string().optional(),
  http_status: z.number().optional(),
  content_length: z.number().optional(),
  content_sha256: z.string().optional(),
  redirection_chain: strs.optional(),
  redirection_more: z.number().optional(),
  threat_names: strs.optional(),
  targeted_brands: strs.optional(),
  ...analysisPartShape,
  ...analysisAgeShape,
  first_submission: dateTimeSchema.optional(),
  last_submission: dateTimeSchema.optional(),
  times_submitted: z.number().optional(),
  trackers: strs.optional(),
  outgoing_links: strs.optional(),
  outgoing_links_more: z.number().optional(),
  response_headers: z.record(z.string(), z.string()).optional(),
  link: z.string(),
});
export type UrlSummary = z.infer<typeof urlSummarySchema>;

export function summarizeUrl(data: Json, detail: Detail = 'concise'): UrlSummary {
  const a = obj(data.attributes) ?? {};
  const id = clean(data.id, 100) ?? '';
  const chain = strings(a.redirection_chain, 200);
  const chainCap = detail === 'detailed' ? 20 : 5;
  const links = strings(a.outgoing_links, 200);
  const headers = obj(a.last_http_response_headers);
  return compact({
    type: 'url' as const,
    id,
    url: clean(a.url, 300),
    final_url: clean(a.last_final_url, 300),
    title: clean(a.title, 120),
    http_status: num(a.last_http_response_code),
    content_length: num(a.last_http_response_content_length),
    content_sha256: clean(a.last_http_response_content_sha256, 64),
    redirection_chain: chain.slice(0, chainCap),
    redirection_more: chain.length > chainCap ? chain.length - chainCap : undefined,
    threat_names: strings(a.threat_names, 60, 8),
    targeted_brands: [...new Set(Object.values(obj(a.targeted_brand) ?? {}).map((b) => clean(b, 60)))].filter(
      (b): b is string => !!b,
    ),
    ...analysisPart(a, detail),
    first_submission: isoDate(a.first_submission_date),
    last_submission: isoDate(a.last_submission_date),
    times_submitted: num(a.times_submitted),
    trackers: Object.keys(obj(a.trackers) ?? {})
      .map((k) => clean(k, 40))
      .filter((k): k is string => !!k)
      .slice(0, detail === 'detailed' ? 20 : 6),
    outgoing_links: detail === 'detailed' ? links.slice(0, 20) : undefined,
    outgoing_links_more: detail === 'detailed' && links.length > 20 ? links.length - 20 : undefined,
    response_headers: detail === 'detailed' && headers ? shownHeaders(headers) : undefined,
    link: guiLink('url', id),
  });
}

/**
 * The first 20 response headers, names and values cleaned; a header whose value cleans to nothing is
 * left out (of two names that clean alike, the later value stands where the first name stood).
 */
function shownHeaders(headers: Json): Record<string, string> {
  const cleaned = Object.fromEntries(
    Object.entries(headers)
      .slice(0, 20)
      .map(([k, v]) => [clean(k, 40) ?? '?', clean(v, 120)]),
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(cleaned)) if (v !== undefined) out[k] = v;
  return out;
}

export function renderUrlText(s: UrlSummary, maxChars: number): string {
  const t = new TextBuilder();
  t.line(`URL ${s.url ? q(s.url) : s.id}`);
  renderAnalysis(t, s);
  if (s.threat_names?.length) t.line(`Threat names: ${s.threat_names.join(', ')}`);
  if (s.targeted_brands?.length) t.line(`Targeted brand: ${s.targeted_brands.join(', ')}`);
  const http = [
    s.final_url && s.final_url !== s.url && `final URL ${q(s.final_url)}`,
    s.http_status !== undefined && `HTTP ${s.http_status}`,
    s.title && `title ${q(s.title)}`,
    s.content_length !== undefined && `${fmtInt(s.content_length)} bytes`,
    s.content_sha256 && `body sha256 ${s.content_sha256}`,
  ].filter(Boolean);
  if (http.length) t.line(`Last fetch: ${http.join(' · ')}`);
  if (s.redirection_chain?.length) {
    t.line(`Redirects: ${joinMore(s.redirection_chain.map(q), s.redirection_more ?? 0, ' → ')}`);
  }
  const seen = [
    s.first_submission && `first submitted ${s.first_submission}`,
    s.last_submission && `last submitted ${s.last_submission}`,
    s.times_submitted !== undefined && `${fmtInt(s.times_submitted)} submissions`,
  ].filter(Boolean);
  if (seen.length) t.line(`Seen: ${seen.join(' · ')}`);
  t.section('trackers', s.trackers?.length ? `Trackers: ${s.trackers.join(', ')}` : undefined);
  t.section(
    'outgoing links',
    s.outgoing_links?.length
      ? `Outgoing links: ${joinMore(s.outgoing_links.map(q), s.outgoing_links_more ?? 0)}`
      : undefined,
  );
  t.section(
    'response headers',
    s.response_headers
      ? `Response headers: ${Object.entries(s.response_headers)
          .map(([k, v]) => `${k}: ${v}`)
          .join('; ')}`
      : undefined,
  );
  t.line(`Link: ${s.link}`);
  return t.render(maxChars);
}
