/**
 * Small pure helpers shared by the summarisers: dates, untrusted text, counting, detection stats, and
 * the schemas of the pieces every summary uses (verdict, detection counts, ISO dates).
 * Nothing here does I/O.
 */
import { z } from 'zod';
import { capCodePoints, stripInvisible, stripUnsafe, truncate, UNTRUSTED_PREFIX } from '../util/sanitize.js';
import { DAY_MS } from '../util/time.js';

export { isSafeCursor, QUOTE_STANDIN, UNTRUSTED_PREFIX } from '../util/sanitize.js';

import { type Json, jsonObject } from '../util/json.js';

export type { Json };
/** An object, not an array nor null: a parsed JSON object, whose keys are all strings. */
export const obj = jsonObject;

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** How much a report says: the default, or every engine, more names, structure, whois. */
export const detailSchema = z.enum(['concise', 'detailed']);
export type Detail = z.infer<typeof detailSchema>;

/** An ISO 8601 UTC time ("2024-07-29T04:22:49Z") and an ISO day ("2024-07-29"), as summaries hold them. */
export const dateTimeSchema = z.string().meta({ format: 'date-time' });
export const daySchema = z.string().meta({ format: 'date' });

/** The latest time ISO 8601 writes without an expanded year (9999-12-31T23:59:59Z). */
const MAX_ISO_MS = 253_402_300_799_000;

function iso(ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_ISO_MS) return undefined;
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** VT dates are Unix seconds (a few newer ones are strings); we show ISO 8601 UTC. */
export function isoDate(v: unknown): string | undefined {
  if (typeof v === 'number') return iso(v * 1000);
  if (typeof v === 'string' && /^\d{9,11}$/.test(v)) return iso(Number(v) * 1000);
  if (typeof v === 'string') return iso(Date.parse(v));
  return undefined;
}

/** The date part only, for compact lines. */
export function isoDay(v: unknown): string | undefined {
  return isoDate(v)?.slice(0, 10);
}

/**
 * Text someone typed into VirusTotal (names, tags, titles, comments, whois, rule texts) is untrusted:
 * invisible characters go, whitespace is folded, Markdown a client would act on is broken up, a double
 * quote becomes ″ (so no text can close the quotes it is shown in), and the length is capped in code
 * points (see util/sanitize.ts). The one helper for every such string, in text and structured content.
 */
export function clean(v: unknown, max = 160): string | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  let raw = String(v);
  // A very long string is cut before it is cleaned, generously: invisible characters may be most of it.
  const room = Math.max(4096, max * 16);
  const precut = raw.length > room;
  if (precut) raw = truncate(raw, room);
  const s = stripUnsafe(raw);
  if (s === '') return undefined;
  const out = capCodePoints(s, max);
  return precut && !out.endsWith('…') ? capCodePoints(`${out}…`, max) : out;
}

/** Like clean(), for text shown inside a code span (the caller's own query): quotes and markup are kept. */
export function cleanCode(v: unknown, max = 160): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = stripInvisible(truncate(v, Math.max(4096, max * 16)))
    .replace(/\s+/g, ' ')
    .trim();
  return s === '' ? undefined : capCodePoints(s, max);
}

/**
 * Like clean() but keeps line breaks (whois excerpts). Every line starts with UNTRUSTED_PREFIX, so none
 * can pass for one of the server's ("Verdict: …", "Source: VirusTotal …"); a last unmarked line counts
 * the lines left out.
 */
export function cleanBlock(v: unknown, maxChars: number, maxLines: number): string | undefined {
  if (typeof v !== 'string') return undefined;
  const lines = truncate(v, Math.max(4096, maxChars * 16))
    .split(/\r\n?|[\n\v\f\u0085\u2028\u2029]/)
    .map(stripUnsafe)
    .filter((l) => l !== '');
  if (lines.length === 0) return undefined;
  let out = untrustedLines(lines.slice(0, maxLines));
  if (out.length > maxChars) out = truncate(out, maxChars);
  const more = lines.length - Math.min(lines.length, maxLines);
  return more > 0 ? `${out}\n(+${more} more lines)` : out;
}

/** Lines of untrusted text (already cleaned), each marked with UNTRUSTED_PREFIX. */
function untrustedLines(lines: string[]): string {
  return lines.map((l) => `${UNTRUSTED_PREFIX}${l}`).join('\n');
}

interface Capped<T> {
  items: T[];
  /** How many were left out. */
  more: number;
}

export function cap<T>(items: T[], n: number): Capped<T> {
  return { items: items.slice(0, n), more: Math.max(0, items.length - n) };
}

export const countedSchema = z.object({ value: z.string(), count: z.number() }).meta({ id: 'counted' });
type Counted = z.infer<typeof countedSchema>;

/** Counts values, most common first (ties by first appearance). */
function countValues(values: string[]): Counted[] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count);
}

/** Engine counts of an analysis; `total` counts the engines that gave a verdict (the four above). */
export const detectionStatsSchema = z
  .object({
    malicious: z.number(),
    suspicious: z.number(),
    undetected: z.number(),
    harmless: z.number(),
    total: z.number(),
  })
  .meta({ id: 'detection_stats' });
type DetectionStats = z.infer<typeof detectionStatsSchema>;

export function detectionStats(v: unknown): DetectionStats | undefined {
  const s = obj(v);
  if (!s) return undefined;
  const malicious = num(s.malicious) ?? 0;
  const suspicious = num(s.suspicious) ?? 0;
  const undetected = num(s.undetected) ?? 0;
  const harmless = num(s.harmless) ?? 0;
  return {
    malicious,
    suspicious,
    undetected,
    harmless,
    total: malicious + suspicious + undetected + harmless,
  };
}

export const verdictSchema = z.enum(['malicious', 'suspicious', 'undetected', 'no_verdict']);
export type Verdict = z.infer<typeof verdictSchema>;

/**
 * A plain verdict for sorting and one-line answers. It counts engines; it is not VirusTotal's own
 * judgement: 3+ malicious engines is MALICIOUS, 1-2 malicious or any suspicious is SUSPICIOUS, none is
 * UNDETECTED (which is not the same as clean: new malware is often undetected at first).
 */
export function verdictOf(stats: DetectionStats | undefined): Verdict {
  if (!stats || stats.total === 0) return 'no_verdict';
  if (stats.malicious >= 3) return 'malicious';
  if (stats.malicious > 0 || stats.suspicious > 0) return 'suspicious';
  return 'undetected';
}

interface EngineResults {
  /** Engines that said malicious or suspicious. */
  flagging: number;
  /** Their labels, most common first. */
  labels: Counted[];
  /** engine → label, for the detailed view. */
  byEngine: Array<{ engine: string; category: string; label: string }>;
}

export function engineResults(v: unknown): EngineResults {
  const results = obj(v) ?? {};
  const byEngine: EngineResults['byEngine'] = [];
  for (const [engine, r] of Object.entries(results)) {
    const o = obj(r);
    const category = typeof o?.category === 'string' ? o.category : '';
    if (category !== 'malicious' && category !== 'suspicious') continue;
    byEngine.push({ engine: clean(engine, 40) ?? '?', category, label: clean(o?.result, 80) ?? category });
  }
  return { flagging: byEngine.length, labels: countValues(byEngine.map((e) => e.label)), byEngine };
}

/**
 * The age of a report's last analysis, added to its summary when an answer is made (index.ts): the
 * summary of a cached object is made once and holds dates only, an age depends on the time of asking.
 */
export const analysisAgeShape = {
  analysis_age_days: z.number().int().nonnegative().optional(),
};

/** Whole days from an ISO time to `now` (ms): 0 for a time not yet past (a clock behind VirusTotal's). */
export function ageDays(iso: string | undefined, now: number): number | undefined {
  const t = iso === undefined ? Number.NaN : Date.parse(iso);
  if (!Number.isFinite(t) || !Number.isFinite(now)) return undefined;
  return Math.max(0, Math.floor((now - t) / DAY_MS));
}

/** Past this many days, a verdict line says how old its analysis is. */
export const AGE_SHOWN_AFTER_DAYS = 30;

/**
 * "45 days ago", "14 months ago", "2 years ago": days under 60, months under two years, years after;
 * undefined within AGE_SHOWN_AFTER_DAYS, where the date alone says it is recent.
 */
export function ageWords(days: number | undefined): string | undefined {
  if (days === undefined || days <= AGE_SHOWN_AFTER_DAYS) return undefined;
  if (days < 60) return `${days} days ago`;
  if (days < 730) return `${Math.round(days / 30.44)} months ago`;
  return `${Math.floor(days / 365)} years ago`;
}

/**
 * "Verdict: MALICIOUS, 54/75 engines malicious, 1 suspicious (analysed 2024-07-29)"; given the age of
 * the analysis in days, an old one says so: "(analysed 2024-07-29, 2 years ago)".
 */
export function statsLine(
  verdict: Verdict,
  s: DetectionStats | undefined,
  analysed?: string,
  ageInDays?: number,
): string {
  if (!s || s.total === 0) return 'Verdict: none: no engine results in this report.';
  const word = verdict.toUpperCase().replace('_', ' ');
  const age = ageWords(ageInDays);
  const when = analysed ? ` (analysed ${analysed.slice(0, 10)}${age ? `, ${age}` : ''})` : '';
  if (s.malicious + s.suspicious === 0) return `Verdict: ${word}, 0/${s.total} engines flag it${when}`;
  const suspicious = s.suspicious > 0 ? `, ${s.suspicious} suspicious` : '';
  return `Verdict: ${word}, ${s.malicious}/${s.total} engines malicious${suspicious}${when}`;
}

/** How a report's text is made beyond its summary: what the server is configured to offer. */
export interface ReportTextOptions {
  /** VT_ENABLE_SUBMISSIONS=true: the write tools are listed, so a fresh scan may be suggested. */
  submissions?: boolean;
}

/** "a (3), b (1)". */
export function countedList(items: Counted[] | undefined): string {
  return (items ?? []).map((c) => `${c.value} (${c.count})`).join(', ');
}

const GUI_BASE = 'https://www.virustotal.com/gui';

export function guiLink(type: string, id: string): string {
  const path = { file: 'file', url: 'url', domain: 'domain', ip_address: 'ip-address' }[type] ?? type;
  return `${GUI_BASE}/${path}/${encodeURIComponent(id)}`;
}

/**
 * The strings of a list, cleaned, empty ones dropped; at most `limit`, and cleaning stops there: a
 * report's list can run to thousands of entries (14,035 exports in one recording) of which a summary
 * shows a few.
 */
export function strings(v: unknown, max = 80, limit = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  for (const x of arr(v)) {
    if (out.length >= limit) break;
    const c = clean(x, max);
    if (c !== undefined) out.push(c);
  }
  return out;
}

/** Drops keys whose value is undefined, an empty array or an empty object, so answers omit what is missing. */
export function compact<T extends Json>(o: T): T {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    const inner = obj(v);
    if (inner && Object.keys(inner).length === 0) continue;
    out[k] = v;
  }
  // T with the keys left out that hold nothing: the callers build T with those keys optional, and
  // TypeScript has no type for "T less the keys found empty at run time".
  return out as T;
}

/**
 * A whole number with thousands separators ("12,345"), as toLocaleString('en-US') writes it, without
 * loading ICU's number formatting (some 6 ms at start, where tool descriptions quote numbers).
 */
export function fmtInt(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n)).replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 ? `-${digits}` : digits;
}

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info', 'unknown'];

/** Sort key of a severity word, most severe first ("IMPACT_SEVERITY_HIGH" reads as "high"); unknown words last. */
export function severityRank(s: string | undefined): number {
  const i = SEVERITIES.indexOf((s ?? '').toLowerCase().replace(/^impact_severity_/, ''));
  return i === -1 ? SEVERITIES.length : i;
}

/** "1 submission", "3 submissions". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${fmtInt(n)} ${n === 1 ? one : many}`;
}
