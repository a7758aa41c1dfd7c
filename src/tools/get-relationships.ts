/** vt_get_relationships: from one object to its neighbours, one line each, with a cursor to page on. */
import { z } from 'zod';
import {
  blockLine,
  code,
  LINE_MAX,
  pageCursor,
  type RelatedItem,
  relatedLine,
  renderPage,
  summarizeBlocks,
  summarizeRelated,
} from '../summaries/related.js';
import { truncate } from '../util/sanitize.js';
import { invalidInput, VtError } from '../vt/errors.js';
import type { Indicator, IndicatorType } from '../vt/indicators.js';
import { vtPath } from '../vt/paths.js';
import {
  checkRelationship,
  relationshipAccess,
  shortList,
  suggestedRelationships,
} from '../vt/relationships.js';
import type { ToolContext } from './context.js';
import { defineTool } from './define.js';
import { ok, sourceLine } from './respond.js';
import { cursorParam, indicatorParam, typeParam, wellFormed } from './schemas.js';
import { parsePublicTarget, toolFailure } from './target.js';

const NAME = 'vt_get_relationships';

const TYPE_WORDS: Record<IndicatorType, string> = {
  file: 'file',
  url: 'URL',
  domain: 'domain',
  ip_address: 'IP address',
};
const A_TYPE: Record<IndicatorType, string> = {
  file: 'a file',
  url: 'a URL',
  domain: 'a domain',
  ip_address: 'an IP address',
};

/** How many one-line items fit the answer budget; `limit` is lowered to this so no fetched item is hidden. */
export function itemsThatFit(maxChars: number): number {
  return Math.max(1, Math.floor((maxChars - 600) / (LINE_MAX + 6)));
}

/** "domain github.com"; a URL as a code span, so that it is not rendered as a link to click. */
function subjectOf(target: Indicator): string {
  return `${TYPE_WORDS[target.type]} ${target.type === 'url' ? code(target.value) : target.value}`;
}

function forbidden(
  ctx: ToolContext,
  err: VtError,
  target: Indicator,
  names: string[],
): ReturnType<typeof toolFailure> {
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
  return toolFailure(ctx, NAME, err, parts.join(' '));
}

/** VT answered 404: it does not know the object, which is not the same as knowing it has no neighbours. */
function neverSeen(ctx: ToolContext, target: Indicator): ReturnType<typeof ok> {
  return ok(
    ctx,
    `VirusTotal has never seen ${subjectOf(target)}; it has no relationships there. Not evidence that it is safe.`,
    { items: [], found: false },
  );
}

/** A URL's VT id is 64 hex digits, so without type="url" it reads as a file hash. */
function urlIdHint(target: Indicator, names: string[]): string {
  const urlOnly = names.some((n) => checkRelationship('url', n).ok && !checkRelationship('file', n).ok);
  return target.type === 'file' && target.hashKind === 'sha256' && urlOnly
    ? 'If this 64-hex value is a URL id, pass type="url". '
    : '';
}

export const getRelationshipsTool = defineTool({
  name: NAME,
  title: 'VirusTotal relationships',
  description:
    'Related VirusTotal objects of a hash, URL, domain or IP, one line each; one lookup per page ' +
    '(next_cursor). E.g. domain/IP: resolutions, communicating_files, referrer_files, subdomains; file: ' +
    'contacted_ips, contacted_domains, dropped_files, execution_parents; URL: last_serving_ip_address. ' +
    '`relationships`: counts of several in one lookup. Some names need a premium key.',
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
  outputSchema: {
    items: z.array(z.looseObject({})),
    next_cursor: z.string().optional(),
    total: z.number().optional(),
    found: z.boolean().optional(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const target = parsePublicTarget(args.indicator, args.type as IndicatorType | undefined);
    const several = args.relationships;
    if ((several === undefined) === (args.relationship === undefined)) {
      throw invalidInput(
        'Give either `relationship` (one name, with paging) or `relationships` (several names, an overview).',
      );
    }
    const budget = ctx.config.maxResponseChars - 200;
    const subject = subjectOf(target);

    if (several) {
      const checks = several.map((n) => checkRelationship(target.type, n));
      const bad = checks.filter((c) => !c.ok).map((c) => (c.ok ? '' : c.message));
      if (bad.length > 0) throw invalidInput(`${urlIdHint(target, several)}${bad.join(' ')}`);
      const names = [...new Set(checks.map((c) => (c.ok ? c.name : '')))];
      try {
        const res = await ctx.vt.fetch<{ data?: unknown }>({
          path: vtPath`/${target.collection}/${target.id}`,
          query: { relationships: names.join(',') },
          signal: extra.signal,
        });
        const blocks = summarizeBlocks(res.body?.data, names);
        const self = summarizeRelated(res.body?.data, undefined);
        const lines = [
          `Neighbourhood of ${subject}: ${relatedLine(self)}`,
          'Counts and first ids (call again with `relationship` for details and paging):',
          ...blocks.map(blockLine),
          sourceLine(res.fetchedAt, res.fromCache),
        ];
        return ok(ctx, truncate(lines.join('\n'), budget), {
          items: blocks as unknown as RelatedItem[],
          found: true,
        });
      } catch (err) {
        if (err instanceof VtError && err.kind === 'forbidden') return forbidden(ctx, err, target, names);
        if (err instanceof VtError && err.kind === 'not_found') return neverSeen(ctx, target);
        throw err;
      }
    }

    const check = checkRelationship(target.type, args.relationship as string);
    if (!check.ok) throw invalidInput(`${urlIdHint(target, [args.relationship as string])}${check.message}`);
    const fits = itemsThatFit(budget);
    const limit = Math.min(args.limit ?? 10, fits);
    try {
      const res = await ctx.vt.fetch<{ data?: unknown; meta?: { cursor?: unknown; count?: unknown } }>({
        path: vtPath`/${target.collection}/${target.id}/${check.name}`,
        query: { limit, cursor: args.cursor },
        signal: extra.signal,
      });
      const data = res.body?.data;
      const raw = Array.isArray(data) ? data : data ? [data] : [];
      const items = raw.map((r) => summarizeRelated(r, target.type));
      const meta = res.body?.meta;
      const { next, refused } = pageCursor(meta?.cursor);
      if (refused) ctx.log.info(`${NAME}: VirusTotal sent a malformed cursor; not offered`);
      const total = typeof meta?.count === 'number' ? meta.count : undefined;
      const header =
        `${check.name} of ${subject}: ` +
        (items.length === 0
          ? args.cursor
            ? 'no more items.'
            : 'none recorded by VirusTotal.'
          : `${items.length} shown${total !== undefined ? ` of ${total}` : ''}` +
            `${limit < (args.limit ?? 10) ? ` (limit lowered to ${limit} to fit the answer)` : ''}.`);
      const page = renderPage(
        header,
        items,
        {
          nextCursor: next,
          cursorRefused: refused,
          total,
          nextHint: 'call again with the same indicator, relationship and this cursor',
        },
        budget - 80,
      );
      return ok(ctx, `${page.text}\n${sourceLine(res.fetchedAt, res.fromCache)}`, {
        items: items.slice(0, page.shown),
        ...(next ? { next_cursor: next } : {}),
        ...(total !== undefined ? { total } : {}),
        found: true,
      });
    } catch (err) {
      if (err instanceof VtError && err.kind === 'forbidden')
        return forbidden(ctx, err, target, [check.name]);
      if (err instanceof VtError && err.kind === 'not_found') return neverSeen(ctx, target);
      throw err;
    }
  },
});
