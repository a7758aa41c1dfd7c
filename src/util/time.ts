/** Times as the answers show them, and the UTC day VirusTotal's daily quota counts by. */

export const DAY_MS = 86_400_000;

/** The next 00:00 UTC after `now` (ms): when a daily quota resets. */
export function nextUtcMidnight(now: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
}

/** ISO 8601 UTC to the second: "2026-01-01T12:00:00Z". */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
