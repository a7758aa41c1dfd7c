/**
 * One entry per VirusTotal object type: its item schema, its summariser (raw object in, a few typed
 * fields out) and its one-line text, rendered from the item. The same entries serve relationship
 * pages, search hits, the overview's "neighbourhood" line and vt_triage's rows. What an analyst needs
 * to decide whether to look closer: a file's sha256, type, detections, threat label and a name; a
 * URL and its detections; a resolution's date and other end; a comment's date, author and capped text
 * (under one "untrusted" header). URLs are shown as code spans, so chat clients do not link them.
 * The entries are in related-indicators.ts and related-records.ts, what they share in related-kind.ts;
 * an overview's relationship blocks in related-blocks.ts.
 */
import { z } from 'zod';
import { isSafeCursor, truncate } from '../util/sanitize.js';
import type { VtObject } from '../vt/api.js';
import { clean, plural } from './common.js';
import { domain, file, ipAddress, resolution, url } from './related-indicators.js';
import { type Kind, LINE_MAX, type Origin, typeOf } from './related-kind.js';
import {
  analysis,
  attackTechnique,
  collection,
  comment,
  graph,
  other,
  submission,
  unavailable,
  vote,
  whois,
} from './related-records.js';

export { blockLine, relationshipBlockSchema, summarizeBlocks } from './related-blocks.js';
export { LINE_MAX, type Origin } from './related-kind.js';

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

export function summarizeRelated(o: VtObject, origin?: Origin): RelatedItem {
  const id = clean(o.id, 200) ?? '?';
  const a = o.attributes ?? {};
  const c = o.context_attributes ?? {};
  if (o.error) return unavailable.summarise(o, a, c, id, origin);
  const type = typeOf(o);
  const k: Kind<RelatedItem> = isKnown(type) ? KINDS[type] : other;
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
    'error' in s && typeof s.error === 'string' ? unavailable : isKnown(s.type) ? KINDS[s.type] : other;
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
