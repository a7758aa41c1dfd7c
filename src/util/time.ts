/** Times as the answers show them. */

/** ISO 8601 UTC to the second: "2026-01-01T12:00:00Z". */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
