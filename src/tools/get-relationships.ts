/** vt_get_relationships: from one object to its neighbours, one line each, with a cursor to page on. */
import { z } from 'zod';
import { pageStructured, textRoom } from '../answers/respond.js';
import { parsePublicAnyTarget } from '../answers/target.js';
import {
  A_TYPE,
  collectionForbidden,
  collectionNotFound,
  collectionRelationshipProblem,
  invalidInput,
  neighboursNotFound,
  noneRecorded,
  pageNotRecorded,
  relationshipProblem,
  shortList,
  ToolError,
  targetSubject,
  techniqueHasNoRelationships,
} from '../answers/wording.js';
import {
  blockLine,
  LINE_MAX,
  relatedItemSchema,
  relatedLine,
  relationshipBlockSchema,
  renderPage,
  summarizeBlocks,
  summarizeRelated,
} from '../summaries/related.js';
import { VtError } from '../vt/errors.js';
import type { CollectionRef, Indicator } from '../vt/indicators.js';
import {
  checkCollectionRelationship,
  checkRelationship,
  collectionRelationshipNames,
  relationshipAccess,
  suggestedRelationships,
} from '../vt/relationships.js';
import { defineTool } from './define.js';
import { cursorParam, indicatorParam, typeParam, wellFormed } from './schemas.js';

const NAME = 'vt_get_relationships';

/** How many one-line items fit a page's text room; `limit` is lowered to this so no fetched item is hidden. */
function itemsThatFit(room: number): number {
  // The header, the untrusted-comments note and the paging line take up to ~600 characters.
  return Math.max(1, Math.floor((room - 600) / (LINE_MAX + 6)));
}

/** VirusTotal refused the relationship for this key: which are premium, which the key can use. */
function forbidden(err: VtError, target: Indicator, names: string[]): ToolError {
  const type = target.type;
  const premium = names.filter((n) => relationshipAccess(type, n) === 'premium');
  const normallyPublic = names.filter((n) => relationshipAccess(type, n) === 'all');
  const usable = shortList(suggestedRelationships(type, 'all').filter((n) => !names.includes(n)));
  const parts: string[] = [];
  if (premium.length > 0) {
    parts.push(
      `${premium.join(', ')} of ${A_TYPE[type]} ${premium.length > 1 ? 'are' : 'is'} premium-only (VT Enterprise), ` +
        'and VirusTotal refused this key (ForbiddenError).',
    );
    if (normallyPublic.length > 0) {
      parts.push(
        `Ask again without ${premium.length > 1 ? 'them' : 'it'}: ${normallyPublic.join(', ')} work with any key.`,
      );
    }
  } else {
    parts.push(
      `VirusTotal refused ${names.join(', ')} for this key (ForbiddenError) although ` +
        `${names.length > 1 ? 'they are' : 'it is'} normally public.`,
    );
  }
  parts.push(
    `Relationships of ${A_TYPE[type]} that every key can use: ${usable}. vt_get_report also works with any key.`,
  );
  return new ToolError(parts.join(' '), { upstream: err });
}

/** A URL's VT id is 64 hex digits, so without type="url" it reads as a file hash. */
function urlIdHint(target: Indicator, names: string[]): string {
  const urlOnly = names.some((n) => checkRelationship('url', n).ok && !checkRelationship('file', n).ok);
  return target.type === 'file' && target.hashKind === 'sha256' && urlOnly
    ? 'If this 64-hex value is a URL id, pass type="url". '
    : '';
}

/** The names as VirusTotal spells them, or a refusal that says what was meant (no request spent). */
function checkedNames(target: Indicator | CollectionRef, names: string[]): string[] {
  if (target.type === 'collection') {
    const checks = names.map(checkCollectionRelationship);
    const bad = checks.flatMap((c) =>
      c.ok ? [] : [collectionRelationshipProblem(c, collectionRelationshipNames())],
    );
    if (bad.length > 0) throw invalidInput(bad.join(' '));
    return [...new Set(checks.flatMap((c) => (c.ok ? [c.name] : [])))];
  }
  const checks = names.map((n) => checkRelationship(target.type, n));
  const bad = checks.flatMap((c) => (c.ok ? [] : [relationshipProblem(target.type, c)]));
  if (bad.length > 0) throw invalidInput(`${urlIdHint(target, names)}${bad.join(' ')}`);
  return [...new Set(checks.flatMap((c) => (c.ok ? [c.name] : [])))];
}

const relationshipsOutput = z.object({
  /** A page: the related objects. An overview (`relationships`): one block per relationship. */
  items: z.array(z.union([relatedItemSchema, relationshipBlockSchema])),
  next_cursor: z.string().optional(),
  total: z.number().optional(),
  found: z.boolean().optional(),
  /** The object itself, in an overview. */
  object: relatedItemSchema.optional(),
});

export const getRelationshipsTool = defineTool({
  name: NAME,
  title: 'VirusTotal relationships',
  description:
    'Related VirusTotal objects of a hash, URL, domain, IP or collection, one line each; one lookup per page ' +
    '(next_cursor). E.g. domain/IP: resolutions, communicating_files, referrer_files, subdomains; file: ' +
    'contacted_ips, contacted_domains, dropped_files, execution_parents; URL: last_serving_ip_address; ' +
    'collection: files, domains, ip_addresses, urls (members); threats linked to any: associations, ' +
    'related_threat_actors. `relationships`: counts of several in one lookup. Some names need a premium key.',
  inputSchema: {
    indicator: indicatorParam,
    type: typeParam,
    relationship: wellFormed(z.string().max(64), 'relationship').optional().describe('One name.'),
    relationships: z
      .array(wellFormed(z.string().max(64), 'relationships'))
      .min(1)
      .max(12)
      .optional()
      .describe('Several names: overview.'),
    limit: z.number().int().min(1).max(40).default(10),
    cursor: cursorParam.optional().describe('next_cursor of the previous page.'),
  },
  outputSchema: relationshipsOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const parsed = parsePublicAnyTarget(args.indicator, args.type);
    if (parsed.type === 'attack_technique') throw invalidInput(techniqueHasNoRelationships(parsed.id));
    const target = parsed;
    const several = args.relationships;
    const one = args.relationship;
    const asked = several ?? (one === undefined ? undefined : [one]);
    if (asked === undefined || (several !== undefined && one !== undefined)) {
      throw invalidInput(
        'Give either `relationship` (one name, with paging) or `relationships` (several names, an overview).',
      );
    }
    const subject = targetSubject(target);
    const names = checkedNames(target, asked);
    const origin = target.type === 'collection' ? undefined : target.type;
    const notSeen = () => {
      const said =
        target.type === 'collection' ? collectionNotFound(ctx, target.id) : neighboursNotFound(ctx, subject);
      return { structured: { items: [], found: false }, text: () => said };
    };
    const refused = (err: unknown) => {
      if (!(err instanceof VtError) || err.kind !== 'forbidden') return err;
      // A collection's refusal is about the licence, whichever relationship was asked for.
      return target.type === 'collection'
        ? new ToolError(collectionForbidden(target), { upstream: err })
        : forbidden(err, target, names);
    };

    if (several) {
      try {
        const res = await ctx.vt.getWithRelationships(target, names, { signal: extra.mcpReq.signal });
        const blocks = summarizeBlocks(res.value.object, res.value.relationships, names).map((b) =>
          // In the demo, a name it never recorded is not "none".
          ctx.demo && res.value.relationships[b.relationship]?.unrecorded
            ? { relationship: b.relationship, error: 'not in the demo recordings' }
            : b,
        );
        const self = summarizeRelated(res.value.object);
        return {
          structured: { items: blocks, found: true, object: self },
          text: (s) =>
            [
              `Neighbourhood of ${subject}: ${s.object ? relatedLine(s.object) : ''}`,
              'Counts and first ids (call again with `relationship` for details and paging):',
              ...blocks.map(blockLine),
            ].join('\n'),
          source: res,
        };
      } catch (err) {
        if (err instanceof VtError && err.kind === 'not_found') return notSeen();
        throw refused(err);
      }
    }

    // One name was asked for, and checkedNames answers one for each (or refuses).
    const name = names[0];
    if (name === undefined) throw new Error('no relationship name to list');
    const room = textRoom(ctx);
    const requested = args.limit ?? 10;
    const limit = Math.min(requested, itemsThatFit(room));
    try {
      const res = await ctx.vt.listRelationship(
        target,
        name,
        { limit, cursor: args.cursor },
        { signal: extra.mcpReq.signal },
      );
      const page = res.value;
      const items = page.items.map((o) => summarizeRelated(o, origin));
      if (page.cursorRefused) ctx.log.info(`${NAME}: VirusTotal sent a malformed cursor; not offered`);
      const header =
        `${name} of ${subject}: ` +
        (items.length === 0
          ? ctx.demo && page.unrecorded
            ? pageNotRecorded()
            : args.cursor
              ? 'no more items.'
              : noneRecorded(ctx)
          : `${items.length} shown${page.total !== undefined ? ` of ${page.total}` : ''}` +
            `${limit < requested ? ` (limit lowered to ${limit} to fit the answer)` : ''}.`);
      const rendered = renderPage(
        header,
        items,
        {
          nextCursor: page.next,
          cursorRefused: page.cursorRefused,
          nextHint: 'call again with the same indicator, relationship and this cursor',
        },
        room,
      );
      return {
        structured: { ...pageStructured(items, rendered.shown, page), found: true },
        text: () => rendered.text,
        source: res,
      };
    } catch (err) {
      if (err instanceof VtError && err.kind === 'not_found') return notSeen();
      throw refused(err);
    }
  },
});
