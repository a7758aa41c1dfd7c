/**
 * How the key's day is shared between the clients of one server, when a daily cap is set. Interactive
 * calls may use the day up to the cap (the rate window is shared fairly by the limiter's line). A
 * background job spends the day only while what is left of it is more than the other active clients'
 * parts of the cap: with one other client active it stops when the day's count (everyone's lookups)
 * reaches half the cap, with two a third, and so on. On a server with several clients (HTTP with
 * tokens), a job leaves a small reserve (5% of the cap) even when no other client is active, so a client
 * that arrives later is not shut out by it. A client is active while it made a call in the last 15
 * minutes, or a job of its own is running.
 *
 * What a job stops for is given to the caller: 'daily' (the day's cap is spent, or only the reserve is
 * left and nobody else is active) or 'share' (its owner's part is spent while others are active).
 *
 * Over HTTP each client also has a minute (VT_MCP_CLIENT_RATE): its calls that can reach VirusTotal and
 * its jobs' lookups are counted in it together, so a job is no way around it.
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

/** A sliding minute of requests that can reach VirusTotal, per client. */
export class CallRates {
  readonly #calls = new Map<string, number[]>();
  readonly #perMinute: number;
  readonly #now: () => number;

  /** perMinute 0: no limit. */
  constructor(perMinute: number, now: () => number = Date.now) {
    this.#perMinute = perMinute;
    this.#now = now;
  }

  get perMinute(): number {
    return this.#perMinute;
  }

  /** Records n requests; returns 0, or the ms to wait when over the share (nothing is recorded then). */
  take(client: string, n: number): number {
    if (n === 0 || this.#perMinute <= 0) return 0;
    const now = this.#now();
    const times = (this.#calls.get(client) ?? []).filter((t) => t > now - 60_000);
    if (times.length === 0) this.#calls.delete(client);
    else this.#calls.set(client, times);
    if (times.length + n > this.#perMinute) {
      const oldest = times[Math.max(0, times.length + n - this.#perMinute - 1)];
      return oldest === undefined ? 60_000 : Math.max(1, oldest + 60_000 - now);
    }
    for (let i = 0; i < n; i++) times.push(now);
    this.#calls.set(client, times);
    return 0;
  }
}

export class FairShare {
  readonly #seen = new Map<string, number>();
  readonly #day: () => DayFigures;
  readonly #now: () => number;

  readonly #reserve: number;
  /** Job lookups admitted and not yet over: counted as spent, so that lookups in flight cannot overshoot. */
  #inFlight = 0;

  /** Each client's minute (the HTTP server counts calls in it, jobs their lookups). */
  readonly rates: CallRates;

  /**
   * `manyClients`: the server has several callers (HTTP with tokens), so a reserve is kept for latecomers.
   * `callsPerMinute`: each client's minute (0: none).
   */
  constructor(
    day: () => DayFigures,
    opts: { manyClients: boolean; callsPerMinute?: number; now?: () => number },
  ) {
    this.#day = day;
    this.#now = opts.now ?? Date.now;
    this.#reserve = opts.manyClients ? RESERVE_SHARE : 0;
    this.rates = new CallRates(opts.callsPerMinute ?? 0, this.#now);
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

  /** Why a job of `owner` may not spend one more lookup of the day now; undefined when it may. */
  #dayRefusal(owner: string): 'daily' | 'share' | undefined {
    const { quota, used } = this.#day();
    if (quota === undefined) return undefined;
    const left = quota - used - this.#inFlight;
    if (left <= 0) return 'daily';
    if (left <= this.reserveFor(owner, quota)) return this.othersActive(owner) > 0 ? 'share' : 'daily';
    return undefined;
  }

  /**
   * Whether a job of `owner` may spend one more lookup now: 'ok' (counted as in flight until
   * jobLookupDone(), and in its owner's minute), why it pauses, or how many ms to wait for the minute.
   */
  admitJob(owner: string): 'ok' | 'daily' | 'share' | number {
    this.seen(owner);
    const refused = this.#dayRefusal(owner);
    if (refused) return refused;
    const wait = this.rates.take(owner, 1);
    if (wait > 0) return wait;
    this.#inFlight++;
    return 'ok';
  }

  /**
   * Whether the day would let a paused job of `owner` carry on: a question only, which neither makes
   * its owner active nor spends anything of its minute.
   */
  dayAllows(owner: string): boolean {
    return this.#dayRefusal(owner) === undefined;
  }

  /** An admitted lookup is over (answered, failed, or never sent): the day's count now has it, or not. */
  jobLookupDone(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }
}
