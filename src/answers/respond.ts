/**
 * The response contract, owned here for every tool: a compact text for the model (rendered by the
 * tool from its structured summary) and the structured summary itself, each within
 * VT_MAX_RESPONSE_CHARS; the demo banner, the source line, key redaction, and what the structure had
 * to leave out (`truncated`). Failures become isError answers here too, worded by wording.ts.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import { type Logger, redact, redactDeep } from '../log.js';
import { type Json, obj } from '../summaries/common.js';
import { truncate } from '../util/sanitize.js';
import { isoSeconds } from '../util/time.js';
import { VtAnswerError, VtError } from '../vt/errors.js';
import type { ToolContext } from './context.js';
import { errorText, ToolError } from './wording.js';

const DEMO_BANNER = '[DEMO DATA: recorded VirusTotal responses from public test fixtures, not live results.]';

/** The longest source line: "Source: VirusTotal, fetched 2026-01-01T00:00:00Z (from cache)." */
const SOURCE_LINE_MAX = 64;

type Ctx = Pick<ToolContext, 'config' | 'demo' | 'log'>;

/** A tool's answer before it is sent: its structured summary, and how to say it in text. */
export interface Answer<S> {
  /** What structuredContent carries (the tool's output schema describes it). */
  structured: S;
  /** The text, rendered from the structured summary, within maxChars (what it cuts, it names). */
  text(s: S, maxChars: number): string;
  /** Where the data came from: adds the source line. */
  source?: { fetchedAt: Date; fromCache: boolean } | undefined;
  /**
   * When the structure is over budget its largest lists are cut first; a weight above 1 keeps a list
   * longer ({ results: 2 }: results count half their size when compared). Keys are paths ("items").
   */
  weights?: Record<string, number>;
}

function sourceLine(fetchedAt: Date, fromCache: boolean): string {
  return `Source: VirusTotal, fetched ${isoSeconds(fetchedAt.getTime())}${fromCache ? ' (from cache)' : ''}.`;
}

/**
 * The room an answer's own text has: VT_MAX_RESPONSE_CHARS less the demo banner and (for answers
 * from VirusTotal) the source line. Tools size their pages with it before they fetch.
 */
export function textRoom(ctx: Pick<ToolContext, 'config' | 'demo'>, withSource = true): number {
  return (
    ctx.config.maxResponseChars -
    (ctx.demo ? DEMO_BANNER.length + 1 : 0) -
    (withSource ? SOURCE_LINE_MAX + 1 : 0)
  );
}

function secretsOf(ctx: Pick<ToolContext, 'config'>): string[] {
  return ctx.config.apiKey ? [ctx.config.apiKey] : [];
}

/** The whole text of an answer: banner (demo), the tool's text within its room, source line; redacted. */
export function respondText<S>(ctx: Pick<ToolContext, 'config' | 'demo'>, answer: Answer<S>): string {
  const room = textRoom(ctx, !!answer.source);
  let body = answer.text(answer.structured, room);
  // The renderers keep to their room; this is the guarantee, not the plan.
  if (body.length > room) body = truncate(body, room);
  const lines = [
    ctx.demo ? DEMO_BANNER : undefined,
    body,
    answer.source ? sourceLine(answer.source.fetchedAt, answer.source.fromCache) : undefined,
  ].filter((l): l is string => l !== undefined && l !== '');
  // A hostile upstream could echo the key inside a 200 answer: no answer carries it, in any encoding.
  return redact(lines.join('\n'), secretsOf(ctx));
}

/**
 * A tool's answer: text and structuredContent, each within VT_MAX_RESPONSE_CHARS. `schema` is the
 * tool's output schema: the structure is only ever cut in ways it allows.
 */
export function respond<S extends Json>(ctx: Ctx, answer: Answer<S>, schema?: z.ZodType): CallToolResult {
  const structured = fitStructure(answer.structured, ctx.config.maxResponseChars, {
    ...(answer.weights ? { weights: answer.weights } : {}),
    ...(schema ? { schema } : {}),
  });
  return {
    content: [{ type: 'text', text: respondText(ctx, answer) }],
    // The banner is in the text; structuredContent stays exactly what the output schema describes.
    structuredContent: redactDeep(structured, secretsOf(ctx)),
  };
}

interface List {
  path: string;
  items: unknown[];
  /** JSON length of each item, with its comma. */
  sizes: number[];
  total: number;
  weight: number;
}

interface Field {
  path: string;
  owner: Record<string, unknown>;
  key: string;
  size: number;
}

/** Every list (an array not inside another array) and every field of the structure, with their paths. */
function piecesOf(
  o: Record<string, unknown>,
  weights: Record<string, number>,
  path = '',
  out: { lists: List[]; fields: Field[] } = { lists: [], fields: [] },
) {
  for (const [k, v] of Object.entries(o)) {
    const p = path ? `${path}.${k}` : k;
    if (Array.isArray(v)) {
      const sizes = v.map((x) => JSON.stringify(x).length + 1);
      const total = sizes.reduce((a, b) => a + b, 0);
      out.lists.push({ path: p, items: v, sizes, total, weight: weights[p] ?? 1 });
      out.fields.push({ path: p, owner: o, key: k, size: total + k.length + 4 });
    } else {
      out.fields.push({ path: p, owner: o, key: k, size: JSON.stringify(v).length + k.length + 4 });
      const inner = obj(v);
      if (inner) piecesOf(inner, weights, p, out);
    }
  }
  return out;
}

/**
 * The structure within `max` characters (its JSON length), cut only as far as needed and only in
 * ways the output schema allows. First the largest lists (by size over weight) lose items from their
 * ends, each down towards the next largest, keeping at least one item; then optional fields are left
 * out, largest first; then lists may empty. `truncated` records, per path, how many values were left
 * out: a list's items, or 1 for a field left out whole.
 */
export function fitStructure<S extends Json>(
  s: S,
  max: number,
  opts: { weights?: Record<string, number>; schema?: z.ZodType } = {},
): S {
  if (JSON.stringify(s).length <= max) return s;
  const fitted = structuredClone(s);
  // Cut as a record: what is left out is what the output schema allows to be left out.
  const copy: Json = fitted;
  // What the tool already left out (a page cut to its text) is counted on, not replaced.
  const cut: Record<string, number> = { ...countsIn(copy.truncated) };
  delete copy.truncated;
  const { lists, fields } = piecesOf(copy, opts.weights ?? {});
  const excess = () =>
    JSON.stringify(Object.keys(cut).length > 0 ? { ...copy, truncated: cut } : copy).length - max;

  /** Water-filling over the lists, each keeping at least `keep` items. */
  const cutLists = (keep: number) => {
    for (let over = excess(); over > 0; over = excess()) {
      const live = lists
        .filter((l) => l.items.length > keep)
        .sort((a, b) => b.total / b.weight - a.total / a.weight);
      const top = live[0];
      if (!top) return;
      const next = live[1];
      // Down to the next largest (weighted), or by what is still over, whichever leaves more.
      const target = Math.max(next ? (next.total / next.weight) * top.weight : 0, top.total - over);
      do {
        const size = top.sizes.pop();
        // A size per item: none left means no item left either.
        if (size === undefined) break;
        top.items.pop();
        top.total -= size;
        over -= size;
        cut[top.path] = (cut[top.path] ?? 0) + 1;
      } while (top.items.length > keep && top.total > target && over > 0);
    }
  };

  cutLists(1);
  if (excess() > 0 && opts.schema) {
    // Optional fields, largest first; a field the schema requires is put back and kept.
    const schema = opts.schema;
    const gone = new Set<string>();
    for (const f of [...fields].sort((a, b) => b.size - a.size)) {
      if (excess() <= 0) break;
      if (f.size < 16 || [...gone].some((g) => f.path.startsWith(`${g}.`))) continue;
      const value = f.owner[f.key];
      delete f.owner[f.key];
      if (!schema.safeParse(copy).success) {
        f.owner[f.key] = value;
        continue;
      }
      gone.add(f.path);
      // A list left out whole is counted as its items (those already cut are counted).
      const list = lists.find((l) => l.path === f.path);
      cut[f.path] = (cut[f.path] ?? 0) + (list ? list.items.length : 1);
      for (const l of lists) if (l.path === f.path || l.path.startsWith(`${f.path}.`)) l.items = [];
    }
  }
  cutLists(0);
  if (Object.keys(cut).length > 0) copy.truncated = cut;
  return fitted;
}

/** The counts a structure's `truncated` already holds: its whole numbers by path (respond() writes it). */
function countsIn(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(obj(v) ?? {})) if (typeof n === 'number') out[k] = n;
  return out;
}

/** One log line per failure: its kind and VT code, never its text (which may quote the input). */
export function logFailure(log: Logger, where: string, err: unknown): void {
  const vt = err instanceof VtError ? err : err instanceof ToolError ? err.upstream : undefined;
  if (vt) {
    log.info(
      `${where}: ${vt.kind}${vt instanceof VtAnswerError ? `${vt.vtCode ? ` ${vt.vtCode}` : ''}${vt.httpStatus ? ` HTTP ${vt.httpStatus}` : ''}` : ''}`,
    );
  } else if (err instanceof ToolError) {
    log.info(`${where}: ${err.kind}`);
  } else {
    // Name and message only: no stack trace in the log (nor, of course, in the answer).
    log.error(
      `${where}: unexpected error: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
  }
}

export function errorResult(err: unknown, ctx: Ctx, tool: string): CallToolResult {
  logFailure(ctx.log, tool, err);
  const text = errorText(err, ctx);
  return {
    isError: true,
    content: [{ type: 'text', text: redact(ctx.demo ? `${DEMO_BANNER}\n${text}` : text, secretsOf(ctx)) }],
  };
}

/**
 * A page's structured part: the items the text shows (a pipeline pages on from the same place as the
 * model), VirusTotal's cursor and total, and how many items of the page the text had no room for.
 */
export function pageStructured<T>(
  items: T[],
  shown: number,
  page: { next?: string | undefined; total?: number | undefined },
): { items: T[]; next_cursor?: string; total?: number; truncated?: Record<string, number> } {
  return {
    items: items.slice(0, shown),
    ...(page.next ? { next_cursor: page.next } : {}),
    ...(page.total !== undefined ? { total: page.total } : {}),
    ...(shown < items.length ? { truncated: { items: items.length - shown } } : {}),
  };
}
