/**
 * One entry per VirusTotal object type: its item schema, its summariser (raw object in, a few typed
 * fields out) and its one-line text, rendered from the item. The same entries serve relationship
 * pages, search hits, the overview's "neighbourhood" line and vt_triage's rows. What an analyst needs
 * to decide whether to look closer: a file's sha256, type, detections, threat label and a name; a
 * URL and its detections; a resolution's date and other end; a comment's date, author and capped text
 * (under one "untrusted" header). URLs are shown as code spans, so chat clients do not link them.
 */
import { z } from 'zod';
import { isSafeCursor, truncate } from '../util/sanitize.js';
import type { RelationshipSample, VtObject } from '../vt/api.js';
import type { IndicatorType } from '../vt/indicators.js';
import { techniqueOf } from './attack.js';
import {
  arr,
  clean,
  compact,
  dateTimeSchema,
  daySchema,
  detectionStats,
  isoDate,
  isoDay,
  type Json,
  num,
  obj,
  plural,
  strings,
  verdictOf,
  verdictSchema,
} from './common.js';
import { code, q } from './text.js';

/** Which end a relationship was read from, so a resolution shows the other end. */
export type Origin = IndicatorType | undefined;

/** No line is longer than this, so a page of N items has a known worst case. */
export const LINE_MAX = 320;
const TEXT_MAX = 200;

const str = z.string().optional();
const count = z.number().optional();
const day = daySchema.optional();
/** An object's detections: the plain verdict and the engine counts it comes from (when analysed). */
const detections = { verdict: verdictSchema.optional(), malicious: count, total: count };
/** Set by some relationships and searches (similar_files, fuzzy-hash searches). */
const context = { similarity: count, confidence: count };

interface Kind<S> {
  schema: z.ZodType<S>;
  /** `a` is the object's attributes, `c` its context attributes, `id` its cleaned id. */
  summarise(o: VtObject, a: Json, c: Json, id: string, origin: Origin): S;
  line(s: S): string;
}

function kind<S>(k: Kind<S>): Kind<S> {
  return k;
}

/** The detection fields of an object whose stats are at `key` of its attributes. */
function detectionsOf(a: Json, key = 'last_analysis_stats') {
  const stats = detectionStats(a[key]);
  return stats
    ? { verdict: verdictOf(stats), malicious: stats.malicious, total: stats.total }
    : { verdict: undefined, malicious: undefined, total: undefined };
}

function contextOf(c: Json) {
  return { similarity: num(c.similarity_score), confidence: num(c.confidence) };
}

function join(bits: Array<string | undefined | false>): string {
  return bits.filter((b): b is string => !!b).join(' · ');
}

function ratioText(s: { malicious?: number | undefined; total?: number | undefined }): string | undefined {
  return s.malicious !== undefined && s.total !== undefined
    ? `${s.malicious}/${s.total} malicious`
    : undefined;
}

function contextText(s: { similarity?: number | undefined; confidence?: number | undefined }) {
  if (s.similarity !== undefined) return `similarity ${s.similarity}`;
  return s.confidence !== undefined ? `confidence ${s.confidence}` : undefined;
}

const file = kind({
  schema: z.object({
    type: z.literal('file'),
    id: z.string(),
    ...detections,
    file_type: str,
    threat_label: str,
    name: str,
    first_seen: day,
    analysed: day,
    ...context,
  }),
  summarise: (_o, a, c, id) =>
    compact({
      type: 'file' as const,
      id: clean(a.sha256, 64) ?? id,
      file_type: clean(a.type_description, 40) ?? clean(a.type_tag, 20),
      ...detectionsOf(a),
      threat_label: clean(obj(a.popular_threat_classification)?.suggested_threat_label, 60),
      name: clean(a.meaningful_name, 80) ?? strings(a.names, 80, 1)[0],
      first_seen: isoDay(a.first_submission_date),
      analysed: isoDay(a.last_analysis_date),
      ...contextOf(c),
    }),
  line: (s) =>
    join([
      `file ${s.id}`,
      s.file_type,
      ratioText(s),
      s.threat_label,
      s.name && `name ${q(s.name)}`,
      s.first_seen && `first seen ${s.first_seen}`,
      contextText(s),
    ]),
});

const url = kind({
  schema: z.object({
    type: z.literal('url'),
    id: z.string(),
    url: str,
    ...detections,
    threat_label: str,
    first_seen: day,
    last_seen: day,
    analysed: day,
    ...context,
  }),
  summarise: (_o, a, c, id) =>
    compact({
      type: 'url' as const,
      id,
      url: clean(a.url, 200) ?? clean(arr(c.url)[0] ?? c.url, 200),
      ...detectionsOf(a),
      // VirusTotal's consensus names only: one engine's label is not a threat label.
      threat_label: strings(a.threat_names, 60, 1)[0],
      first_seen: isoDay(a.first_submission_date),
      last_seen: isoDay(a.last_submission_date ?? a.last_analysis_date),
      analysed: isoDay(a.last_analysis_date),
      ...contextOf(c),
    }),
  line: (s) =>
    join([
      `url ${code(s.url ?? s.id)}`,
      ratioText(s),
      s.last_seen && `last seen ${s.last_seen}`,
      contextText(s),
    ]),
});

const domain = kind({
  schema: z.object({
    type: z.literal('domain'),
    id: z.string(),
    ...detections,
    created: day,
    registrar: str,
    analysed: day,
    ...context,
  }),
  summarise: (_o, a, c, id) =>
    compact({
      type: 'domain' as const,
      id,
      ...detectionsOf(a),
      created: isoDay(a.creation_date),
      registrar: clean(a.registrar, 50),
      analysed: isoDay(a.last_analysis_date),
      ...contextOf(c),
    }),
  line: (s) =>
    join([
      `domain ${s.id}`,
      ratioText(s),
      s.created && `created ${s.created}`,
      s.registrar && `registrar ${q(s.registrar)}`,
      contextText(s),
    ]),
});

const ipAddress = kind({
  schema: z.object({
    type: z.literal('ip_address'),
    id: z.string(),
    ...detections,
    country: str,
    as_owner: str,
    analysed: day,
    ...context,
  }),
  summarise: (_o, a, c, id) =>
    compact({
      type: 'ip_address' as const,
      id,
      ...detectionsOf(a),
      country: clean(a.country, 4),
      as_owner: clean(a.as_owner, 50),
      analysed: isoDay(a.last_analysis_date),
      ...contextOf(c),
    }),
  line: (s) => join([`ip ${s.id}`, ratioText(s), s.country, s.as_owner && q(s.as_owner), contextText(s)]),
});

const resolution = kind({
  schema: z.object({
    type: z.literal('resolution'),
    id: z.string(),
    date: day,
    host_name: str,
    ip_address: str,
    malicious: count,
    total: count,
  }),
  summarise: (_o, a, _c, id, origin) => {
    // Read from one end, the resolution is named by its other end (the IP of a domain's resolution,
    // the host name of an IP's); VT's own id glues both together. Its detections are the other end's.
    const ip = clean(a.ip_address, 45);
    const host = clean(a.host_name, 253);
    const other = origin === 'ip_address' ? host : origin === 'domain' ? ip : undefined;
    const stats = detectionStats(
      origin === 'ip_address' ? a.host_name_last_analysis_stats : a.ip_address_last_analysis_stats,
    );
    return compact({
      type: 'resolution' as const,
      id: other ?? id,
      date: isoDay(a.date),
      host_name: other ? undefined : host,
      ip_address: other ? undefined : ip,
      malicious: stats?.malicious,
      total: stats?.total,
    });
  },
  line: (s) =>
    join([
      `${s.date ?? '?'} resolved`,
      s.host_name || s.ip_address ? `${s.host_name ?? '?'} → ${s.ip_address ?? '?'}` : s.id,
      ratioText(s),
    ]),
});

const comment = kind({
  schema: z.object({
    type: z.literal('comment'),
    id: z.string(),
    date: day,
    author: str,
    text: str,
    tags: z.array(z.string()).optional(),
    votes: z.object({ positive: z.number(), negative: z.number() }).optional(),
  }),
  summarise: (o, a, _c, id) => {
    const votes = obj(a.votes);
    return compact({
      type: 'comment' as const,
      id,
      date: isoDay(a.date),
      author: clean(obj(obj(o.relationships?.author)?.data)?.id ?? a.author, 40),
      text: clean(a.text, TEXT_MAX),
      tags: strings(a.tags, 30, 5),
      votes: votes ? { positive: num(votes.positive) ?? 0, negative: num(votes.negative) ?? 0 } : undefined,
    });
  },
  line: (s) =>
    join([
      `comment ${s.date ?? '?'}`,
      s.author && `by ${q(s.author)}`,
      s.votes && `votes +${s.votes.positive}/-${s.votes.negative}`,
      q(s.text ?? ''),
    ]),
});

/** The few whois fields that tell who and when, as written in the record; the rest is boilerplate. */
const WHOIS_FIELDS = [
  ['registrar', /^registrar$/i],
  ['created', /^creation date$|^created$|^regdate$/i],
  ['expires', /expir/i],
  ['registrant', /^registrant (organi[sz]ation|name)$/i],
  ['country', /^registrant country$|^country$/i],
  ['net', /^netname$|^cidr$/i],
  ['org', /^orgname$|^org-name$/i],
  ['name_servers', /^name server$/i],
] as const;
type WhoisField = (typeof WHOIS_FIELDS)[number][0];

function whoisFields(map: Json | undefined): Partial<Record<WhoisField, string>> {
  const out: Partial<Record<WhoisField, string>> = {};
  for (const [key, re] of WHOIS_FIELDS) {
    const hit = Object.entries(map ?? {}).find(([k]) => re.test(k));
    const v = clean(hit?.[1], key === 'name_servers' ? 90 : 60);
    if (v && !out[key]) out[key] = v;
  }
  return out;
}

const whois = kind({
  schema: z.object({
    type: z.literal('whois'),
    id: z.string(),
    first_seen: day,
    last_updated: day,
    registrar: str,
    created: str,
    expires: str,
    registrant: str,
    country: str,
    net: str,
    org: str,
    name_servers: str,
  }),
  summarise: (_o, a, _c, id) =>
    compact({
      type: 'whois' as const,
      id,
      first_seen: isoDay(a.first_seen_date),
      last_updated: isoDay(a.last_updated),
      registrar: clean(a.registrar_name, 60),
      ...whoisFields(obj(a.whois_map)),
    }),
  line: (s) =>
    join([
      'whois record',
      s.first_seen && `first seen ${s.first_seen}`,
      s.last_updated && `updated ${s.last_updated}`,
      ...WHOIS_FIELDS.map(([k]) => s[k] && `${k} ${q(s[k])}`),
    ]),
});

const analysis = kind({
  schema: z.object({
    type: z.literal('analysis'),
    id: z.string(),
    date: dateTimeSchema.optional(),
    status: str,
    malicious: count,
    total: count,
  }),
  summarise: (_o, a, _c, id) => {
    const stats = detectionStats(a.stats);
    return compact({
      type: 'analysis' as const,
      id,
      date: isoDate(a.date),
      status: clean(a.status, 20),
      malicious: stats?.malicious,
      total: stats?.total,
    });
  },
  line: (s) => join([`analysis ${s.date ?? s.id}`, s.status, ratioText(s)]),
});

const submission = kind({
  schema: z.object({
    type: z.literal('submission'),
    id: z.string(),
    date: dateTimeSchema.optional(),
    interface: str,
    country: str,
    name: str,
  }),
  summarise: (_o, a, _c, id) =>
    compact({
      type: 'submission' as const,
      id,
      date: isoDate(a.date),
      interface: clean(a.interface, 30),
      country: clean(a.country, 4),
      name: clean(a.name, 80),
    }),
  line: (s) => join([`submission ${s.date ?? s.id}`, s.interface, s.country, s.name && q(s.name)]),
});

const vote = kind({
  schema: z.object({ type: z.literal('vote'), id: z.string(), date: day, verdict: str, value: count }),
  summarise: (_o, a, _c, id) =>
    compact({
      type: 'vote' as const,
      id,
      date: isoDay(a.date),
      verdict: clean(a.verdict, 20),
      value: num(a.value),
    }),
  line: (s) => join([`vote ${s.date ?? '?'}`, s.verdict, s.value !== undefined && `value ${s.value}`]),
});

const graph = kind({
  schema: z.object({ type: z.literal('graph'), id: z.string(), title: str, created: day, nodes: count }),
  summarise: (_o, a, _c, id) =>
    compact({
      type: 'graph' as const,
      id,
      title: clean(obj(a.graph_data)?.description ?? a.name, 80),
      created: isoDay(a.creation_date),
      nodes: arr(a.nodes).length || undefined,
    }),
  line: (s) =>
    join([
      `graph ${s.id}`,
      s.title && q(s.title),
      s.created,
      s.nodes !== undefined && plural(s.nodes, 'node'),
    ]),
});

/** A GTI threat (actor, family, campaign, report, vulnerability) or an IoC collection: what, and how big. */
const collection = kind({
  schema: z.object({
    type: z.literal('collection'),
    id: z.string(),
    collection_type: str,
    name: str,
    files: count,
    domains: count,
    ip_addresses: count,
    urls: count,
    last_seen: day,
  }),
  summarise: (_o, a, _c, id) => {
    const c = obj(a.counters) ?? {};
    const n = (k: string) => num(c[k]) ?? num(a[`${k}_count`]);
    const lastSeen = arr(a.last_seen_details)
      .map((d) => isoDay(obj(d)?.value))
      .find(Boolean);
    return compact({
      type: 'collection' as const,
      id,
      collection_type: clean(a.collection_type, 30),
      name: clean(a.name, 80),
      files: n('files'),
      domains: n('domains'),
      ip_addresses: n('ip_addresses'),
      urls: n('urls'),
      last_seen: lastSeen ?? isoDay(a.last_seen),
    });
  },
  line: (s) =>
    join([
      `collection ${s.id}`,
      s.collection_type,
      s.name && q(s.name),
      [
        s.files !== undefined && plural(s.files, 'file'),
        s.domains !== undefined && plural(s.domains, 'domain'),
        s.ip_addresses !== undefined && plural(s.ip_addresses, 'IP'),
        s.urls !== undefined && plural(s.urls, 'URL'),
      ]
        .filter(Boolean)
        .join(', ') || undefined,
      s.last_seen && `last seen ${s.last_seen}`,
    ]),
});

/** An ATT&CK technique, named from MITRE's table (VT often sends only its id). */
const attackTechnique = kind({
  schema: z.object({
    type: z.literal('attack_technique'),
    id: z.string(),
    name: str,
    tactics: z.array(z.string()).optional(),
  }),
  summarise: (_o, a, _c, id) => {
    const t = techniqueOf(id);
    return compact({
      type: 'attack_technique' as const,
      id: t?.id ?? id,
      name: t ? (t.parent ? `${t.parent}: ${t.name}` : t.name) : clean(a.name, 80),
      tactics: t?.tactics,
    });
  },
  line: (s) =>
    join([`technique ${s.id}`, s.name && (techniqueOf(s.id) ? s.name : q(s.name)), s.tactics?.join(', ')]),
});

/** Any other type: the first few short scalar attributes, cleaned. */
const other = kind({
  schema: z.object({ type: z.string(), id: z.string(), fields: z.record(z.string(), z.string()).optional() }),
  summarise: (o, a, _c, id) => {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(a)) {
      if (Object.keys(fields).length >= 4) break;
      if (typeof v === 'string' || typeof v === 'number') {
        const c = /date$/.test(k) ? isoDay(v) : clean(v, 60);
        if (c) fields[clean(k, 30) ?? '?'] = c;
      }
    }
    return compact({ type: typeOf(o), id, fields });
  },
  line: (s) => join([`${s.type} ${s.id}`, ...Object.entries(s.fields ?? {}).map(([k, v]) => `${k} ${v}`)]),
});

/** An object VirusTotal could not return (an `error` in its place). */
const unavailable = kind({
  schema: z.object({ type: z.string(), id: z.string(), error: z.string() }),
  summarise: (o, _a, _c, id) => ({ type: typeOf(o), id, error: clean(o.error?.code, 60) ?? 'error' }),
  line: (s) => `${s.type} ${s.id}: not available (${s.error})`,
});

const KINDS = {
  file,
  url,
  domain,
  ip_address: ipAddress,
  resolution,
  comment,
  whois,
  analysis,
  submission,
  vote,
  graph,
  collection,
  attack_technique: attackTechnique,
};
type KnownType = keyof typeof KINDS;

export const relatedItemSchema = z
  .union([
    file.schema,
    url.schema,
    domain.schema,
    ipAddress.schema,
    resolution.schema,
    comment.schema,
    whois.schema,
    analysis.schema,
    submission.schema,
    vote.schema,
    graph.schema,
    collection.schema,
    attackTechnique.schema,
    unavailable.schema,
    other.schema,
  ])
  .meta({ id: 'related_item' }); // Named once in a listed schema, however often it is used.
/** A related object in a few typed fields; `error` when VT could not return the object. */
type RelatedItem = z.infer<typeof relatedItemSchema>;

function isKnown(type: string): type is KnownType {
  return Object.hasOwn(KINDS, type);
}

/** The type leads the line: only a plain VT type name may stand there. */
function typeOf(o: VtObject): string {
  return typeof o.type === 'string' && /^[a-z][a-z0-9_]{0,39}$/.test(o.type) ? o.type : 'object';
}

export function summarizeRelated(o: VtObject, origin?: Origin): RelatedItem {
  const id = clean(o.id, 200) ?? '?';
  const a = o.attributes ?? {};
  const c = o.context_attributes ?? {};
  if (o.error) return unavailable.summarise(o, a, c, id, origin);
  const type = typeOf(o);
  const k: Kind<RelatedItem> = isKnown(type) ? (KINDS[type] as Kind<RelatedItem>) : other;
  return k.summarise(o, a, c, id, origin);
}

/** The item of a file, URL, domain or IP address (what a report is given for); undefined for others. */
type ObjectItem =
  | z.infer<typeof file.schema>
  | z.infer<typeof url.schema>
  | z.infer<typeof domain.schema>
  | z.infer<typeof ipAddress.schema>;

export function summarizeObject(o: VtObject): ObjectItem | undefined {
  if (o.error) return undefined;
  const id = clean(o.id, 200) ?? '?';
  const a = o.attributes ?? {};
  const c = o.context_attributes ?? {};
  switch (o.type) {
    case 'file':
      return file.summarise(o, a, c, id, undefined);
    case 'url':
      return url.summarise(o, a, c, id, undefined);
    case 'domain':
      return domain.summarise(o, a, c, id, undefined);
    case 'ip_address':
      return ipAddress.summarise(o, a, c, id, undefined);
    default:
      return undefined;
  }
}

/** The one-line text form of a related item (at most LINE_MAX characters). */
export function relatedLine(s: RelatedItem): string {
  const k: Kind<RelatedItem> =
    'error' in s && typeof s.error === 'string'
      ? (unavailable as Kind<RelatedItem>)
      : isKnown(s.type)
        ? (KINDS[s.type] as Kind<RelatedItem>)
        : other;
  return truncate(k.line(s), LINE_MAX);
}

const COMMENTS_UNTRUSTED = 'Comments are untrusted text written by VirusTotal users:';

export const CURSOR_REFUSED =
  'More results exist, but VirusTotal sent a malformed cursor, so the next page cannot be offered.';

interface PageText {
  text: string;
  /** Items whose lines fit; the rest are counted in the text. */
  shown: number;
}

/**
 * Numbered lines under a header, then the paging line. Lines stop when the budget is spent (tools
 * size `limit` so that this does not happen at the default budget); what was cut is counted.
 */
export function renderPage(
  header: string,
  items: RelatedItem[],
  paging: {
    nextCursor?: string | undefined;
    /** VirusTotal sent a cursor that is not one: more exist but cannot be offered. */
    cursorRefused?: boolean | undefined;
    nextHint: string;
  },
  maxChars: number,
): PageText {
  // Printed only when it is a cursor: a line break or markup in it would become the server's own text.
  const next = isSafeCursor(paging.nextCursor) ? paging.nextCursor : undefined;
  const tail = next
    ? `More: cursor=${next} (${paging.nextHint})`
    : paging.cursorRefused || paging.nextCursor !== undefined
      ? CURSOR_REFUSED
      : items.length > 0
        ? 'No more results.'
        : '';
  const reserve = tail.length + 120;
  const lines = [header];
  // Comment text is marked once per answer, not on every line.
  if (items.some((i) => i.type === 'comment')) lines.push(COMMENTS_UNTRUSTED);
  let used = lines.join('\n').length;
  let shown = 0;
  for (const [i, item] of items.entries()) {
    const line = `${i + 1}. ${relatedLine(item)}`;
    if (used + line.length + 1 > maxChars - reserve) break;
    lines.push(line);
    used += line.length + 1;
    shown++;
  }
  if (shown < items.length) {
    lines.push(
      `(${plural(items.length - shown, 'more item')} on this page left out to stay within ${maxChars} characters; ask with a smaller limit.)`,
    );
  }
  if (tail) lines.push(tail);
  return { text: lines.join('\n'), shown };
}

/**
 * VT names a resolution "<ip><host name>" glued together; from one end, the other end is the part
 * that remains. `self` is the id of the object the resolutions were read from.
 */
function resolutionOtherEnd(id: string, self: string, origin: Origin): string | undefined {
  if (origin === 'domain' && id.length > self.length && id.endsWith(self)) return id.slice(0, -self.length);
  if (origin === 'ip_address' && id.length > self.length && id.startsWith(self)) return id.slice(self.length);
  return undefined;
}

/**
 * Descriptor ids that tell the reader nothing: comments, votes, analyses and submissions repeat the
 * object's id, and a whois record is named by a hash (its dates and registrar need relationship=…).
 */
const ID_ONLY_NOISE = new Set(['comment', 'vote', 'analysis', 'submission', 'whois']);

export const relationshipBlockSchema = z.object({
  relationship: z.string(),
  count,
  /** How many descriptors VT listed in the block (the count is often larger). */
  listed: count,
  /** The first few related ids (descriptors carry no attributes). */
  ids: z.array(z.string()).optional(),
  more: z.boolean().optional(),
  error: str,
});
type RelationshipBlock = z.infer<typeof relationshipBlockSchema>;

/** Summarises the relationships of an object fetched with ?relationships=a,b, in the order asked. */
export function summarizeBlocks(
  self: VtObject,
  samples: Record<string, RelationshipSample | undefined>,
  names: string[],
  idsPerBlock = 3,
): RelationshipBlock[] {
  const selfId = String(self.id ?? '');
  const origin: Origin = self.type === 'domain' || self.type === 'ip_address' ? self.type : undefined;
  return names.map((name) => {
    const block = samples[name];
    if (!block) return { relationship: name, error: 'not returned' };
    if (block.error !== undefined) return { relationship: name, error: clean(block.error, 60) ?? 'error' };
    const descriptors = block.items;
    const ids = descriptors
      .map((o) => {
        if (ID_ONLY_NOISE.has(String(o.type))) return undefined;
        const url = clean(o.context_attributes?.url, 120);
        const id = clean(o.id, 300);
        const otherEnd =
          o.type === 'resolution' && id && selfId ? resolutionOtherEnd(id, selfId, origin) : undefined;
        return url ?? clean(otherEnd ?? id, 120);
      })
      .filter((x): x is string => !!x);
    const total = block.count;
    // More exist than VT listed (a cursor, or a count above the descriptors), or than the ids shown.
    const more = block.hasMore || (total !== undefined && total > descriptors.length) || undefined;
    return compact({
      relationship: name,
      count: total ?? (more ? undefined : descriptors.length),
      listed: descriptors.length,
      ids: ids.slice(0, idsPerBlock),
      more: more || ids.length > idsPerBlock || undefined,
    });
  });
}

export function blockLine(b: RelationshipBlock): string {
  if (b.error) return `${b.relationship}: not available (${b.error})`;
  const total = b.count !== undefined ? String(b.count) : `${b.listed ?? b.ids?.length ?? 0}+`;
  if (b.count === 0 || (!b.listed && !b.more)) return `${b.relationship}: none`;
  const shown = b.ids?.map((id) => (id.includes('://') ? code(id) : id));
  const ids = shown?.length ? ` — ${shown.join(', ')}${b.more ? ', …' : ''}` : '';
  return truncate(`${b.relationship}: ${total}${ids}`, LINE_MAX);
}
