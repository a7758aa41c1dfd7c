/**
 * How one configuration value is read: the error a bad one raises, "not given" for an unset or blank
 * variable, whole numbers in a range, lists, the rate limit, and the concurrency that fits it. The options
 * table (config-options.ts) and the command line (config.ts) both read their values with these.
 */
import type { Config } from './config.js';

export class ConfigError extends Error {}

/** What an option's parser is told besides its own value. */
export interface ParseContext {
  demo: boolean;
  env: NodeJS.ProcessEnv;
  /** The rate limit as parsed, for defaults that depend on it. */
  rateLimit?: Config['rateLimit'];
}

/** An unset or blank variable is "not given": an empty `VIRUSTOTAL_API_KEY=` never hides `VT_API_KEY`. */
export function given(raw: string | undefined): string | undefined {
  const v = raw?.trim();
  return v === undefined || v === '' ? undefined : v;
}

export function int(name: string, min: number, max: number, fallback: number) {
  return (raw: string | undefined): number => {
    const v = given(raw);
    if (v === undefined) return fallback;
    const value = Number(v);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got "${raw}".`);
    }
    return value;
  };
}

export function list(raw: string | undefined, sep: RegExp = /,/): string[] {
  return (raw ?? '')
    .split(sep)
    .map((x) => x.trim())
    .filter(Boolean);
}

export const OFF = /^(off|none)$/i;

/** "4/60s" (also "4/60", "4/1m") → 4 per 60 s; "off" → no limiter. The demo defaults to off. */
export function parseRateLimit(raw: string | undefined, demo = false): Config['rateLimit'] {
  const v = given(raw);
  if (v === undefined) return demo ? undefined : { requests: 4, seconds: 60 };
  if (OFF.test(v)) return undefined;
  const m = /^(\d+)\s*\/\s*(\d+)\s*(s|m|min)?$/i.exec(v);
  const requests = m ? Number(m[1]) : Number.NaN;
  const seconds = m ? Number(m[2]) * (m[3] && /^m/i.test(m[3]) ? 60 : 1) : Number.NaN;
  if (!m || requests < 1 || seconds < 1 || requests > 100_000 || seconds > 86_400) {
    throw new ConfigError(
      `VT_RATE_LIMIT must look like 4/60s (requests per seconds, at least 1 of each), or "off" for no limit; got "${raw}".`,
    );
  }
  return { requests, seconds };
}

/**
 * Concurrency fits the key: a public key's 4/60s window never has more than 4 requests to send, a
 * premium window of N per period gains from up to N in flight (capped at 16), and with no window the
 * limit is the upstream's latency, so 16 callers are served in parallel.
 */
export function defaultConcurrency(rateLimit: Config['rateLimit']): number {
  return rateLimit ? Math.min(16, Math.max(4, rateLimit.requests)) : 16;
}
