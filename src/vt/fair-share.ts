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
 * Replicas on one key (HTTP behind a balancer, on one Redis or one SQLite file) are one server: which
 * clients are active is shared through the key's state store, else a job on one replica would not see
 * a client of another and could spend the whole day. Cheaply: a process writes a client's activity at
 * most every ACTIVITY_WRITE_EVERY_MS (a document that outlives the activity by as much), and reads the
 * shared set at most every ACTIVITY_READ_EVERY_MS, only when a job asks, never on an interactive call.
 * A job's lookup waits (briefly, bounded) for a read when the last one is older than a few seconds, so
 * the first lookups after a quiet spell do not go on an old view. When the store cannot be read, the
 * view is this process's own, as it is without a shared store.
 *
 * What a job stops for is given to the caller: 'daily' (the day's cap is spent, or only the reserve is
 * left and nobody else is active) or 'share' (its owner's part is spent while others are active).
 *
 * Over HTTP each client also has a minute (VT_MCP_CLIENT_RATE): its calls that can reach VirusTotal and
 * its jobs' lookups are counted in it together, so a job is no way around it.
 */
import type { StateStore } from './state/store.js';

export const ACTIVE_MS = 15 * 60_000;
/** A client's activity is written to the shared store at most this often by one process. */
export const ACTIVITY_WRITE_EVERY_MS = 5_000;
/** The shared set of active clients is read at most this often by one process. */
export const ACTIVITY_READ_EVERY_MS = 1_000;
/** Older than this, the shared set last read is not used: a job's lookup waits for a new read. */
const ACTIVITY_STALE_MS = 3_000;
/** A job's lookup waits at most this long for one read: a store slower than that is as good as down. */
const ACTIVITY_READ_WAIT_MS = 1_000;
/** How long a job's lookup is told to wait, meanwhile, before asking again. */
const ACTIVITY_POLL_MS = 10;
/** The shared documents: one per active client (its name after the prefix), expiring with its activity. */
export const ACTIVITY_PREFIX = 'fair-share/active/';
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
  /** Per client: when this process last saw it, and when it last wrote that to the shared store. */
  readonly #seen = new Map<string, { at: number; wrote: number }>();
  readonly #day: () => DayFigures;
  readonly #now: () => number;
  /** Where the processes on the key share which clients are active; undefined: this process alone. */
  readonly #shared: Pick<StateStore, 'docPut' | 'docList'> | undefined;
  /** The clients the shared store held as active at the last read (this process's among them). */
  #remote: ReadonlySet<string> = new Set();
  /** When the last read of the shared set started (it failed or not). */
  #readAt = Number.NEGATIVE_INFINITY;
  /** When the read in flight started; undefined while none is. */
  #readingSince: number | undefined;
  /** Reads started: only the latest one's answer is taken. */
  #reads = 0;

  readonly #reserve: number;
  /** Job lookups admitted and not yet over: counted as spent, so that lookups in flight cannot overshoot. */
  #inFlight = 0;

  /** Each client's minute (the HTTP server counts calls in it, jobs their lookups). */
  readonly rates: CallRates;

  /**
   * `manyClients`: the server has several callers (HTTP with tokens), so a reserve is kept for latecomers.
   * `callsPerMinute`: each client's minute (0: none).
   * `shared`: the key's state store, when other processes may share the key (not a memory store).
   */
  constructor(
    day: () => DayFigures,
    opts: {
      manyClients: boolean;
      callsPerMinute?: number;
      now?: () => number;
      shared?: Pick<StateStore, 'docPut' | 'docList'>;
    },
  ) {
    this.#day = day;
    this.#now = opts.now ?? Date.now;
    this.#reserve = opts.manyClients ? RESERVE_SHARE : 0;
    this.rates = new CallRates(opts.callsPerMinute ?? 0, this.#now);
    this.#shared = opts.shared;
  }

  /** A client made a call, or a job of its own is at work. */
  seen(client: string): void {
    const now = this.#now();
    const wrote = this.#seen.get(client)?.wrote ?? Number.NEGATIVE_INFINITY;
    const entry = { at: now, wrote };
    if (this.#shared && now - wrote >= ACTIVITY_WRITE_EVERY_MS) {
      entry.wrote = now;
      // Kept a write period past the activity: this process's later calls of it are written only then.
      // A write that fails is not tried again before the period is over: the store is down or slow.
      this.#shared
        .docPut(ACTIVITY_PREFIX + client, String(now), ACTIVE_MS + ACTIVITY_WRITE_EVERY_MS, now)
        .catch(() => {});
    }
    this.#seen.set(client, entry);
    // Bounded by the clients of the last quarter of an hour: older ones are forgotten.
    if (this.#seen.size > 256) {
      for (const [c, s] of this.#seen) if (s.at < now - ACTIVE_MS) this.#seen.delete(c);
    }
  }

  /** Clients other than `client` active now, on this process or (as last read) any other on the key. */
  othersActive(client: string): number {
    const now = this.#now();
    const since = now - ACTIVE_MS;
    const remote = this.#sharedView(now);
    let n = 0;
    for (const [c, s] of this.#seen) if (c !== client && s.at >= since) n++;
    for (const c of remote) {
      if (c === client) continue;
      const here = this.#seen.get(c);
      if (here === undefined || here.at < since) n++;
    }
    return n;
  }

  /**
   * The clients the other processes made active, as last read, and a new read when the last is over
   * ACTIVITY_READ_EVERY_MS old (none while one is in flight). Empty without a shared store, while the
   * last read is too old to use, or when it failed: this process's own view is what is left.
   */
  #sharedView(now: number): ReadonlySet<string> {
    const shared = this.#shared;
    if (!shared) return this.#remote;
    // A read that has not come back long after it should have is given up (its answer, if it ever
    // comes, is ignored), so that one lost call does not stop this process from ever reading again.
    const inFlight = this.#readingSince !== undefined && now - this.#readingSince < ACTIVITY_STALE_MS;
    if (!inFlight && now - this.#readAt >= ACTIVITY_READ_EVERY_MS) {
      const read = ++this.#reads;
      this.#readingSince = now;
      const done = (remote: ReadonlySet<string>) => {
        if (read !== this.#reads) return;
        this.#remote = remote;
        this.#readAt = now;
        this.#readingSince = undefined;
      };
      shared.docList(ACTIVITY_PREFIX, now).then(
        (keys) => done(new Set(keys.map((k) => k.slice(ACTIVITY_PREFIX.length)))),
        // The store cannot say: this process's own view decides until it can.
        () => done(new Set()),
      );
    }
    return now - this.#readAt <= ACTIVITY_STALE_MS ? this.#remote : new Set();
  }

  /**
   * The shared set is too old to decide on, and a read of it is under way (started now if need be) for
   * less than ACTIVITY_READ_WAIT_MS: a job waits for it rather than spend on an old view.
   */
  #awaitingView(now: number): boolean {
    if (!this.#shared) return false;
    this.#sharedView(now);
    if (now - this.#readAt <= ACTIVITY_STALE_MS) return false;
    return this.#readingSince !== undefined && now - this.#readingSince < ACTIVITY_READ_WAIT_MS;
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
   * jobLookupDone(), and in its owner's minute), why it pauses, or how many ms to wait (for the minute,
   * or for a read of which clients are active on the other processes).
   */
  admitJob(owner: string): 'ok' | 'daily' | 'share' | number {
    this.seen(owner);
    if (this.#awaitingView(this.#now())) return ACTIVITY_POLL_MS;
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
    // Not on a view too old to use: the runner asks again at its next scan, when the read is in.
    if (this.#awaitingView(this.#now())) return false;
    return this.#dayRefusal(owner) === undefined;
  }

  /** An admitted lookup is over (answered, failed, or never sent): the day's count now has it, or not. */
  jobLookupDone(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }
}
