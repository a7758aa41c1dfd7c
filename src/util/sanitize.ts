/** One definition of "unsafe characters", shared by the client's error texts and the summarisers. */

// C0/C1 controls, and the invisible characters that can hide or reorder text (bidi overrides, zero width).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
export const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** Replaces unsafe characters with spaces, folds whitespace, trims. */
export function stripUnsafe(s: string): string {
  return s.replace(UNSAFE_CHARS, ' ').replace(/\s+/g, ' ').trim();
}
