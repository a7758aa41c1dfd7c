/**
 * Collection report: a VirusTotal collection object in (GET /collections/{id}), a compact summary out,
 * and its text. Per collection_type it keeps what an analyst checks first: for a threat actor its
 * names, motivations, origin, targets and activity dates; for a malware family its roles, platforms,
 * capabilities and detection names; for a campaign its type and targets; for a report its kind, author,
 * date and executive summary; for a vulnerability its CVE, CVSS, exploitation, EPSS and risk rating;
 * for all, how many files, domains, IPs and URLs it holds and how to list them.
 *
 * Every name, alias and description is untrusted text (a user-made collection is written by whoever made
 * it, and curated text quotes attackers): cleaned and capped here, quoted in the text.
 */
import { z } from 'zod';
import {
  arr,
  clean,
  compact,
  type Detail,
  daySchema,
  fmtInt,
  guiLink,
  isoDay,
  type Json,
  num,
  obj,
  plural,
} from './common.js';
import { joinMore, q, TextBuilder } from './text.js';

/** The most a concise collection answer says; the detailed one has the whole budget. */
export const CONCISE_COLLECTION_MAX = 3_000;

const str = z.string().optional();
const count = z.number().optional();
const day = daySchema.optional();
const list = z.array(z.string()).optional();

/** A capped list of values and how many more there were. */
function listFields<K extends string>(name: K) {
  return { [name]: list, [`${name}_more`]: count } as { [P in K]: typeof list } & {
    [P in `${K}_more`]: typeof count;
  };
}

const countersSchema = z
  .object({
    files: count,
    domains: count,
    ip_addresses: count,
    urls: count,
    iocs: count,
    attack_techniques: count,
  })
  .meta({ id: 'collection_counters' });

const reportPartSchema = z.object({
  report_type: str,
  report_id: str,
  author: str,
  confidence: str,
  executive_summary: str,
  threat_scape: list,
  intended_effects: list,
  affected_systems: list,
});

const cvssSchema = z.object({ version: z.string(), score: z.number(), vector: str });

const vulnerabilityPartSchema = z.object({
  cve_id: str,
  cvss: z.array(cvssSchema).optional(),
  risk_rating: str,
  priority: str,
  exploitation_state: str,
  exploit_availability: str,
  exploitation_consequence: str,
  first_exploited: day,
  disclosed: day,
  epss: z.object({ score: z.number(), percentile: count }).optional(),
  cisa_kev_added: day,
  cisa_kev_ransomware: str,
  cwe: str,
  mitigations: list,
  executive_summary: str,
});

export const collectionSummarySchema = z.object({
  type: z.literal('collection'),
  id: z.string(),
  /** threat-actor, malware-family, campaign, report, vulnerability, software-toolkit, collection (user-made). */
  collection_type: z.string(),
  name: str,
  origin: str,
  created: day,
  updated: day,
  first_seen: day,
  last_seen: day,
  ...listFields('aliases'),
  ...listFields('merged_actors'),
  ...listFields('motivations'),
  ...listFields('source_regions'),
  ...listFields('targeted_industries'),
  ...listFields('targeted_regions'),
  ...listFields('tags'),
  /** Malware families and toolkits. */
  ...listFields('malware_roles'),
  ...listFields('operating_systems'),
  ...listFields('capabilities'),
  ...listFields('detection_names'),
  campaign_type: str,
  report: reportPartSchema.optional(),
  vulnerability: vulnerabilityPartSchema.optional(),
  counters: countersSchema.optional(),
  description: str,
  /** The description was cut to fit; detail="detailed" gives more of it. */
  description_cut: z.boolean().optional(),
  /** Relationship names that list its members and linked threats (vt_get_relationships). */
  members: list,
  linked: list,
  link: z.string(),
});
export type CollectionSummary = z.infer<typeof collectionSummarySchema>;

interface Caps {
  list: number;
  description: number;
  summary: number;
}

const CAPS: Record<Detail, Caps> = {
  concise: { list: 8, description: 500, summary: 500 },
  detailed: { list: 40, description: 3_000, summary: 2_000 },
};

const ENTITIES: Record<string, string> = {
  nbsp: ' ',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  '#39': "'",
};

/**
 * Report texts come as HTML (<p>, <ul><li>); as plain text, tags become spaces and the common
 * entities their characters. clean() then defuses whatever markup the decoded text spells.
 */
function plainText(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  return v
    .replace(/<\/?(?:p|li|ul|ol|br|div|h\d)\b[^>]*>/gi, ' ')
    .replace(/<[^>]{0,200}>/g, '')
    .replace(/&(nbsp|amp|lt|gt|quot|apos|#39);/g, (_m, e: string) => ENTITIES[e] ?? ' ');
}

/** The text of a value GTI gives as a plain string or as {value, confidence, …}. */
function entryValue(v: unknown): unknown {
  const o = obj(v);
  return o ? o.value : v;
}

/** Cleaned, de-duplicated values of a list (strings or {value} entries): at most `limit`, and how many more. */
function values(
  v: unknown,
  limit: number,
  max = 60,
  pick: (x: unknown) => unknown = entryValue,
): { items: string[]; more: number } {
  const seen = new Set<string>();
  let total = 0;
  const items: string[] = [];
  for (const x of arr(v)) {
    const c = clean(pick(x), max);
    if (c === undefined || seen.has(c.toLowerCase())) continue;
    seen.add(c.toLowerCase());
    total++;
    if (items.length < limit) items.push(c);
  }
  return { items, more: total - items.length };
}

/** `name` and `name_more` of a summary, from values(). */
function listOf<K extends string>(name: K, v: { items: string[]; more: number }) {
  return { [name]: v.items, [`${name}_more`]: v.more || undefined } as Record<K, string[]> &
    Record<`${K}_more`, number | undefined>;
}

/** The first of the *_details values (first_seen_details: [{value: "2019-05-14T10:01:13Z"}]) as a day. */
function detailDay(details: unknown, fallback: unknown): string | undefined {
  for (const d of arr(details)) {
    const day = isoDay(entryValue(d));
    if (day) return day;
  }
  return isoDay(fallback);
}

/** A place of a *_hierarchy entry: its country, else its sub-region or region. */
function place(x: unknown): unknown {
  const o = obj(x);
  return o ? (o.country ?? o.sub_region ?? o.region) : x;
}

/** An industry of targeted_industries_tree: "Industry group: industry" or the group alone. */
function industry(x: unknown): unknown {
  const o = obj(x);
  if (!o) return x;
  const group = typeof o.industry_group === 'string' ? o.industry_group : undefined;
  const ind = typeof o.industry === 'string' ? o.industry : undefined;
  return group && ind && ind !== group ? `${group}: ${ind}` : (group ?? ind);
}

function counters(a: Json): CollectionSummary['counters'] {
  const c = obj(a.counters) ?? {};
  const pick = (k: string) => num(c[k]) ?? num(a[`${k}_count`]);
  const out = compact({
    files: pick('files'),
    domains: pick('domains'),
    ip_addresses: pick('ip_addresses'),
    urls: pick('urls'),
    iocs: pick('iocs'),
    attack_techniques: pick('attack_techniques'),
  });
  return Object.keys(out).length > 0 ? out : undefined;
}

function reportPart(a: Json, caps: Caps): CollectionSummary['report'] {
  const part = compact({
    report_type: clean(a.report_type, 60),
    report_id: clean(a.report_id, 40),
    author: clean(a.author, 80),
    confidence: clean(a.report_confidence, 30),
    executive_summary: clean(
      plainText(a.executive_summary) ?? plainText(a.autogenerated_summary),
      caps.summary,
    ),
    threat_scape: values(a.threat_scape, caps.list, 40).items,
    intended_effects: values(a.intended_effects, caps.list, 40).items,
    affected_systems: values(a.affected_systems, caps.list, 60).items,
  });
  return Object.keys(part).length > 0 ? part : undefined;
}

/** CVSS versions as GTI keys them, newest first. */
const CVSS_KEYS: Array<[string, string]> = [
  ['cvssv4_x', '4'],
  ['cvssv3_x', '3.x'],
  ['cvssv2_0', '2.0'],
];

function vulnerabilityPart(a: Json, caps: Caps): CollectionSummary['vulnerability'] {
  const cvssAll = obj(a.cvss) ?? {};
  const cvss = CVSS_KEYS.flatMap(([key, version]) => {
    const c = obj(cvssAll[key]);
    const score = num(c?.base_score);
    return c && score !== undefined ? [compact({ version, score, vector: clean(c.vector, 120) })] : [];
  });
  const epss = obj(a.epss);
  const epssScore = num(epss?.score);
  const kev = obj(a.cisa_known_exploited);
  const cwe = obj(a.cwe);
  const exploitation = obj(a.exploitation);
  const part = compact({
    cve_id: clean(a.cve_id, 30),
    cvss,
    risk_rating: clean(a.risk_rating, 20) ?? clean(a.predicted_risk_rating, 20),
    priority: clean(a.priority, 10),
    exploitation_state: clean(a.exploitation_state, 30),
    exploit_availability: clean(a.exploit_availability, 40),
    exploitation_consequence: clean(a.exploitation_consequence, 60),
    first_exploited: isoDay(exploitation?.first_exploitation),
    disclosed: isoDay(a.date_of_disclosure),
    epss:
      epssScore !== undefined ? compact({ score: epssScore, percentile: num(epss?.percentile) }) : undefined,
    cisa_kev_added: isoDay(kev?.added_date),
    cisa_kev_ransomware: clean(kev?.ransomware_use, 20),
    cwe: cwe ? clean([cwe.id, cwe.title].filter((x) => typeof x === 'string').join(' '), 100) : undefined,
    mitigations: values(a.available_mitigation, caps.list, 40).items,
    executive_summary: clean(plainText(a.executive_summary), caps.summary),
  });
  return Object.keys(part).length > 0 ? part : undefined;
}

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

const MEMBERS = ['files', 'domains', 'ip_addresses', 'urls'];
/** Linked threats of a curated collection (Google Threat Intelligence relationships). */
const LINKED = [
  'threat_actors',
  'malware_families',
  'campaigns',
  'reports',
  'vulnerabilities',
  'attack_techniques',
];

export function summarizeCollection(data: Json, detail: Detail = 'concise'): CollectionSummary {
  const a = obj(data.attributes) ?? {};
  const caps = CAPS[detail];
  const id = clean(data.id, 200) ?? '';
  const type = clean(a.collection_type, 30)?.toLowerCase() ?? 'collection';
  const description = clean(plainText(a.description), caps.description + 1);
  const cut = description?.endsWith('…') ?? false;
  const aliases = values(a.alt_names_details, caps.list);
  return compact({
    type: 'collection' as const,
    id,
    collection_type: type,
    name: clean(a.name, 120),
    origin: clean(a.origin, 60),
    created: isoDay(a.creation_date),
    updated: isoDay(a.last_modification_date),
    first_seen: detailDay(a.first_seen_details, a.first_seen),
    last_seen: detailDay(a.last_seen_details, a.last_seen),
    ...listOf('aliases', aliases.items.length > 0 ? aliases : values(a.alt_names, caps.list)),
    ...listOf('merged_actors', values(a.merged_actors, detail === 'detailed' ? caps.list : 5, 40)),
    ...listOf('motivations', values(a.motivations, caps.list, 40)),
    ...listOf(
      'source_regions',
      values(
        arr(a.source_regions_hierarchy).length ? a.source_regions_hierarchy : [a.source_region],
        caps.list,
        40,
        place,
      ),
    ),
    ...listOf(
      'targeted_industries',
      values(
        arr(a.targeted_industries_tree).length ? a.targeted_industries_tree : a.targeted_industries,
        caps.list,
        60,
        industry,
      ),
    ),
    ...listOf(
      'targeted_regions',
      values(
        arr(a.targeted_regions_hierarchy).length ? a.targeted_regions_hierarchy : a.targeted_regions,
        caps.list,
        40,
        place,
      ),
    ),
    ...listOf('tags', values(arr(a.tags_details).length ? a.tags_details : a.tags, caps.list, 40)),
    ...listOf('malware_roles', values(a.malware_roles, caps.list, 40)),
    ...listOf('operating_systems', values(a.operating_systems, caps.list, 30)),
    ...listOf('capabilities', values(a.capabilities, caps.list, 60)),
    ...listOf('detection_names', values(a.detection_names, caps.list, 60)),
    campaign_type: clean(a.campaign_type, 30),
    report: type === 'report' ? reportPart(a, caps) : undefined,
    vulnerability: type === 'vulnerability' ? vulnerabilityPart(a, caps) : undefined,
    counters: counters(a),
    // One character over the cap is asked for, so that a cut is seen; the "…" stays as the sign of it.
    description: description && cut ? clean(description, caps.description) : description,
    description_cut: cut || undefined,
    members: MEMBERS,
    linked: type === 'collection' ? undefined : LINKED,
    link: guiLink('collection', id),
  });
}

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
