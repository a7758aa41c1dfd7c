/**
 * Relationship names per object type (and of collections), with who may read them (VT-API.md §4), and
 * the closest valid names for a typo. Pure: checking a name here costs no upstream request. Facts only:
 * the sentences that tell the model about them are in src/answers/wording.ts.
 */
import type { IndicatorType } from './indicators.js';

/** "all": every key, public ones included. "premium": VT Enterprise / Threat Landscape keys only. */
export type RelationshipAccess = 'all' | 'premium';

const ALL = 'all' as const;
const PREMIUM = 'premium' as const;

function table(all: string[], premium: string[]): ReadonlyMap<string, RelationshipAccess> {
  return new Map<string, RelationshipAccess>([
    ...all.map((n) => [n, ALL] as const),
    ...premium.map((n) => [n, PREMIUM] as const),
  ]);
}

// Names the other SDKs add beyond VT's tables ("also named elsewhere") are included: the ones read
// by every key where that is known, the rest as premium (the access only shapes error messages).
// The threat context of an object (the curated collections it belongs to) is Google Threat
// Intelligence's: associations (VT-API.md names it for files) and the per-kind names Google's own GTI
// MCP server lists for files, URLs, domains and IPs alike.
const THREAT_CONTEXT = [
  'associations',
  'campaigns',
  'malware_families',
  'reports',
  'related_reports',
  'software_toolkits',
  'vulnerabilities',
];

export const RELATIONSHIPS: Readonly<Record<IndicatorType, ReadonlyMap<string, RelationshipAccess>>> = {
  file: table(
    [
      'behaviours',
      'bundled_files',
      'collections',
      'comments',
      'contacted_domains',
      'contacted_ips',
      'contacted_urls',
      'dropped_files',
      'execution_parents',
      'graphs',
      'pe_resource_children',
      'pe_resource_parents',
      'votes',
      'user_votes',
    ],
    [
      'analyses',
      'carbonblack_children',
      'carbonblack_parents',
      'ciphered_bundled_files',
      'ciphered_parents',
      'compressed_parents',
      'email_attachments',
      'email_parents',
      'embedded_domains',
      'embedded_ips',
      'embedded_urls',
      'itw_domains',
      'itw_ips',
      'itw_urls',
      'memory_pattern_domains',
      'memory_pattern_ips',
      'memory_pattern_urls',
      'overlay_children',
      'overlay_parents',
      'pcap_children',
      'pcap_parents',
      'related_references',
      'related_threat_actors',
      'screenshots',
      'similar_files',
      'submissions',
      'urls_for_embedded_js',
      'sigma_analysis',
      'attack_techniques',
      ...THREAT_CONTEXT,
    ],
  ),
  url: table(
    [
      'comments',
      'graphs',
      'last_serving_ip_address',
      'network_location',
      'related_comments',
      'collections',
      'votes',
      'user_votes',
    ],
    [
      'analyses',
      'communicating_files',
      'contacted_domains',
      'contacted_ips',
      'downloaded_files',
      'referrer_files',
      'referrer_urls',
      'redirecting_urls',
      'redirects_to',
      'related_references',
      'related_threat_actors',
      'submissions',
      'embedded_js_files',
      'urls_related_by_tracker_id',
      ...THREAT_CONTEXT,
    ],
  ),
  domain: table(
    [
      'comments',
      'communicating_files',
      'graphs',
      'historical_ssl_certificates',
      'historical_whois',
      'immediate_parent',
      'parent',
      'referrer_files',
      'related_comments',
      'resolutions',
      'siblings',
      'subdomains',
      'user_votes',
      'collections',
      'votes',
    ],
    [
      'caa_records',
      'cname_records',
      'mx_records',
      'ns_records',
      'soa_records',
      'downloaded_files',
      'related_references',
      'related_threat_actors',
      'urls',
      ...THREAT_CONTEXT,
    ],
  ),
  ip_address: table(
    [
      'comments',
      'communicating_files',
      'graphs',
      'historical_ssl_certificates',
      'historical_whois',
      'related_comments',
      'referrer_files',
      'resolutions',
      'collections',
      'votes',
      'user_votes',
    ],
    ['downloaded_files', 'related_references', 'related_threat_actors', 'urls', ...THREAT_CONTEXT],
  ),
};

/** The object types RELATIONSHIPS has a table for, in its order. */
const TABLED_TYPES: readonly IndicatorType[] = Object.keys(RELATIONSHIPS).filter((t): t is IndicatorType =>
  Object.hasOwn(RELATIONSHIPS, t),
);

/**
 * A collection's relationships: its members (what VT-API.md §3.3 lists for every collection) and, for
 * curated ones, the threats it is linked to (Google Threat Intelligence; the names its GTI MCP server
 * lists). Members are "all" because a user-made collection shares them with every key; a curated
 * collection may refuse even those to a key without the licence, which the tools word as such.
 */
export const COLLECTION_RELATIONSHIPS: ReadonlyMap<string, RelationshipAccess> = table(
  ['files', 'domains', 'ip_addresses', 'urls', 'comments', 'owner'],
  [
    'associations',
    'attack_techniques',
    'threat_actors',
    'suspected_threat_actors',
    'malware_families',
    'software_toolkits',
    'campaigns',
    'reports',
    'vulnerabilities',
    'hunting_rulesets',
  ],
);

/** A collection's relationship names, members first. */
export function collectionRelationshipNames(): string[] {
  return [...COLLECTION_RELATIONSHIPS.keys()];
}

export function relationshipAccess(type: IndicatorType, name: string): RelationshipAccess | undefined {
  return RELATIONSHIPS[type].get(name);
}

/** The relationships of this type every key can read, in table order. */
export function publicRelationships(type: IndicatorType): string[] {
  return [...RELATIONSHIPS[type]].filter(([, a]) => a === ALL).map(([n]) => n);
}

function relationshipNames(type: IndicatorType): string[] {
  return [...RELATIONSHIPS[type].keys()];
}

/** Levenshtein distance, small strings only (relationship names are under 40 characters). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** Lower case, "-" and " " as "_", so "Contacted-IPs" is read as contacted_ips. */
function normaliseRelationship(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

/**
 * The valid names nearest to a misspelt one: the closest by edit distance (within about a third
 * of the name's length), then names that contain it or that it contains. At most `max`.
 */
export function closestRelationships(type: IndicatorType, name: string, max = 3): string[] {
  return closestIn(relationshipNames(type), name, max);
}

function closestIn(names: string[], name: string, max: number): string[] {
  const wanted = normaliseRelationship(name);
  const limit = Math.max(2, Math.ceil(wanted.length / 3));
  const scored = names
    .map((n) => {
      let d = editDistance(wanted, n);
      if (wanted.length >= 3 && (n.includes(wanted) || wanted.includes(n))) d = Math.min(d, limit);
      return { n, d };
    })
    .filter((s) => s.d <= limit)
    .sort((a, b) => a.d - b.d);
  return scored.slice(0, max).map((s) => s.n);
}

/** The names analysts reach for most, in the order suggestions list them. */
const USEFUL = [
  'resolutions',
  'communicating_files',
  'contacted_ips',
  'contacted_domains',
  'contacted_urls',
  'dropped_files',
  'execution_parents',
  'referrer_files',
  'subdomains',
  'siblings',
  'urls',
  'downloaded_files',
  'historical_whois',
  'historical_ssl_certificates',
  'last_serving_ip_address',
  'network_location',
  'redirects_to',
  'comments',
];

/** Valid as input, but never worth suggesting: they say nothing about the object's infrastructure. */
const NOT_SUGGESTED = new Set(['graphs', 'votes', 'user_votes', 'collections']);

/**
 * The names of this type (one access level, or all) worth suggesting: the useful ones first, then the
 * rest in table order; graphs, votes, user_votes and collections are left out.
 */
export function suggestedRelationships(type: IndicatorType, access?: RelationshipAccess): string[] {
  const names = [...RELATIONSHIPS[type]]
    .filter(([n, a]) => (access === undefined || a === access) && !NOT_SUGGESTED.has(n))
    .map(([n]) => n);
  const rank = (n: string) => {
    const i = USEFUL.indexOf(n);
    return i === -1 ? USEFUL.length : i;
  };
  // Array.prototype.sort is stable: names outside USEFUL keep their table order.
  return names.sort((a, b) => rank(a) - rank(b));
}

export type RelationshipCheck =
  | { ok: true; name: string; access: RelationshipAccess }
  | {
      ok: false;
      /** The name as given (untrusted: clean it before showing). */
      given: string;
      /** The valid names nearest to it, closest first. */
      closest: string[];
      /** The other object types that have a relationship of that name. */
      elsewhere: IndicatorType[];
    };

/** Checks one name for one object type; a failure carries what was meant and where the name exists. */
export function checkRelationship(type: IndicatorType, raw: string): RelationshipCheck {
  const name = normaliseRelationship(raw);
  const access = relationshipAccess(type, name);
  if (access) return { ok: true, name, access };
  return {
    ok: false,
    given: raw,
    closest: closestRelationships(type, name),
    elsewhere: TABLED_TYPES.filter((t) => t !== type && RELATIONSHIPS[t].has(name)),
  };
}

/** Checks one relationship name of a collection; a failure carries the closest names (never `elsewhere`). */
export function checkCollectionRelationship(raw: string): RelationshipCheck {
  const name = normaliseRelationship(raw);
  const access = COLLECTION_RELATIONSHIPS.get(name);
  if (access) return { ok: true, name, access };
  return { ok: false, given: raw, closest: closestIn(collectionRelationshipNames(), name, 3), elsewhere: [] };
}
