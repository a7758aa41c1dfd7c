/**
 * Pieces shared by the URL, domain and IP summaries: detections, categories, certificates, DNS.
 */
import { z } from 'zod';
import {
  arr,
  cap,
  clean,
  compact,
  countedList,
  countedSchema,
  type Detail,
  dateTimeSchema,
  daySchema,
  detectionStats,
  detectionStatsSchema,
  engineResults,
  isoDate,
  isoDay,
  type Json,
  num,
  obj,
  statsLine,
  strings,
  verdictOf,
  verdictSchema,
} from './common.js';
import { joinMore, type TextBuilder } from './text.js';

/** Engines that flagged an object: name and label. */
export const flaggedSchema = z.object({ engine: z.string(), label: z.string() });

export const analysisPartShape = {
  verdict: verdictSchema,
  stats: detectionStatsSchema.optional(),
  flagged_by: z.array(flaggedSchema).optional(),
  flagged_more: z.number().optional(),
  detection_labels: z.array(countedSchema).optional(),
  categories: z.array(z.string()).optional(),
  reputation: z.number().optional(),
  votes: z.object({ harmless: z.number(), malicious: z.number() }).optional(),
  tags: z.array(z.string()).optional(),
  last_analysis: dateTimeSchema.optional(),
};
const analysisPartSchema = z.object(analysisPartShape);
type AnalysisPart = z.infer<typeof analysisPartSchema>;

export function analysisPart(a: Json, detail: Detail): AnalysisPart {
  const stats = detectionStats(a.last_analysis_stats);
  const results = engineResults(a.last_analysis_results);
  const flagged = cap(
    results.byEngine.map((e) => ({ engine: e.engine, label: e.label })),
    detail === 'detailed' ? 60 : 8,
  );
  // Categories from vendors: one line of distinct values is what an analyst reads.
  const categories = [
    ...new Set(
      Object.values(obj(a.categories) ?? {})
        .map((c) => clean(c, 50)?.toLowerCase())
        .filter((c): c is string => !!c),
    ),
  ].slice(0, detail === 'detailed' ? 20 : 6);
  const tv = obj(a.total_votes);
  return compact({
    verdict: verdictOf(stats),
    stats,
    flagged_by: flagged.items,
    flagged_more: flagged.more || undefined,
    detection_labels: results.labels.length > 0 ? results.labels.slice(0, 6) : undefined,
    categories,
    reputation: num(a.reputation),
    votes: tv ? { harmless: num(tv.harmless) ?? 0, malicious: num(tv.malicious) ?? 0 } : undefined,
    tags: strings(a.tags, 40, 12),
    last_analysis: isoDate(a.last_analysis_date),
  });
}

export function renderAnalysis(t: TextBuilder, p: AnalysisPart & { analysis_age_days?: number }): void {
  t.line(statsLine(p.verdict, p.stats, p.last_analysis, p.analysis_age_days));
  if (p.flagged_by?.length) {
    t.line(
      `Flagged by: ${joinMore(
        p.flagged_by.map((f) => `${f.engine} (${f.label})`),
        p.flagged_more ?? 0,
      )}`,
    );
  }
  if (p.categories?.length) t.line(`Categories: ${p.categories.join(', ')}`);
  if (p.reputation !== undefined || p.votes) {
    const community = [
      p.reputation !== undefined && `reputation ${p.reputation}`,
      p.votes && `votes ${p.votes.malicious} malicious / ${p.votes.harmless} harmless`,
    ].filter(Boolean);
    t.line(`Community: ${community.join(', ')}`);
  }
  t.section('tags', p.tags?.length ? `Tags: ${p.tags.join(', ')}` : undefined);
  t.section(
    'detection labels',
    p.detection_labels && p.detection_labels.length > 1
      ? `Labels: ${countedList(p.detection_labels)}`
      : undefined,
  );
}

export const certificateSchema = z
  .object({
    subject: z.string().optional(),
    issuer: z.string().optional(),
    valid_from: dateTimeSchema.optional(),
    valid_to: dateTimeSchema.optional(),
    alt_names: z.array(z.string()).optional(),
    alt_names_more: z.number().optional(),
    thumbprint_sha256: z.string().optional(),
    retrieved: dateTimeSchema.optional(),
  })
  .meta({ id: 'certificate' });
type CertificatePart = z.infer<typeof certificateSchema>;

/** A distinguished name: CN, O and C in the concise view (what people recognise), every part in detail. */
function dn(v: unknown, detail: Detail): string | undefined {
  const o = obj(v);
  if (!o) return clean(v, 160);
  const order = ['CN', 'O', 'OU', 'L', 'ST', 'C'];
  const rank = (k: string) => (order.indexOf(k) === -1 ? order.length : order.indexOf(k));
  const keys = Object.keys(o)
    .filter((k) => detail === 'detailed' || ['CN', 'O', 'C'].includes(k))
    .sort((x, y) => rank(x) - rank(y));
  return clean(keys.map((k) => `${k}=${clean(o[k], 80)}`).join(', '), 200);
}

export function certificatePart(a: Json, detail: Detail): CertificatePart | undefined {
  const c = obj(a.last_https_certificate);
  if (!c) return undefined;
  const validity = obj(c.validity);
  const san = strings(obj(c.extensions)?.subject_alternative_name, 80);
  const sanCap = cap(san, detail === 'detailed' ? 25 : 5);
  return compact({
    subject: dn(c.subject, detail),
    issuer: dn(c.issuer, detail),
    valid_from: isoDate(validity?.not_before),
    valid_to: isoDate(validity?.not_after),
    alt_names: sanCap.items,
    alt_names_more: sanCap.more || undefined,
    thumbprint_sha256: detail === 'detailed' ? clean(c.thumbprint_sha256, 64) : undefined,
    retrieved: isoDate(a.last_https_certificate_date),
  });
}

export function renderCertificate(t: TextBuilder, c: CertificatePart | undefined): void {
  if (!c) return;
  const bits = [
    c.subject && `subject ${c.subject}`,
    c.issuer && `issuer ${c.issuer}`,
    (c.valid_from || c.valid_to) &&
      `valid ${c.valid_from ? c.valid_from.slice(0, 10) : 'until'}${c.valid_from && c.valid_to ? ' to' : c.valid_from ? ' onwards' : ''}${c.valid_to ? ` ${c.valid_to.slice(0, 10)}` : ''}`,
    c.alt_names?.length && `SAN ${joinMore(c.alt_names, c.alt_names_more ?? 0)}`,
    c.thumbprint_sha256 && `sha256 ${c.thumbprint_sha256}`,
  ].filter(Boolean);
  t.section('certificate', `Certificate: ${bits.join(' · ')}`);
}

const dnsRecordSchema = z.object({ type: z.string(), value: z.string(), ttl: z.number().optional() });
type DnsRecord = z.infer<typeof dnsRecordSchema>;

/** The DNS part of a domain summary. */
export const dnsShape = {
  dns: z.array(dnsRecordSchema).optional(),
  dns_more: z.number().optional(),
  dns_date: daySchema.optional(),
};

export function dnsRecords(a: Json, detail: Detail): { records: DnsRecord[]; more: number; date?: string } {
  const wanted = detail === 'detailed' ? undefined : new Set(['A', 'AAAA', 'MX', 'NS', 'CNAME']);
  const all = arr(a.last_dns_records)
    .map((r) => obj(r) ?? {})
    // A record type is a short upper-case word (A, AAAA, MX, TXT, HTTPS...); anything else is not shown.
    .filter(
      (r): r is Json & { type: string } => typeof r.type === 'string' && /^[A-Z0-9]{1,10}$/.test(r.type),
    )
    .filter((r) => !wanted || wanted.has(r.type))
    // An MX with an empty host is a null MX (RFC 7505, "0 ."); any other record without a value says nothing.
    .filter((r) => clean(r.value, 120) !== undefined || r.type === 'MX')
    .map((r) => {
      const extra = r.type === 'MX' && num(r.priority) !== undefined ? `${r.priority} ` : '';
      const value = clean(r.value, 120) ?? '.';
      return compact({
        type: r.type,
        value: extra + value,
        ttl: detail === 'detailed' ? num(r.ttl) : undefined,
      });
    });
  const order = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'TXT', 'SOA', 'CAA'];
  all.sort((x, y) => ((order.indexOf(x.type) + 99) % 99) - ((order.indexOf(y.type) + 99) % 99));
  const c = cap(all, detail === 'detailed' ? 60 : 12);
  const date = isoDay(a.last_dns_records_date);
  return { records: c.items, more: c.more, ...(date ? { date } : {}) };
}

export function renderDns(
  t: TextBuilder,
  records: DnsRecord[] | undefined,
  more: number | undefined,
  date?: string,
): void {
  if (!records?.length) return;
  const byType = new Map<string, string[]>();
  for (const r of records) byType.set(r.type, [...(byType.get(r.type) ?? []), r.value]);
  const body = [...byType.entries()].map(([type, values]) => `${type} ${values.join(', ')}`).join(' · ');
  t.section(
    'DNS records',
    `DNS${date ? ` (${date})` : ''}: ${body}${more ? ` (+${more} more records)` : ''}`,
  );
}

export function popularity(a: Json): string[] | undefined {
  const p = obj(a.popularity_ranks);
  if (!p) return undefined;
  const out = Object.entries(p)
    .map(([list, v]) => {
      const rank = num(obj(v)?.rank);
      return rank === undefined ? undefined : `${clean(list, 30)} #${rank}`;
    })
    .filter((x): x is string => !!x)
    .slice(0, 6);
  return out.length > 0 ? out : undefined;
}
