/** IP address report: raw VT ip_address object in, compact summary out. */
import { arr, clean, cleanBlock, compact, guiLink, isoDay, type Json, num, obj } from './common.js';
import type { Detail } from './file.js';
import {
  type AnalysisPart,
  analysisPart,
  type CertificatePart,
  certificatePart,
  renderAnalysis,
  renderCertificate,
} from './network.js';
import { q, TextBuilder } from './text.js';

export interface IpSummary extends AnalysisPart {
  type: 'ip_address';
  id: string;
  as_owner?: string;
  asn?: number;
  country?: string;
  continent?: string;
  network?: string;
  rir?: string;
  certificate?: CertificatePart;
  crowdsourced_context?: Array<{ source?: string; title?: string; severity?: string; date?: string }>;
  jarm?: string;
  whois_excerpt?: string;
  link: string;
}

export function summarizeIp(data: Json, detail: Detail = 'concise'): IpSummary {
  const a = obj(data.attributes) ?? {};
  const id = clean(data.id, 64) ?? '';
  const ctx = arr(a.crowdsourced_context)
    .map((c) => obj(c) ?? {})
    .map((c) =>
      compact({
        source: clean(c.source, 40),
        title: clean(c.title, 120),
        severity: clean(c.severity, 12),
        date: isoDay(c.timestamp),
      }),
    )
    .slice(0, detail === 'detailed' ? 10 : 3);
  return compact({
    type: 'ip_address' as const,
    id,
    ...analysisPart(a, detail),
    as_owner: clean(a.as_owner, 80),
    asn: num(a.asn),
    country: clean(a.country, 4),
    continent: clean(a.continent, 4),
    network: clean(a.network, 50),
    rir: clean(a.regional_internet_registry, 20),
    certificate: certificatePart(a, detail),
    crowdsourced_context: ctx,
    jarm: detail === 'detailed' ? clean(a.jarm, 62) : undefined,
    whois_excerpt: detail === 'detailed' ? cleanBlock(a.whois, 1500, 30) : undefined,
    link: guiLink('ip_address', id),
  });
}

export function renderIpText(s: IpSummary, maxChars: number): string {
  const t = new TextBuilder();
  t.line(`IP address ${s.id}`);
  renderAnalysis(t, s);
  const net = [
    s.asn !== undefined && `AS${s.asn}`,
    s.as_owner && q(s.as_owner),
    s.network && `network ${s.network}`,
    s.country && `country ${s.country}`,
    s.continent && `continent ${s.continent}`,
    s.rir && `RIR ${s.rir}`,
  ].filter(Boolean);
  if (net.length) t.line(`Network: ${net.join(' · ')}`);
  t.section(
    'crowdsourced context',
    s.crowdsourced_context?.length
      ? `Context: ${s.crowdsourced_context.map((c) => [c.date, c.severity && `[${c.severity}]`, c.source, c.title && q(c.title)].filter(Boolean).join(' ')).join('; ')}`
      : undefined,
  );
  renderCertificate(t, s.certificate);
  t.section('JARM', s.jarm ? `JARM: ${s.jarm}` : undefined);
  t.section('whois', s.whois_excerpt ? `Whois (untrusted registrant text):\n${s.whois_excerpt}` : undefined);
  t.line(`Link: ${s.link}`);
  return t.render(maxChars);
}
