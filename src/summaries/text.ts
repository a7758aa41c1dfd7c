/**
 * Assembles the text an assistant reads: required lines first, optional sections after,
 * each kept only while the answer stays within its character budget. What is dropped is named.
 */

interface Section {
  title: string;
  text: string;
  required: boolean;
}

export class TextBuilder {
  readonly #sections: Section[] = [];

  /** A line that is always kept (identity, verdict). */
  line(text: string | undefined): this {
    if (text) this.#sections.push({ title: '', text, required: true });
    return this;
  }

  /** A section that is dropped, and named as dropped, when the budget is spent. */
  section(title: string, text: string | undefined): this {
    if (text) this.#sections.push({ title, text, required: false });
    return this;
  }

  render(maxChars: number, dropHint = 'ask for it with a narrower request'): string {
    const kept: string[] = [];
    const dropped: string[] = [];
    // Reserve room for the note about dropped sections.
    const reserve = 160;
    // Required lines are always kept, wherever they stand: count them all before admitting any section,
    // or sections admitted early crowd out later required lines (and the note) at the final cut.
    let used = this.#sections.filter((s) => s.required).reduce((n, s) => n + s.text.length + 1, 0);
    for (const s of this.#sections) {
      const len = s.text.length + 1;
      if (s.required) {
        kept.push(s.text);
      } else if (used + len <= maxChars - reserve) {
        kept.push(s.text);
        used += len;
      } else {
        dropped.push(s.title);
      }
    }
    if (dropped.length > 0) {
      // Name as many dropped sections as fit, and count the rest.
      const room = maxChars - used - 1;
      let n = dropped.length;
      const note = (k: number) =>
        `(Left out to stay within ${maxChars} characters: ${joinMore(dropped.slice(0, k), dropped.length - k)}; ${dropHint}.)`;
      while (n > 1 && note(n).length > room) n--;
      kept.push(note(n));
    }
    const out = kept.join('\n');
    return out.length > maxChars ? `${out.slice(0, maxChars - 1)}…` : out;
  }
}

/** "a, b, c (+4 more)". */
export function joinMore(items: string[], more: number, sep = ', '): string {
  return items.join(sep) + (more > 0 ? ` (+${more} more)` : '');
}

export function q(s: string): string {
  return `"${s}"`;
}
