/**
 * The entries of everything else: comments, whois records, analyses, submissions, votes, graphs,
 * collections, ATT&CK techniques, any other type, and objects VirusTotal could not return.
 */
import { z } from 'zod';
import { techniqueOf } from './attack.js';
import {
  arr,
  clean,
  compact,
  dateTimeSchema,
  detectionStats,
  isoDate,
  isoDay,
  type Json,
  num,
  obj,
  plural,
  strings,
} from './common.js';
import { count, day, join, kind, ratioText, str, typeOf } from './related-kind.js';
import { q } from './text.js';

const TEXT_MAX = 200;

export const comment = kind({
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

export const whois = kind({
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

export const analysis = kind({
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

export const submission = kind({
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

export const vote = kind({
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

export const graph = kind({
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
export const collection = kind({
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
export const attackTechnique = kind({
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
export const other = kind({
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
export const unavailable = kind({
  schema: z.object({ type: z.string(), id: z.string(), error: z.string() }),
  summarise: (o, _a, _c, id) => ({ type: typeOf(o), id, error: clean(o.error?.code, 60) ?? 'error' }),
  line: (s) => `${s.type} ${s.id}: not available (${s.error})`,
});
