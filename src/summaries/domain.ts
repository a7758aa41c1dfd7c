/** Domain report: raw VT domain object in, compact summary out. */
import { z } from 'zod';
import {
  analysisAgeShape,
  clean,
  cleanBlock,
  compact,
  type Detail,
  dateTimeSchema,
  guiLink,
  isoDate,
  type Json,
  obj,
} from './common.js';
import {
  analysisPart,
  analysisPartShape,
  certificatePart,
  certificateSchema,
  dnsRecords,
  dnsShape,
  popularity,
  renderAnalysis,
  renderCertificate,
  renderDns,
} from './network.js';
import { q, TextBuilder } from './text.js';

export const domainSummarySchema = z.object({
  type: z.literal('domain'),
  id: z.string(),
  ...analysisPartShape,
  ...analysisAgeShape,
  registrar: z.string().optional(),
  created: dateTimeSchema.optional(),
  expires: dateTimeSchema.optional(),
  updated: dateTimeSchema.optional(),
  ...dnsShape,
  certificate: certificateSchema.optional(),
  popularity: z.array(z.string()).optional(),
  jarm: z.string().optional(),
  whois_excerpt: z.string().optional(),
  link: z.string(),
});
export type DomainSummary = z.infer<typeof domainSummarySchema>;

export function summarizeDomain(data: Json, detail: Detail = 'concise'): DomainSummary {
  const a = obj(data.attributes) ?? {};
  const id = clean(data.id, 253) ?? '';
  const dns = dnsRecords(a, detail);
  return compact({
    type: 'domain' as const,
    id,
    ...analysisPart(a, detail),
    registrar: clean(a.registrar, 80),
    created: isoDate(a.creation_date),
    expires: isoDate(a.expiration_date),
    updated: isoDate(a.last_update_date),
    dns: dns.records,
    dns_more: dns.more || undefined,
    dns_date: dns.date,
    certificate: certificatePart(a, detail),
    popularity: popularity(a),
    jarm: detail === 'detailed' ? clean(a.jarm, 62) : undefined,
    whois_excerpt: detail === 'detailed' ? cleanBlock(a.whois, 1500, 30) : undefined,
    link: guiLink('domain', id),
  });
}

export function renderDomainText(s: DomainSummary, maxChars: number): string {
  const t = new TextBuilder();
  t.line(`Domain ${s.id}`);
  renderAnalysis(t, s);
  const reg = [
    s.registrar && `registrar ${q(s.registrar)}`,
    s.created && `created ${s.created}`,
    s.expires && `expires ${s.expires}`,
    s.updated && `updated ${s.updated}`,
  ].filter(Boolean);
  if (reg.length) t.line(`Registration: ${reg.join(' · ')}`);
  renderDns(t, s.dns, s.dns_more, s.dns_date);
  renderCertificate(t, s.certificate);
  t.section('popularity', s.popularity?.length ? `Popularity: ${s.popularity.join(', ')}` : undefined);
  t.section('JARM', s.jarm ? `JARM: ${s.jarm}` : undefined);
  t.section('whois', s.whois_excerpt ? `Whois (untrusted registrant text):\n${s.whois_excerpt}` : undefined);
  t.line(`Link: ${s.link}`);
  return t.render(maxChars);
}
