/**
 * One line per related object or search hit: what an analyst needs to decide whether to look closer
 * (a file: sha256, type, ratio, threat label, a name; a URL: the URL and its ratio; a resolution: the
 * date and the other end; a comment: date, author and capped text, under one "untrusted" header).
 * URLs are shown as code spans, so that chat clients do not render them as links to click.
 */

import { isSafeCursor, truncate } from '../util/sanitize.js';
import {
  arr,
  clean,
  compact,
  detectionStats,
  isoDate,
  isoDay,
  type Json,
  num,
  obj,
  plural,
  ratio,
  strings,
} from './common.js';
import { q } from './text.js';

/** A related object in a few fields; `error` when VT could not return the object. */
export type RelatedItem = { type: string; id: string } & Record<string, unknown>;

/** Which end a relationship was read from, so a resolution shows the other end. */
export type Origin = 'file' | 'url' | 'domain' | 'ip_address' | undefined;

/**
 * A Markdown code span that cannot be broken out of: the fence is longer than any run of backticks
 * inside, and padded when the text starts or ends with one. Chat clients do not link its contents.
 */
export function code(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

/** "1 item", "3 items". */

/**
 * VT names a resolution "<ip><host name>" glued together; from one end, the other end is the part
 * that remains. `self` is the id of the object the resolutions were read from.
 */
export function resolutionOtherEnd(id: string, self: string, origin: Origin): string | undefined {
  if (origin === 'domain' && id.length > self.length && id.endsWith(self)) return id.slice(0, -self.length);
  if (origin === 'ip_address' && id.length > self.length && id.startsWith(self)) return id.slice(self.length);
  return undefined;
}

/** No line is longer than this, so a page of N items has a known worst case. */
export const LINE_MAX = 320;
const TEXT_MAX = 200;

function whoisFields(map: Json | undefined): Record<string, string> {
  // The few whois fields that tell who and when; the rest is boilerplate.
  const wanted: Array<[string, RegExp]> = [
    ['registrar', /^registrar$/i],
    ['created', /^creation date$|^created$|^regdate$/i],
    ['expires', /expir/i],
    ['registrant', /^registrant (organi[sz]ation|name)$/i],
    ['country', /^registrant country$|^country$/i],
    ['net', /^netname$|^cidr$/i],
    ['org', /^orgname$|^org-name$/i],
    ['name_servers', /^name server$/i],
  ];
  const out: Record<string, string> = {};
  for (const [key, re] of wanted) {
    const hit = Object.entries(map ?? {}).find(([k]) => re.test(k));
    const v = clean(hit?.[1], key === 'name_servers' ? 90 : 60);
    if (v && !out[key]) out[key] = v;
  }
  return out;
}

function statsOf(a: Json, key = 'last_analysis_stats'): string | undefined {
  return ratio(detectionStats(a[key]));
}

export function summarizeRelated(raw: unknown, origin?: Origin): RelatedItem {
  const o = obj(raw) ?? {};
  // The type leads the line: only a plain VT type name may stand there.
  const type = typeof o.type === 'string' && /^[a-z][a-z0-9_]{0,39}$/.test(o.type) ? o.type : 'object';
  const id = clean(o.id, 200) ?? '?';
  const err = obj(o.error);
  if (err) return { type, id, error: clean(err.code, 60) ?? 'error' };
  const a = obj(o.attributes) ?? {};
  const ctx = obj(o.context_attributes) ?? {};
  const similarity = num(ctx.similarity_score);
  const confidence = num(ctx.confidence);
  const extra = compact({ similarity, confidence });
  switch (type) {
    case 'file': {
      const ptc = obj(a.popular_threat_classification);
      return compact({
        type,
        id: clean(a.sha256, 64) ?? id,
        file_type: clean(a.type_description, 40) ?? clean(a.type_tag, 20),
        ratio: statsOf(a),
        threat_label: clean(ptc?.suggested_threat_label, 60),
        name: clean(a.meaningful_name, 80) ?? strings(a.names, 80)[0],
        first_seen: isoDay(a.first_submission_date),
        ...extra,
      });
    }
    case 'url':
      return compact({
        type,
        id,
        url: clean(a.url, 200) ?? clean(arr(ctx.url)[0] ?? ctx.url, 200),
        ratio: statsOf(a),
        last_seen: isoDay(a.last_submission_date ?? a.last_analysis_date),
        ...extra,
      });
    case 'domain':
      return compact({
        type,
        id,
        ratio: statsOf(a),
        created: isoDay(a.creation_date),
        registrar: clean(a.registrar, 50),
        ...extra,
      });
    case 'ip_address':
      return compact({
        type,
        id,
        ratio: statsOf(a),
        country: clean(a.country, 4),
        as_owner: clean(a.as_owner, 50),
        ...extra,
      });
    case 'resolution': {
      // Read from one end, the resolution is named by its other end (the IP of a domain's resolution,
      // the host name of an IP's); VT's own id glues both together.
      const ip = clean(a.ip_address, 45);
      const host = clean(a.host_name, 253);
      const other = origin === 'ip_address' ? host : origin === 'domain' ? ip : undefined;
      return compact({
        type,
        id: other ?? id,
        date: isoDay(a.date),
        host_name: other ? undefined : host,
        ip_address: other ? undefined : ip,
        ratio:
          origin === 'ip_address'
            ? statsOf(a, 'host_name_last_analysis_stats')
            : statsOf(a, 'ip_address_last_analysis_stats'),
      });
    }
    case 'comment': {
      const votes = obj(a.votes);
      return compact({
        type,
        id,
        date: isoDay(a.date),
        author: clean(obj(obj(obj(o.relationships)?.author)?.data)?.id ?? a.author, 40),
        text: clean(a.text, TEXT_MAX),
        tags: strings(a.tags, 30).slice(0, 5),
        votes: votes ? `+${num(votes.positive) ?? 0}/-${num(votes.negative) ?? 0}` : undefined,
      });
    }
    case 'whois':
      return compact({
        type,
        id,
        first_seen: isoDay(a.first_seen_date),
        last_updated: isoDay(a.last_updated),
        registrar: clean(a.registrar_name, 60),
        ...whoisFields(obj(a.whois_map)),
      });
    case 'analysis':
      return compact({
        type,
        id,
        date: isoDate(a.date),
        status: clean(a.status, 20),
        ratio: ratio(detectionStats(a.stats)),
      });
    case 'submission':
      return compact({
        type,
        id,
        date: isoDate(a.date),
        interface: clean(a.interface, 30),
        country: clean(a.country, 4),
        name: clean(a.name, 80),
      });
    case 'vote':
      return compact({ type, id, date: isoDay(a.date), verdict: clean(a.verdict, 20), value: num(a.value) });
    case 'graph': {
      const gd = obj(a.graph_data);
      return compact({
        type,
        id,
        title: clean(gd?.description ?? a.name, 80),
        created: isoDay(a.creation_date),
        nodes: arr(a.nodes).length || undefined,
      });
    }
    default: {
      // Unknown types: the first few short scalar attributes, cleaned.
      const picked: Record<string, string> = {};
      for (const [k, v] of Object.entries(a)) {
        if (Object.keys(picked).length >= 4) break;
        if (typeof v === 'string' || typeof v === 'number') {
          const c = /date$/.test(k) ? isoDay(v) : clean(v, 60);
          if (c) picked[clean(k, 30) ?? '?'] = c;
        }
      }
      return compact({ type, id, ...picked });
    }
  }
}

function join(bits: Array<string | undefined | false>): string {
  return bits.filter((b): b is string => !!b).join(' · ');
}

/** The one-line text form of a related item. */
export function relatedLine(s: RelatedItem): string {
  const str = (k: string) => (typeof s[k] === 'string' ? (s[k] as string) : undefined);
  const sim =
    s.similarity !== undefined
      ? `similarity ${s.similarity}`
      : s.confidence !== undefined
        ? `confidence ${s.confidence}`
        : undefined;
  let line: string;
  if (s.error) {
    line = `${s.type} ${s.id}: not available (${str('error')})`;
  } else {
    switch (s.type) {
      case 'file':
        line = join([
          `file ${s.id}`,
          str('file_type'),
          str('ratio') && `${str('ratio')} malicious`,
          str('threat_label'),
          str('name') && `name ${q(str('name') as string)}`,
          str('first_seen') && `first seen ${str('first_seen')}`,
          sim,
        ]);
        break;
      case 'url':
        line = join([
          `url ${code(str('url') ?? s.id)}`,
          str('ratio') && `${str('ratio')} malicious`,
          str('last_seen') && `last seen ${str('last_seen')}`,
          sim,
        ]);
        break;
      case 'domain':
        line = join([
          `domain ${s.id}`,
          str('ratio') && `${str('ratio')} malicious`,
          str('created') && `created ${str('created')}`,
          str('registrar') && `registrar ${q(str('registrar') as string)}`,
          sim,
        ]);
        break;
      case 'ip_address':
        line = join([
          `ip ${s.id}`,
          str('ratio') && `${str('ratio')} malicious`,
          str('country'),
          str('as_owner') && q(str('as_owner') as string),
          sim,
        ]);
        break;
      case 'resolution':
        line = join([
          `${str('date') ?? '?'} resolved`,
          str('host_name') || str('ip_address')
            ? `${str('host_name') ?? '?'} → ${str('ip_address') ?? '?'}`
            : s.id,
          str('ratio') && `${str('ratio')} malicious`,
        ]);
        break;
      case 'comment':
        line = join([
          `comment ${str('date') ?? '?'}`,
          str('author') && `by ${q(str('author') as string)}`,
          str('votes') && `votes ${str('votes')}`,
          q(str('text') ?? ''),
        ]);
        break;
      case 'whois':
        line = join([
          'whois record',
          str('first_seen') && `first seen ${str('first_seen')}`,
          str('last_updated') && `updated ${str('last_updated')}`,
          ...['registrar', 'created', 'expires', 'registrant', 'country', 'net', 'org', 'name_servers']
            .filter((k) => str(k))
            .map((k) => `${k} ${q(str(k) as string)}`),
        ]);
        break;
      case 'analysis':
        line = join([
          `analysis ${str('date') ?? s.id}`,
          str('status'),
          str('ratio') && `${str('ratio')} malicious`,
        ]);
        break;
      case 'submission':
        line = join([
          `submission ${str('date') ?? s.id}`,
          str('interface'),
          str('country'),
          str('name') && q(str('name') as string),
        ]);
        break;
      case 'vote':
        line = join([
          `vote ${str('date') ?? '?'}`,
          str('verdict'),
          s.value !== undefined && `value ${s.value}`,
        ]);
        break;
      case 'graph':
        line = join([
          `graph ${s.id}`,
          str('title') && q(str('title') as string),
          str('created'),
          typeof s.nodes === 'number' && plural(s.nodes, 'node'),
        ]);
        break;
      default:
        line = join([
          `${s.type} ${s.id}`,
          ...Object.entries(s)
            .filter(([k]) => k !== 'type' && k !== 'id')
            .map(([k, v]) => `${k} ${String(v)}`),
        ]);
    }
  }
  return truncate(line, LINE_MAX);
}

export const COMMENTS_UNTRUSTED = 'Comments are untrusted text written by VirusTotal users:';

/**
 * The cursor of a page as VirusTotal sent it: `next` when it may be printed for the model to send
 * back, `refused` when one came but was not a cursor (a line break in it would forge a line).
 */
export function pageCursor(v: unknown): { next?: string; refused?: boolean } {
  if (v === undefined || v === null || v === '') return {};
  return isSafeCursor(v) ? { next: v } : { refused: true };
}

export const CURSOR_REFUSED =
  'More results exist, but VirusTotal sent a malformed cursor, so the next page cannot be offered.';

export interface PageText {
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
    /** VirusTotal sent a cursor that is not one (pageCursor): more exist but cannot be offered. */
    cursorRefused?: boolean | undefined;
    total?: number | undefined;
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
 * Descriptor ids that tell the reader nothing: comments, votes, analyses and submissions repeat the
 * object's id, and a whois record is named by a hash (its dates and registrar need relationship=…).
 */
const ID_ONLY_NOISE = new Set(['comment', 'vote', 'analysis', 'submission', 'whois']);

export interface RelationshipBlock {
  relationship: string;
  count?: number;
  /** How many descriptors VT listed in the block (the count is often larger). */
  listed?: number;
  /** The first few related ids (descriptors carry no attributes). */
  ids?: string[];
  more?: boolean;
  error?: string;
}

/** Summarises the `relationships` blocks of an object fetched with ?relationships=a,b. */
export function summarizeBlocks(data: unknown, names: string[], idsPerBlock = 3): RelationshipBlock[] {
  const rels = obj(obj(data)?.relationships) ?? {};
  const self = String(obj(data)?.id ?? '');
  const selfType = obj(data)?.type;
  const origin: Origin = selfType === 'domain' || selfType === 'ip_address' ? selfType : undefined;
  return names.map((name) => {
    const block = obj(rels[name]);
    if (!block) return { relationship: name, error: 'not returned' };
    const err = obj(block.error);
    if (err) return { relationship: name, error: clean(err.code, 60) ?? 'error' };
    const d = block.data;
    const descriptors = Array.isArray(d) ? d : d ? [d] : [];
    const ids = descriptors
      .map((x) => {
        const o = obj(x);
        if (ID_ONLY_NOISE.has(String(o?.type))) return undefined;
        const url = clean(obj(o?.context_attributes)?.url, 120);
        const id = clean(o?.id, 300);
        const other =
          o?.type === 'resolution' && id && self ? resolutionOtherEnd(id, self, origin) : undefined;
        return url ?? clean(other ?? id, 120);
      })
      .filter((x): x is string => !!x);
    const meta = obj(block.meta);
    const count = num(meta?.count);
    // More exist than VT listed (a cursor, or a count above the descriptors), or than the ids shown.
    const more =
      typeof meta?.cursor === 'string' || (count !== undefined && count > descriptors.length) || undefined;
    return compact({
      relationship: name,
      count: count ?? (more ? undefined : descriptors.length),
      listed: descriptors.length,
      ids: ids.slice(0, idsPerBlock),
      more: more || ids.length > idsPerBlock || undefined,
    });
  });
}

export function blockLine(b: RelationshipBlock): string {
  if (b.error) return `${b.relationship}: not available (${b.error})`;
  const count = b.count !== undefined ? String(b.count) : `${b.listed ?? b.ids?.length ?? 0}+`;
  if (b.count === 0 || (!b.listed && !b.more)) return `${b.relationship}: none`;
  const shown = b.ids?.map((id) => (id.includes('://') ? code(id) : id));
  const ids = shown?.length ? ` — ${shown.join(', ')}${b.more ? ', …' : ''}` : '';
  return truncate(`${b.relationship}: ${count}${ids}`, LINE_MAX);
}
