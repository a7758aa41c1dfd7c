/**
 * Keeps the server answering when the shared store fails (Redis down, the SQLite file locked,
 * corrupt or read-only): every call to the shared store has a time limit (one that a stall of this
 * process does not trip: util/deadline.ts); the first failure switches
 * to an in-memory store, logs once and records since when; the shared store is probed in the
 * background (and when a call comes after the probe interval, or when Redis reports its connection
 * back: open.ts) and used again once it answers.
 *
 * While degraded, accounting is this process's alone: other processes on the key are not counted,
 * so the key's window and daily cap can be overrun by them (each process still keeps its own within
 * the limits). To start from what this process knows, the fallback mirrors the slots this process
 * was granted by the shared store, the last day count it saw, and every pause. What is written while
 * degraded (cache entries, slots, leases) stays in this process and is not carried back; documents
 * written meanwhile stay readable (looked up in the fallback when the shared store has none).
 * Settles and refunds of shared-store slots that fail are queued (bounded) and replayed on return.
 *
 * node:sqlite is synchronous: its calls cannot be cut short by the time limit; its busy timeout
 * bounds them instead.
 */
import { withinDeadline } from '../../util/deadline.js';
import { CauseLog } from './cause-log.js';
import { MemoryStore } from './memory.js';
import {
  type Acquire,
  type AcquireRequest,
  type CachedBody,
  type CacheStats,
  describeError,
  type StateStore,
  type StoreHealth,
  type Usage,
  type WindowSpec,
} from './store.js';

export interface ResilientOptions {
  /** Used while the primary is unavailable; a MemoryStore of cacheMaxBytes by default. */
  fallback?: StateStore;
  cacheMaxBytes: number;
  /** Time limit of each primary call (ms). Default 1000. */
  timeoutMs?: number;
  /** How often the primary is probed while degraded (ms). Default 5000. */
  probeEveryMs?: number;
  log?: (msg: string) => void;
  /** Wall clock for degradedSince and probe spacing. Default Date.now. */
  clock?: () => number;
  /**
   * Start degraded, with this reason (e.g. Redis was not reachable at start). Not logged here: the
   * opener reports it in its start line.
   */
  initialFailure?: string;
}

const PRIMARY = 'p:';
const FALLBACK = 'm:';
const MAX_REPLAY = 512;

type Replay = (s: StateStore) => Promise<void>;

export class ResilientStore implements StateStore {
  readonly kind: StateStore['kind'];
  readonly location: string;
  readonly #primary: StateStore;
  readonly #fallback: StateStore;
  readonly #timeoutMs: number;
  readonly #probeEveryMs: number;
  readonly #log: (msg: string) => void;
  readonly #clock: () => number;
  #degradedSince: number | undefined;
  #reason: string | undefined;
  #lastProbe = 0;
  #probing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #replay: Replay[] = [];
  #fallbackDocs = false;
  /** The outages logged, by cause (one line per cause per period). */
  readonly #told = new CauseLog();
  /** The current outage was logged (so its end is too). */
  #outageLogged = false;
  #closed = false;

  constructor(primary: StateStore, opts: ResilientOptions) {
    this.#primary = primary;
    this.kind = primary.kind;
    this.location = primary.location;
    this.#fallback = opts.fallback ?? new MemoryStore({ cacheMaxBytes: opts.cacheMaxBytes });
    this.#timeoutMs = opts.timeoutMs ?? 1000;
    this.#probeEveryMs = opts.probeEveryMs ?? 5000;
    this.#log = opts.log ?? (() => {});
    this.#clock = opts.clock ?? Date.now;
    if (opts.initialFailure !== undefined) this.#degrade(opts.initialFailure, { quiet: true });
  }

  /** When the store switched to its in-memory fallback (wall clock ms); undefined while healthy. */
  get degradedSince(): number | undefined {
    return this.#degradedSince;
  }

  /** Why it is degraded; undefined while healthy. */
  get degradedReason(): string | undefined {
    return this.#degradedSince === undefined ? undefined : this.#reason;
  }

  health(): StoreHealth {
    const h = this.#primary.health();
    const out: StoreHealth = { kind: h.kind, location: h.location, shared: h.shared };
    if (this.#degradedSince !== undefined) {
      out.degradedSince = this.#degradedSince;
      if (this.#reason !== undefined) out.reason = this.#reason;
    }
    return out;
  }

  /** Probes the primary now (tests and vt_quota may call it); resolves when the probe is done. */
  probe(): Promise<void> {
    if (this.#degradedSince === undefined || this.#closed) return Promise.resolve();
    if (this.#probing) return this.#probing;
    this.#lastProbe = this.#clock();
    // One probe at a time, until its recovery (replays included) is done.
    this.#probing = (async () => {
      try {
        await withinDeadline(
          callSafely((s) => s.ping(), this.#primary),
          this.#timeoutMs,
        );
      } catch (err) {
        this.#reason = this.#why(err);
        return;
      }
      await this.#recover();
    })().finally(() => {
      this.#probing = undefined;
    });
    return this.#probing;
  }

  async ping(): Promise<void> {
    await this.#run(
      (s) => s.ping(),
      (s) => s.ping(),
    );
  }

  async acquire(a: AcquireRequest): Promise<Acquire> {
    const { value, primary } = await this.#run2(
      (s) => s.acquire(a),
      (s) => s.acquire(a),
    );
    if (!value.granted) return value;
    if (primary && this.#fallback instanceof MemoryStore) {
      this.#fallback.adoptSlot(value.slot, a.now, a.leaseMs, value.dayUsed);
    }
    return { ...value, slot: (primary ? PRIMARY : FALLBACK) + value.slot };
  }

  async settle(slot: string, answeredAt: number, window?: WindowSpec): Promise<void> {
    const { id, primary } = parseSlot(slot);
    await this.#fallback.settle(id, answeredAt, window);
    if (primary) await this.#onPrimaryOrQueue((s) => s.settle(id, answeredAt, window));
  }

  async refund(slot: string, now: number): Promise<void> {
    const { id, primary } = parseSlot(slot);
    await this.#fallback.refund(id, now);
    if (primary) await this.#onPrimaryOrQueue((s) => s.refund(id, now));
  }

  async pause(until: number, now: number): Promise<void> {
    await this.#fallback.pause(until, now);
    await this.#run(
      (s) => s.pause(until, now),
      async () => {},
    );
  }

  usage(now: number, window?: WindowSpec): Promise<Usage> {
    return this.#run(
      (s) => s.usage(now, window),
      (s) => s.usage(now, window),
    );
  }

  cacheGet(key: string, now: number): Promise<CachedBody | undefined> {
    return this.#run(
      (s) => s.cacheGet(key, now),
      (s) => s.cacheGet(key, now),
    );
  }

  cacheSet(keys: string[], value: CachedBody, ttlMs: number, now: number): Promise<void> {
    return this.#run(
      (s) => s.cacheSet(keys, value, ttlMs, now),
      (s) => s.cacheSet(keys, value, ttlMs, now),
    );
  }

  cacheStats(): Promise<CacheStats> {
    return this.#run(
      (s) => s.cacheStats(),
      (s) => s.cacheStats(),
    );
  }

  lease(key: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    return this.#run(
      (s) => s.lease(key, owner, ttlMs, now),
      (s) => s.lease(key, owner, ttlMs, now),
    );
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    await this.#fallback.releaseLease(key, owner);
    await this.#run(
      (s) => s.releaseLease(key, owner),
      async () => {},
    );
  }

  async docPut(key: string, value: string, ttlMs: number | undefined, now: number): Promise<void> {
    const { primary } = await this.#run2(
      (s) => s.docPut(key, value, ttlMs, now),
      (s) => s.docPut(key, value, ttlMs, now),
    );
    if (!primary) this.#fallbackDocs = true;
    else if (this.#fallbackDocs) await this.#fallback.docDelete(key);
  }

  async docGet(key: string, now: number): Promise<string | undefined> {
    const { value, primary } = await this.#run2(
      (s) => s.docGet(key, now),
      (s) => s.docGet(key, now),
    );
    if (value !== undefined || !primary || !this.#fallbackDocs) return value;
    return this.#fallback.docGet(key, now);
  }

  async docDelete(key: string): Promise<void> {
    if (this.#fallbackDocs) await this.#fallback.docDelete(key);
    await this.#run(
      (s) => s.docDelete(key),
      (s) => s.docDelete(key),
    );
  }

  async docList(prefix: string, now: number): Promise<string[]> {
    const { value, primary } = await this.#run2(
      (s) => s.docList(prefix, now),
      (s) => s.docList(prefix, now),
    );
    if (!primary || !this.#fallbackDocs) return value;
    const more = await this.#fallback.docList(prefix, now);
    return [...new Set([...value, ...more])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stopTimer();
    await Promise.allSettled([this.#primary.close(), this.#fallback.close()]);
  }

  async #run<T>(
    onPrimary: (s: StateStore) => Promise<T>,
    onFallback: (s: StateStore) => Promise<T>,
  ): Promise<T> {
    return (await this.#run2(onPrimary, onFallback)).value;
  }

  /** The primary's answer within the time limit, else the fallback's (and the store is degraded). */
  async #run2<T>(
    onPrimary: (s: StateStore) => Promise<T>,
    onFallback: (s: StateStore) => Promise<T>,
  ): Promise<{ value: T; primary: boolean }> {
    if (this.#degradedSince !== undefined) {
      if (this.#clock() - this.#lastProbe >= this.#probeEveryMs) void this.probe();
      return { value: await onFallback(this.#fallback), primary: false };
    }
    try {
      return {
        value: await withinDeadline(callSafely(onPrimary, this.#primary), this.#timeoutMs),
        primary: true,
      };
    } catch (err) {
      this.#degrade(this.#why(err));
      return { value: await onFallback(this.#fallback), primary: false };
    }
  }

  /** A settle or refund of a primary slot: done now, or replayed when the primary is back. */
  async #onPrimaryOrQueue(op: Replay): Promise<void> {
    if (this.#degradedSince === undefined) {
      try {
        await withinDeadline(callSafely(op, this.#primary), this.#timeoutMs);
        return;
      } catch (err) {
        this.#degrade(this.#why(err));
      }
    }
    if (this.#replay.length >= MAX_REPLAY) this.#replay.shift();
    this.#replay.push(op);
  }

  /**
   * Why a call failed: the primary's own account when it has one (Redis: the connection's last error,
   * such as "connect ECONNREFUSED", where the call only says "The client is offline"), else the error.
   */
  #why(err: unknown): string {
    try {
      const own = this.#primary.health().reason;
      if (own) return own;
    } catch {
      // The call's own error, then.
    }
    return describeError(err);
  }

  #degrade(reason: string, opts: { quiet?: boolean } = {}): void {
    if (this.#closed) return;
    this.#reason = reason;
    if (this.#degradedSince !== undefined) return;
    this.#degradedSince = this.#clock();
    this.#lastProbe = this.#degradedSince;
    this.#outageLogged = false;
    if (!opts.quiet) {
      // One line per cause per period: a store that fails and answers again every few seconds (a full
      // disk) would otherwise fill the log with the same two lines.
      const again = this.#told.tell(reason, this.#degradedSince);
      if (again !== undefined) {
        this.#log(
          `shared state (${this.kind} at ${this.location}) unavailable: ${reason}${again}. ` +
            "Answering from this process's memory until the store is back; meanwhile limits count this process only.",
        );
        this.#outageLogged = true;
      }
    }
    this.#stopTimer();
    this.#timer = setInterval(() => void this.probe(), this.#probeEveryMs);
    this.#timer.unref?.();
  }

  async #recover(): Promise<void> {
    const queued = this.#replay;
    this.#replay = [];
    for (const op of queued) {
      try {
        await withinDeadline(callSafely(op, this.#primary), this.#timeoutMs);
      } catch {
        // Best effort: a slot not settled frees by its lease.
      }
    }
    if (this.#degradedSince === undefined) return;
    const since = this.#degradedSince;
    this.#degradedSince = undefined;
    this.#reason = undefined;
    this.#stopTimer();
    if (!this.#outageLogged) return;
    this.#log(
      `shared state (${this.kind} at ${this.location}) answers again after ${Math.round((this.#clock() - since) / 1000)} s; shared accounting resumed.`,
    );
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** A call that throws synchronously becomes a rejected promise. */
function callSafely<T>(fn: (s: StateStore) => Promise<T>, s: StateStore): Promise<T> {
  try {
    return fn(s);
  } catch (err) {
    return Promise.reject(err);
  }
}

function parseSlot(slot: string): { id: string; primary: boolean } {
  if (slot.startsWith(FALLBACK)) return { id: slot.slice(FALLBACK.length), primary: false };
  if (slot.startsWith(PRIMARY)) return { id: slot.slice(PRIMARY.length), primary: true };
  return { id: slot, primary: true };
}
