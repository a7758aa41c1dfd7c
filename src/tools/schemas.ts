/** Parameter schemas shared by several tools, so one wording serves them all. */
import { z } from 'zod';
import { indicatorTypeSchema } from '../answers/target.js';
import { detailSchema } from '../summaries/common.js';
import { isSafeCursor, isWellFormed } from '../util/sanitize.js';

/**
 * A text parameter that must be valid Unicode: a lone surrogate (half of a character, e.g. of an emoji)
 * is bad input, refused with a clear message before any lookup, rather than failing on the way out.
 * A refinement, so the listed JSON schema is unchanged.
 */
export function wellFormed<T extends z.ZodString>(schema: T, name: string): T {
  return schema.refine(isWellFormed, {
    message:
      `\`${name}\` is not valid Unicode text: it holds an unpaired surrogate (half of a character, ` +
      'e.g. of an emoji). Send the text again as typed, without the broken character.',
  });
}

/**
 * A paging cursor: exactly the next_cursor of a previous answer. Those are base64 (and never printed
 * otherwise), so anything else is refused here, before it spends a lookup. Empty means the first page.
 */
export const cursorParam = wellFormed(z.string().max(4096), 'cursor').refine(
  (v) => v === '' || isSafeCursor(v),
  {
    message:
      '`cursor` is not a cursor: pass the next_cursor of the previous answer unchanged (letters, digits ' +
      'and + / = _ - . : only), or leave it out for the first page.',
  },
);

const indicatorText = wellFormed(z.string().max(8192), 'indicator');

export const indicatorParam = indicatorText.describe(
  'Hash (md5/sha1/sha256), URL, domain or IP, as pasted (defanged is fine), or a collection id (threat-actor--…, CVE-…).',
);

/** vt_get_report's: an ATT&CK technique id too, answered offline. */
export const reportIndicatorParam = indicatorText.describe(
  'Hash (md5/sha1/sha256), URL, domain or IP, as pasted (defanged is fine), a collection id (threat-actor--…, CVE-…) or an ATT&CK technique (T1055).',
);

/** An indicator type, or a collection: what vt_get_report and vt_get_relationships can be pointed at. */
export const targetTypeSchema = z.enum([...indicatorTypeSchema.options, 'collection']);

export const typeParam = targetTypeSchema
  .optional()
  .describe(
    'Force a type, e.g. "url" for a bare host name or a 64-hex VT URL id, "collection" for a 64-hex collection id.',
  );

export const detailParam = detailSchema
  .default('concise')
  .describe('"detailed": every engine, more names, PE structure, whois, full DNS (no new lookup if cached).');

export const freshParam = z
  .boolean()
  .default(false)
  .describe('Re-fetch even if cached (one lookup; it does not rescan).');
