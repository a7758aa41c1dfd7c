/** vt_search: VT Intelligence search, hits one line each, with a cursor to page on. */
import { z } from 'zod';
import { pageStructured, textRoom } from '../answers/respond.js';
import { invalidInput, nothingMatched, ToolError } from '../answers/wording.js';
import { clean, cleanCode, plural } from '../summaries/common.js';
import { LINE_MAX, relatedItemSchema, renderPage, summarizeRelated } from '../summaries/related.js';
import { code, q } from '../summaries/text.js';
import { VtAnswerError, VtError } from '../vt/errors.js';
import { defineTool } from './define.js';
import { cursorParam, wellFormed } from './schemas.js';

const NAME = 'vt_search';
const DESCRIPTOR_LINE = 90;

const NO_INTELLIGENCE =
  'This API key has no VT Intelligence access (intelligence search is a premium feature), so vt_search ' +
  'cannot run. What this key can do instead: vt_get_report looks up one hash, URL, domain or IP; ' +
  'vt_get_relationships pivots from one of them to related files, URLs, domains, IPs, resolutions and ' +
  'comments; vt_get_behaviour gives a file’s sandbox behaviour.';

const SYNTAX_HINT =
  'Check the modifier names (resource vt://docs/search-syntax), quote values with spaces or colons ' +
  '(name:"my file.exe", ssdeep:"…"), write dates as YYYY-MM-DD or relative (fs:7d+), add entity:url, ' +
  'entity:domain or entity:ip to search those, and use an `order` this entity allows.';

/** "120 hits, 10 shown", "5 hits shown (VirusTotal gave no total)", "0 hits", "no more hits". */
function counts(shown: number, total: number | undefined, paging: boolean): string {
  if (shown === 0) return paging ? 'no more hits' : plural(total ?? 0, 'hit');
  if (total === undefined) return `${plural(shown, 'hit')} shown (VirusTotal gave no total)`;
  return `${plural(total, 'hit')}, ${shown} shown`;
}

/** VT's query errors, reworded as what to change in the query. */
function queryAdvice(err: VtError, query: string): string | undefined {
  if (!(err instanceof VtAnswerError) || err.kind !== 'invalid_argument') return undefined;
  const said = err.vtMessage ? ` VirusTotal said: ${q(err.vtMessage)}.` : '';
  switch (err.vtCode) {
    case 'UnselectiveContentQueryError':
      return (
        `The content search ${code(cleanCode(query, 120) ?? '')} is too unselective: its bytes match too many files.${said} ` +
        'Use a longer, rarer string or hex pattern (at least 8 distinctive bytes; no short common words, few ' +
        '?? wildcards), and narrow it with modifiers such as type:peexe, fs:30d+, p:5+ or size:2MB-.'
      );
    case 'UnsupportedContentQueryError':
      return (
        `VirusTotal cannot run this content search.${said} Write it as content:"text" or content:{hex bytes} ` +
        '(wildcards as ??), one pattern at a time, without OR between content terms.'
      );
    default:
      return `VirusTotal could not run the query (${err.vtCode ?? 'invalid'}).${said} ${SYNTAX_HINT}`;
  }
}

export const searchTool = defineTool({
  name: NAME,
  title: 'VirusTotal Intelligence search',
  description:
    'VT Intelligence search (premium key; one lookup per page). Files unless entity:url|domain|ip; terms ' +
    'AND, OR/NOT/() work. E.g. type:peexe p:5+ fs:2024-01-01+ ls:7d- tag:signed engines:emotet name:invoice ' +
    'imphash:… vhash:"…" ssdeep:"…" tlsh:… main_icon_dhash:… behaviour_network:evil.com content:{4d5a90}. ' +
    'Syntax: resource vt://docs/search-syntax. File reports list pivot queries.',
  inputSchema: {
    query: wellFormed(z.string().min(1).max(4096), 'query'),
    limit: z
      .number()
      .int()
      .min(1)
      .max(300)
      .default(10)
      .describe('Items per page; lowered automatically to what fits.'),
    cursor: cursorParam.optional().describe('next_cursor, same query.'),
    order: wellFormed(z.string().max(40), 'order').optional().describe('e.g. positives-'),
    descriptors_only: z.boolean().default(false).describe('Ids only.'),
  },
  outputSchema: z.object({
    items: z.array(relatedItemSchema),
    next_cursor: z.string().optional(),
    total: z.number().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const query = args.query.trim();
    if (query === '') throw invalidInput('The query is empty. Example: type:peexe p:10+ fs:7d+');
    if (args.order !== undefined && !/^[a-z_]{2,40}[+-]?$/.test(args.order)) {
      throw invalidInput(
        `${q(clean(args.order, 40) ?? '')} is not a sort order. Give a field with an optional + or -, e.g. positives- or first_submission_date+.`,
      );
    }
    const descriptors = args.descriptors_only ?? false;
    const room = textRoom(ctx);
    // A page is never larger than the answer can show, so the cursor never skips an unseen hit.
    const fits = Math.max(1, Math.floor((room - 700) / ((descriptors ? DESCRIPTOR_LINE : LINE_MAX) + 6)));
    const requested = args.limit ?? 10;
    const limit = Math.min(requested, fits);
    try {
      const res = await ctx.vt.search(
        { query, limit, cursor: args.cursor, order: args.order, descriptorsOnly: descriptors },
        { signal: extra.mcpReq.signal },
      );
      const page = res.value;
      const items = page.items.map((o) => summarizeRelated(o));
      if (page.cursorRefused) ctx.log.info(`${NAME}: VirusTotal sent a malformed cursor; not offered`);
      const header = `VT Intelligence ${code(cleanCode(query, 200) ?? '')}: ${counts(items.length, page.total, !!args.cursor)}${
        items.length > 0 && args.order ? `, order ${args.order}` : ''
      }${items.length > 0 && limit < requested ? ` (limit lowered to ${limit} to fit the answer)` : ''}.${
        items.length === 0 && !args.cursor ? ` ${nothingMatched(ctx)}` : ''
      }`;
      const rendered = renderPage(
        header,
        items,
        {
          nextCursor: page.next,
          cursorRefused: page.cursorRefused,
          nextHint: 'call again with the same query and this cursor',
        },
        room,
      );
      return {
        structured: pageStructured(items, rendered.shown, page),
        text: () => rendered.text,
        source: res,
      };
    } catch (err) {
      if (!(err instanceof VtError)) throw err;
      if (err.kind === 'forbidden') throw new ToolError(NO_INTELLIGENCE, { upstream: err });
      const advice = queryAdvice(err, query);
      if (advice) throw new ToolError(advice, { upstream: err });
      throw err;
    }
  },
});
