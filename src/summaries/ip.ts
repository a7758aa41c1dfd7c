/** IP address report: raw VT ip_address object in, compact summary out. */
import { z } from 'zod';
import {
  analysisAgeShape,
  arr,
  clean,
  cleanBlock,
  compact,
  type Detail,
  daySchema,
  guiLink,
  isoDay,
  type Json,
  num,
  obj,
} from './common.js';
import {
  analysisPart,
  analysisPartShape,
  certificatePart,
  certificateSchema,
  renderAnalysis,
  renderCertificate,
} from './network.js';
import { q, TextBuilder } from './text.js';

export const ipSummarySchema = z.object({
  type: z.literal('ip_address'),
  id: z.string(),
  ...analysisPartShape,
  ...analysisAgeShape,
  as_owner: z.string().optional(),
  asn: z.number().optional(),
  country: z.string().optional(),
  continent: z.string().optional(),
  network: z.string().optional(),
  rir: z.string().optional(),
  certificate: certificateSchema.optional(),
  crowdsourced_context: z
    .array(
      z.object({
        source: z.string().optional(),
        title: z.string().optional(),
        severity: z.string().optional(),
        date: daySchema.optional(),
      }),
    )
    .optional(),
  jarm: z.string().optional(),
  whois_excerpt: z.string().optional(),
  link: z.string(),
});
export type IpSummary = z.infer<typeof ipSummarySchema>;

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
