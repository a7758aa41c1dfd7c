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
  .describe('Override type detection.');

export const detailParam = z
  .enum(['concise', 'detailed'])
  .default('concise')
  .describe('"detailed" adds PE structure, engine list, whois, full DNS, certificate.');

export const freshParam = z.boolean().default(false).describe('Bypass the cache.');
