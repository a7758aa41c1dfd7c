/**
 * The text of a collection summary: per collection_type what an analyst checks first, names and
 * descriptions quoted (untrusted), and how to list the members.
 */

import type { CollectionSummary } from './collection-schema.js';
import { type Detail, fmtInt, plural } from './common.js';
import { joinMore, q, TextBuilder } from './text.js';

/** The most a concise collection answer says; the detailed one has the whole budget. */
export const CONCISE_COLLECTION_MAX = 3_000;

/** What each collection_type is called in a sentence. */
const KIND_LABELS: Record<string, string> = {
  'threat-actor': 'Threat actor',
  'malware-family': 'Malware family',
  campaign: 'Campaign',
  report: 'Report',
  vulnerability: 'Vulnerability',
  'software-toolkit': 'Software or toolkit',
  collection: 'IoC collection',
};

function listText(items: string[] | undefined, more: number | undefined, quoted = false): string | undefined {
  if (!items?.length) return undefined;
  return joinMore(quoted ? items.map(q) : items, more ?? 0);
}

function countersText(c: CollectionSummary['counters']): string | undefined {
  if (!c) return undefined;
  const parts = [
    c.files !== undefined && plural(c.files, 'file'),
    c.domains !== undefined && plural(c.domains, 'domain'),
    c.ip_addresses !== undefined && plural(c.ip_addresses, 'IP address', 'IP addresses'),
    c.urls !== undefined && plural(c.urls, 'URL'),
  ].filter((p): p is string => !!p);
  const extra = [
    c.iocs !== undefined && `${fmtInt(c.iocs)} IoCs in all`,
    c.attack_techniques !== undefined && plural(c.attack_techniques, 'ATT&CK technique'),
  ].filter((p): p is string => !!p);
  if (parts.length === 0 && extra.length === 0) return undefined;
  return `Associated: ${[...parts, ...extra].join(' · ')}`;
}

function renderVulnerability(t: TextBuilder, v: NonNullable<CollectionSummary['vulnerability']>): void {
  const cvss = v.cvss?.map((c) => `CVSS ${c.version} ${c.score}${c.vector ? ` (${c.vector})` : ''}`);
  t.line(
    [
      v.cve_id,
      ...(cvss ?? []),
      v.risk_rating && `risk ${v.risk_rating}`,
      v.priority && `priority ${v.priority}`,
    ]
      .filter(Boolean)
      .join(' · ') || undefined,
  );
  t.line(
    [
      v.exploitation_state && `exploitation ${v.exploitation_state}`,
      v.exploit_availability && `exploits ${v.exploit_availability}`,
      v.first_exploited && `first exploited ${v.first_exploited}`,
      v.cisa_kev_added &&
        `CISA KEV since ${v.cisa_kev_added}${v.cisa_kev_ransomware ? ` (ransomware use: ${v.cisa_kev_ransomware})` : ''}`,
      v.epss &&
        `EPSS ${v.epss.score}${v.epss.percentile !== undefined ? ` (percentile ${v.epss.percentile})` : ''}`,
    ]
      .filter(Boolean)
      .join(' · ')
      .replace(/^./, (c) => c.toUpperCase()) || undefined,
  );
  t.section(
    'impact',
    [
      v.exploitation_consequence && `Impact: ${v.exploitation_consequence}`,
      v.cwe && `weakness ${q(v.cwe)}`,
      v.disclosed && `disclosed ${v.disclosed}`,
      v.mitigations?.length && `mitigations ${v.mitigations.join(', ')}`,
    ]
      .filter(Boolean)
      .join(' · ') || undefined,
    2,
  );
  t.section(
    'executive summary',
    v.executive_summary && `Executive summary (untrusted text): ${q(v.executive_summary)}`,
    3,
  );
}

function renderReportPart(t: TextBuilder, r: NonNullable<CollectionSummary['report']>, s: CollectionSummary) {
  t.line(
    [
      r.report_type && `Report type ${q(r.report_type)}`,
      r.author && `author ${q(r.author)}`,
      s.created && `published ${s.created}`,
      r.report_id && `report id ${r.report_id}`,
      r.confidence && `confidence ${r.confidence}`,
    ]
      .filter(Boolean)
      .join(' · ') || undefined,
  );
  t.section(
    'report scope',
    [
      r.threat_scape?.length && `Threat scape: ${r.threat_scape.join(', ')}`,
      r.intended_effects?.length && `intended effects: ${r.intended_effects.join(', ')}`,
      r.affected_systems?.length && `affected systems: ${r.affected_systems.join(', ')}`,
    ]
      .filter(Boolean)
      .join(' · ') || undefined,
    3,
  );
  t.section(
    'executive summary',
    r.executive_summary && `Executive summary (untrusted text): ${q(r.executive_summary)}`,
    2,
  );
}

/**
 * The text of a collection summary within maxChars; a concise one within CONCISE_COLLECTION_MAX too.
 * Names and descriptions are quoted (untrusted); what does not fit is named.
 */
export function renderCollectionText(
  s: CollectionSummary,
  maxChars: number,
  detail: Detail = 'concise',
): string {
  const t = new TextBuilder();
  const label = KIND_LABELS[s.collection_type] ?? `Collection (${s.collection_type})`;
  t.line(`${label} ${s.name ? q(s.name) : s.id} · collection ${s.id}`);
  t.line(
    [
      s.origin && `Origin: ${q(s.origin)}`,
      s.created && `created ${s.created}`,
      s.updated && `updated ${s.updated}`,
    ]
      .filter(Boolean)
      .join(' · ') || undefined,
  );
  const active = [
    s.first_seen && `first seen ${s.first_seen}`,
    s.last_seen && `last seen ${s.last_seen}`,
  ].filter(Boolean);
  if (active.length) t.line(`Activity: ${active.join(' · ')}`);
  if (s.vulnerability) renderVulnerability(t, s.vulnerability);
  if (s.report) renderReportPart(t, s.report, s);
  if (s.campaign_type) t.line(`Campaign type: ${s.campaign_type}`);
  const who = [
    s.motivations?.length && `Motivations: ${listText(s.motivations, s.motivations_more)}`,
    s.source_regions?.length && `source region: ${listText(s.source_regions, s.source_regions_more)}`,
  ].filter(Boolean);
  t.section('motivations', who.length ? who.join(' · ') : undefined, 1);
  const malware = [
    s.malware_roles?.length && `Roles: ${listText(s.malware_roles, s.malware_roles_more)}`,
    s.operating_systems?.length &&
      `operating systems: ${listText(s.operating_systems, s.operating_systems_more)}`,
  ].filter(Boolean);
  t.section('roles', malware.length ? malware.join(' · ') : undefined, 1);
  t.section(
    'aliases',
    s.aliases?.length ? `Aliases (untrusted): ${listText(s.aliases, s.aliases_more, true)}` : undefined,
    2,
  );
  t.section(
    'merged actors',
    s.merged_actors?.length
      ? `Merged actors: ${listText(s.merged_actors, s.merged_actors_more, true)}`
      : undefined,
    4,
  );
  t.section(
    'capabilities',
    s.capabilities?.length
      ? `Capabilities: ${listText(s.capabilities, s.capabilities_more, true)}`
      : undefined,
    3,
  );
  t.section(
    'detection names',
    s.detection_names?.length
      ? `Detection names: ${listText(s.detection_names, s.detection_names_more, true)}`
      : undefined,
    2,
  );
  t.section(
    'targeted industries',
    s.targeted_industries?.length
      ? `Targeted industries: ${listText(s.targeted_industries, s.targeted_industries_more)}`
      : undefined,
    2,
  );
  t.section(
    'targeted regions',
    s.targeted_regions?.length
      ? `Targeted regions: ${listText(s.targeted_regions, s.targeted_regions_more)}`
      : undefined,
    2,
  );
  t.section('tags', s.tags?.length ? `Tags: ${listText(s.tags, s.tags_more, true)}` : undefined, 4);
  t.line(countersText(s.counters));
  t.section(
    'description',
    s.description ? `Description (untrusted text): ${q(s.description)}` : undefined,
    3,
  );
  const [first, ...others] = s.members ?? [];
  if (first) {
    t.line(
      `Members: vt_get_relationships with indicator="${s.id}" and relationship="${first}"` +
        `${others.length ? ` (or ${others.join(', ')})` : ''}` +
        `${s.linked?.length ? `; linked threats: ${s.linked.join(', ')}` : ''}; one lookup per page.`,
    );
  }
  if (detail === 'concise' && hasMore(s)) {
    t.line(
      'More: detail="detailed" gives every alias and target and more of the description (no new lookup while cached).',
    );
  }
  t.line(`Link: ${s.link}`);
  return t.render(detail === 'concise' ? Math.min(maxChars, CONCISE_COLLECTION_MAX) : maxChars);
}

/** Something the concise summary left out that the detailed one would show. */
function hasMore(s: CollectionSummary): boolean {
  return (
    !!s.description_cut ||
    [
      s.aliases_more,
      s.merged_actors_more,
      s.motivations_more,
      s.targeted_industries_more,
      s.targeted_regions_more,
      s.tags_more,
      s.capabilities_more,
      s.detection_names_more,
    ].some((n) => (n ?? 0) > 0)
  );
}
