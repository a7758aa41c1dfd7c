/**
 * How the key's day is shared between the clients of one server, when a daily cap is set. Interactive
 * calls may use the day up to the cap (the rate window is shared fairly by the limiter's line). A
 * background job spends the day only while it leaves each other active client an equal part of the
 * day's quota: with one other client active it stops at half the cap, with two at a third, and so on.
 * On a server with several clients (HTTP with tokens), a job leaves a small reserve (5% of the cap)
 * even when no other client is active, so a client that arrives later is not shut out by it. A client is active while it made a call in the last 15 minutes, or a
 * job of its own is running.
 *
 * What a job stops for is given to the caller: 'daily' (the day's cap is spent, or only the reserve is
 * left and nobody else is active) or 'share' (its owner's part is spent while others are active).
 */
export const ACTIVE_MS = 15 * 60_000;
/** The part of the day's cap no job spends, for clients that arrive later. */
export const RESERVE_SHARE = 0.05;

export interface DayFigures {
  /** The cap; undefined when there is none. */
  quota: number | undefined;
  /** Today's count across every process on the key, as this process last saw it. */
  used: number;
}

export class FairShare {
  readonly #seen = new Map<string, number>();
  readonly #day: () => DayFigures;
  readonly #now: () => number;

  readonly #reserve: number;
  /** Job lookups admitted and not yet over: counted as spent, so that lookups in flight cannot overshoot. */
  #inFlight = 0;

  /** `manyClients`: the server has several callers (HTTP with tokens), so a reserve is kept for latecomers. */
  constructor(day: () => DayFigures, opts: { manyClients: boolean; now?: () => number }) {
    this.#day = day;
    this.#now = opts.now ?? Date.now;
    this.#reserve = opts.manyClients ? RESERVE_SHARE : 0;
  }

  /** A client made a call, or a job of its own is at work. */
  seen(client: string): void {
    const now = this.#now();
    this.#seen.set(client, now);
    // Bounded by the clients of the last quarter of an hour: older ones are forgotten.
    if (this.#seen.size > 256) {
      for (const [c, t] of this.#seen) if (t < now - ACTIVE_MS) this.#seen.delete(c);
    }
  }

  /** Clients other than `client` active now. */
  othersActive(client: string): number {
    const since = this.#now() - ACTIVE_MS;
    let n = 0;
    for (const [c, t] of this.#seen) if (c !== client && t >= since) n++;
    return n;
  }

  /** How much of the day no job of `owner` may spend now. */
  reserveFor(owner: string, quota: number): number {
    const others = this.othersActive(owner);
    return others > 0 ? Math.ceil((quota * others) / (others + 1)) : Math.floor(quota * this.#reserve);
  }

  /**
   * Whether a job of `owner` may spend one more lookup of the day now; 'ok' counts it as in flight until
   * jobLookupDone().
   */
  admitJob(owner: string): 'ok' | 'daily' | 'share' {
    this.seen(owner);
    const { quota, used } = this.#day();
    if (quota === undefined) return 'ok';
    const left = quota - used - this.#inFlight;
    if (left <= 0) return 'daily';
    if (left > this.reserveFor(owner, quota)) {
      this.#inFlight++;
      return 'ok';
    }
    return this.othersActive(owner) > 0 ? 'share' : 'daily';
  }

  /** An admitted lookup is over (answered, failed, or never sent): the day's count now has it, or not. */
  jobLookupDone(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }
}
