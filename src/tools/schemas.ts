/** Parameter schemas shared by several tools, so one wording serves them all. */
import { z } from 'zod';
import { INDICATOR_TYPES } from '../vt/indicators.js';

export const indicatorParam = z
  .string()
  .max(8192)
  .describe('Hash (md5/sha1/sha256), URL, domain or IP, as pasted; defanged forms are fine.');

export const typeParam = z
  .enum(INDICATOR_TYPES as unknown as [string, ...string[]])
  .optional()
  .describe('Force a type, e.g. "url" for a bare host name or a 64-hex VT URL id.');

export const detailParam = z
  .enum(['concise', 'detailed'])
  .default('concise')
  .describe('"detailed": every engine, more names, PE structure, whois, full DNS (no new lookup if cached).');

export const freshParam = z
  .boolean()
  .default(false)
  .describe('Re-fetch even if cached (one lookup; it does not rescan).');
