/**
 * Assembles the text an assistant reads: required lines first, optional sections after,
 * each kept only while the answer stays within its character budget. What is dropped is named.
 */
import { stripUnsafe, truncate } from '../util/sanitize.js';

interface Section {
  title: string;
  /** The full text, then shorter forms to try when it does not fit. */
  texts: string[];
  required: boolean;
  /** Lower is kept first when the budget is short; the answer keeps its reading order regardless. */
  priority: number;
}

export class TextBuilder {
  readonly #sections: Section[] = [];

  /** A line that is always kept (identity, verdict). Keep these short: they are never cut. */
  line(text: string | undefined): this {
    if (text) this.#sections.push({ title: '', texts: [text], required: true, priority: 0 });
    return this;
  }

  /**
   * A section that is dropped, and named as dropped, when the budget is spent. Sections are admitted
   * by priority (1 most important), so a long low-value section cannot crowd out a verdict-level one.
   * Given several texts (longest first), the longest that fits is used.
   */
  section(title: string, text: string | Array<string | undefined> | undefined, priority = 5): this {
    const texts = (Array.isArray(text) ? text : [text]).filter((t): t is string => !!t);
    if (texts.length > 0) this.#sections.push({ title, texts, required: false, priority });
    return this;
  }

  render(maxChars: number, dropHint = 'Raise VT_MAX_RESPONSE_CHARS to see them'): string {
    const note = (dropped: string[], k: number) =>
      `(Cut to fit the size limit: ${joinMore(dropped.slice(0, k), dropped.length - k)}. ${dropHint}.)`;
    // Everything fits: no choice to make, and no room to reserve for a note.
    const whole = this.#sections.map((s) => s.texts[0]).join('\n');
    if (whole.length <= maxChars) return whole;
    // Required lines are always kept, wherever they stand: count them before admitting any section.
    let used = this.#sections
      .filter((s) => s.required)
      .reduce((n, s) => n + (s.texts[0]?.length ?? 0) + 1, 0);
    const admitted = new Map<Section, string>();
    const dropped: Section[] = [];
    // By priority; within one, sections that can shrink come last and take what room is left.
    const byPriority = this.#sections
      .filter((s) => !s.required)
      .sort((a, b) => a.priority - b.priority || a.texts.length - b.texts.length);
    // Room for the note, should anything be cut: enough to name every section that could be.
    const reserve = note(
      byPriority.map((s) => s.title),
      byPriority.length,
    ).length;
    // Once a section is cut, every less important one is cut too: a note-worthy section never loses
    // its place to a smaller, less important one, and what is cut is always the tail of the ranking.
    let cutFrom = Number.POSITIVE_INFINITY;
    for (const s of byPriority) {
      const text =
        s.priority > cutFrom ? undefined : s.texts.find((t) => used + t.length + 1 <= maxChars - reserve);
      if (text !== undefined) {
        admitted.set(s, text);
        used += text.length + 1;
      } else {
        dropped.push(s);
        cutFrom = Math.min(cutFrom, s.priority);
      }
    }
    const kept = this.#sections
      .map((s) => (s.required ? s.texts[0] : admitted.get(s)))
      .filter((t): t is string => t !== undefined);
    if (dropped.length > 0) {
      // In reading order, every one of them (the reserve left room for all).
      const titles = this.#sections.filter((s) => dropped.includes(s)).map((s) => s.title);
      kept.push(note(titles, titles.length));
    }
    return truncate(kept.join('\n'), maxChars);
  }
}

/** "a, b, c (+4 more)". */
export function joinMore(items: string[], more: number, sep = ', '): string {
  return items.join(sep) + (more > 0 ? ` (+${more} more)` : '');
}

/**
 * Untrusted text in double quotes, as one line. Inside, a double quote becomes ″ (U+2033 DOUBLE PRIME):
 * the quotes around the text are then the only ASCII double quotes, and no text can close them to put
 * words (a fake "Verdict: …") outside. Invisible characters and markup are defused as by clean().
 */
export function q(s: string): string {
  return `"${stripUnsafe(s)}"`;
}

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
