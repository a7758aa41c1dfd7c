/** The relationship blocks of an object's overview: a count and the first few ids of each relationship. */
import { z } from 'zod';
import { truncate } from '../util/sanitize.js';
import type { RelationshipSample, VtObject } from '../vt/api.js';
import { clean, compact } from './common.js';
import { count, LINE_MAX, type Origin, str } from './related-kind.js';
import { code } from './text.js';

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
