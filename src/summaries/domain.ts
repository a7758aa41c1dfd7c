/** Domain report: raw VT domain object in, compact summary out. */
import { clean, cleanBlock, compact, guiLink, isoDate, type Json, obj } from './common.js';
import type { Detail } from './file.js';
import {
  type AnalysisPart,
  analysisPart,
  type CertificatePart,
  certificatePart,
  type DnsRecord,
  dnsRecords,
  popularity,
  renderAnalysis,
  renderCertificate,
  renderDns,
} from './network.js';
import { q, TextBuilder } from './text.js';

export interface DomainSummary extends AnalysisPart {
  type: 'domain';
  id: string;
  registrar?: string;
  created?: string;
  expires?: string;
  updated?: string;
  dns?: DnsRecord[];
  dns_more?: number;
  dns_date?: string;
  certificate?: CertificatePart;
  popularity?: string[];
  jarm?: string;
  whois_excerpt?: string;
  link: string;
}

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
