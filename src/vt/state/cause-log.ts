/**
 * One log line per cause per period, for a fault that comes back every few seconds: a store that fails
 * and answers again (a full disk), or the job runner's scan every 2 s on a store that cannot be read,
 * would otherwise fill the log with the same line. The state store and the job runner share it.
 */

/** A fault of one cause is logged at most this often. */
export const LOG_EVERY_MS = 10 * 60_000;

export class CauseLog {
  /** When each cause was last logged, and how often it came back since unlogged. */
  readonly #told = new Map<string, { at: number; times: number }>();
  readonly #everyMs: number;

  constructor(everyMs = LOG_EVERY_MS) {
    this.#everyMs = everyMs;
  }

  /**
   * Whether a fault with this reason is logged now: undefined if not (it is counted instead), else what
   * to add to its line, " (N more times since <time>, not logged)" or "". The cause is the reason with
   * its numbers taken out (ports, durations and counts change from one time to the next).
   */
  tell(reason: string, now: number): string | undefined {
    const cause = reason.replace(/\d+/g, '#');
    const prev = this.#told.get(cause);
    if (prev && now - prev.at < this.#everyMs) {
      prev.times++;
      return undefined;
    }
    this.#told.set(cause, { at: now, times: 0 });
    return prev?.times
      ? ` (${prev.times} more time${prev.times === 1 ? '' : 's'} since ${new Date(prev.at).toISOString()}, not logged)`
      : '';
  }
}
