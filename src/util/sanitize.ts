/**
 * One definition of "unsafe text", shared by the client's error texts and the summarisers. Text that
 * VirusTotal users, samples or an upstream wrote is data for the model, never markup or instructions:
 *
 * - Invisible characters go, chosen by Unicode property rather than by a hand list: format characters
 *   (bidi controls, zero width, soft hyphen, Arabic letter mark, the tag characters U+E0000–E007F that
 *   can spell a hidden instruction), private use, unassigned code points, lone surrogates, and every
 *   other default-ignorable code point (Hangul fillers, variation selectors, combining grapheme joiner).
 *   Controls and line or paragraph separators become spaces, so words stay apart and no line is forged.
 * - Markdown that a client would act on is broken up: images of any form (an image is fetched as soon
 *   as it is rendered: an exfiltration beacon), inline links, autolinks and raw HTML tags.
 * - A double quote becomes ″ (U+2033 DOUBLE PRIME), so the server's own quotes are the only ASCII double
 *   quotes around untrusted text and no text can close them. A typographic mark rather than a
 *   backslash escape: Windows paths are full of backslashes, which an escape would double.
 *
 * Lengths are cut by code points at a grapheme boundary, never inside a surrogate pair.
 */

// Removed outright. \p{Cs} under the u flag matches only unpaired surrogates: a valid pair is one code point.
const INVISIBLE = /[\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Default_Ignorable_Code_Point}]/gu;
// Become a space: C0 and C1 controls (tab, line feed, escape...), line and paragraph separators.
const BREAKS = /[\p{Cc}\p{Zl}\p{Zp}]/gu;
// Stacked combining marks ("Zalgo") draw over neighbouring lines; real text needs a few at most.
const MARK_PILE = /(\p{M}{4})\p{M}+/gu;
const LONE_SURROGATE = /\p{Cs}/u;

/** The prefix of every line of a multi-line untrusted block; no line the server writes starts with it. */
export const UNTRUSTED_PREFIX = '│ ';

/** What a double quote inside untrusted text becomes (see above). */
export const QUOTE_STANDIN = '″';

/** Removes invisible characters and turns controls into spaces; does not fold whitespace. */
export function stripInvisible(s: string): string {
  return s.replace(INVISIBLE, '').replace(BREAKS, ' ').replace(MARK_PILE, '$1');
}

/**
 * Breaks the Markdown a client would act on, with the smallest visible change (idempotent):
 * "![" (every image form: inline, reference, shortcut) becomes "! [", "](" (an inline link or image
 * needs "]" and "(" side by side) becomes "] (", and "<" before a letter, "/", "!" or "?" (an autolink,
 * a raw HTML tag, a comment or a processing instruction) becomes "< ". Link reference definitions need
 * a line of their own, which untrusted text never starts.
 */
export function neutraliseMarkup(s: string): string {
  return s
    .replace(/!\[/g, '! [')
    .replace(/\]\(/g, '] (')
    .replace(/<(?=[A-Za-z/!?])/g, '< ');
}

/** Untrusted text as one safe line: invisible characters removed, whitespace folded, markup and quotes defused. */
export function stripUnsafe(s: string): string {
  return neutraliseMarkup(stripInvisible(s).replace(/\s+/g, ' ').trim()).replace(/"/g, QUOTE_STANDIN);
}

/** True when the text holds no unpaired surrogate (String.prototype.isWellFormed, Node 20). */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** Made at the first cut of a text that is not plain ASCII: loading ICU's segmenter costs a start some 8 ms. */
let graphemeSegmenter: Intl.Segmenter | undefined;
const graphemes = () => {
  graphemeSegmenter ??= new Intl.Segmenter('en', { granularity: 'grapheme' });
  return graphemeSegmenter;
};

/** The number of code points in `s`, counting no further than `limit` (a cap needs no more). */
function codePointsUpTo(s: string, limit: number): number {
  let n = 0;
  for (let i = 0; i < s.length && n < limit; i++, n++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
}

// Printable ASCII: between two of these there is always a grapheme boundary.
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * At most `max` code points, the last one "…" when something was cut. The cut falls between graphemes
 * (an emoji and its modifier, a letter and its accent stay together) unless a single grapheme is longer
 * than the room, and never inside a surrogate pair. The work is bounded by `max`, not by the length of
 * `s`: a report can hold thousands of long strings of which a summary shows a few.
 */
export function capCodePoints(s: string, max: number): string {
  if (s.length <= max) return s; // UTF-16 units ≥ code points: short enough already.
  if (codePointsUpTo(s, max + 1) <= max) return s;
  const room = Math.max(0, max - 1);
  // Fast path: printable ASCII up to and including the first character cut off.
  if (PRINTABLE_ASCII.test(s.slice(0, room + 1))) return `${s.slice(0, room)}…`;
  let out = '';
  let n = 0;
  for (const { segment } of graphemes().segment(s)) {
    const k = codePointsUpTo(segment, Number.POSITIVE_INFINITY);
    if (n + k > room) break;
    out += segment;
    n += k;
  }
  if (out === '' && room > 0) out = Array.from(s).slice(0, room).join('');
  return `${out}…`;
}

/** At most `max` UTF-16 units (a character budget), "…" last when cut; never splits a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = Math.max(0, max - 1);
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

/**
 * VirusTotal's cursors are base64 (standard or URL-safe, padded or not); the stand-in's are "rec:<n>".
 * A cursor is printed for the model to send back, so anything else (a line break, a space, markup) is
 * refused rather than printed.
 */
const CURSOR = /^[A-Za-z0-9+/=_.:-]{1,4096}$/;

export function isSafeCursor(v: unknown): v is string {
  return typeof v === 'string' && CURSOR.test(v);
}

/**
 * The cursor of a page as VirusTotal sent it: `next` when it may be printed for the model to send
 * back, `refused` when one came but was not a cursor (a line break in it would forge a line).
 */
export function pageCursor(v: unknown): { next?: string; refused?: boolean } {
  if (v === undefined || v === null || v === '') return {};
  return isSafeCursor(v) ? { next: v } : { refused: true };
}
