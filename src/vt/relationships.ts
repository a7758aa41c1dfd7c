/**
 * Relationship names per object type, with who may read them (VT-API.md §4), and the closest
 * valid names for a typo. Pure: checking a name here costs no upstream request.
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
    ['downloaded_files', 'related_references', 'related_threat_actors', 'urls'],
  ),
};

export function relationshipAccess(type: IndicatorType, name: string): RelationshipAccess | undefined {
  return RELATIONSHIPS[type].get(name);
}

/** The relationships of this type every key can read, in table order. */
export function publicRelationships(type: IndicatorType): string[] {
  return [...RELATIONSHIPS[type]].filter(([, a]) => a === ALL).map(([n]) => n);
}

export function relationshipNames(type: IndicatorType): string[] {
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
export function normaliseRelationship(name: string): string {
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
  const wanted = normaliseRelationship(name);
  const limit = Math.max(2, Math.ceil(wanted.length / 3));
  const scored = relationshipNames(type)
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

/** Most names a suggestion list shows before counting the rest. */
export const SUGGEST_MAX = 12;

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

/** "a, b, c (+4 more)", at most SUGGEST_MAX names. */
export function shortList(names: string[], max = SUGGEST_MAX): string {
  const more = names.length - max;
  return `${names.slice(0, max).join(', ')}${more > 0 ? ` (+${more} more)` : ''}`;
}

/** "every key: …; premium only: …", each part short, for messages that list what exists. */
export function namesByAccess(type: IndicatorType, exclude: string[] = []): string {
  const part = (access: RelationshipAccess) =>
    suggestedRelationships(type, access).filter((n) => !exclude.includes(n));
  const all = part(ALL);
  const premium = part(PREMIUM);
  return [
    all.length > 0 ? `every key: ${shortList(all)}` : undefined,
    premium.length > 0 ? `premium only: ${shortList(premium)}` : undefined,
  ]
    .filter(Boolean)
    .join('; ');
}

export type RelationshipCheck =
  | { ok: true; name: string; access: RelationshipAccess }
  | { ok: false; message: string };

const TYPE_WORDS: Record<IndicatorType, string> = {
  file: 'a file',
  url: 'a URL',
  domain: 'a domain',
  ip_address: 'an IP address',
};

/** Checks one name for one object type; a failure says what was meant and what exists. */
export function checkRelationship(type: IndicatorType, raw: string): RelationshipCheck {
  const name = normaliseRelationship(raw);
  const access = relationshipAccess(type, name);
  if (access) return { ok: true, name, access };
  const shown = raw.replace(/[^\w -]/g, '').slice(0, 40);
  const close = closestRelationships(type, name);
  const elsewhere = (Object.keys(RELATIONSHIPS) as IndicatorType[]).filter(
    (t) => t !== type && RELATIONSHIPS[t].has(name),
  );
  const parts = [`"${shown}" is not a relationship of ${TYPE_WORDS[type]}.`];
  if (close.length > 0) parts.push(`Did you mean ${close.join(', ')}?`);
  if (elsewhere.length > 0) {
    parts.push(`It exists for ${elsewhere.map((t) => TYPE_WORDS[t]).join(' and ')}.`);
  }
  if (close.length === 0) {
    parts.push(`Names for ${TYPE_WORDS[type]}: ${namesByAccess(type)}.`);
  }
  return { ok: false, message: parts.join(' ') };
}
