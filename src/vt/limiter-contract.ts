/**
 * What the limiter (limiter.ts) is given and gives: its options, the key's shared accounting it asks,
 * what a waiting request may say and is told, and its figures.
 */
import type { StateStore } from './state/store.js';

/**
 * What the limiter asks of the key's state store: the window's slots, the day's count and VirusTotal's
 * pause, shared with every other process on the key unless it is memory. The queue, its order and its
 * ETAs stay in the limiter.
 */
export type Accounting = Pick<StateStore, 'kind' | 'acquire' | 'settle' | 'refund' | 'pause' | 'usage'>;

export interface LimiterOptions {
  /** Requests per window; undefined for no window. */
  window?: { requests: number; seconds: number };
  /** Upstream requests per UTC day; undefined for no cap. */
  dailyQuota?: number;
  maxConcurrency: number;
  /** A waiter whose expected wait exceeds this is refused at once rather than left hanging. */
  maxWaitMs: number;
  now?: () => number;
  /**
   * The key's state store, which counts every request the limiter lets go; a MemoryStore of the
   * limiter's own when not given (the counts are then this limiter's).
   */
  store?: Accounting;
  /**
   * How long a granted slot holds its place in the window if its process dies before the answer (or
   * the answer never comes); longer than a request may take. 60 s when not given.
   */
  leaseMs?: number;
  /** Told when the store fails a call (a request it could not count is let go uncounted). */
  onStoreError?: (err: unknown) => void;
}

export interface WaitInfo {
  /** 1 = next in line. */
  position: number;
  /** Expected wait in ms before this request is sent. */
  etaMs: number;
}

export interface AcquireOptions {
  signal?: AbortSignal | undefined;
  onWait?: ((w: WaitInfo) => void) | undefined;
  /** Retries go to the front of the line: they were already waited for once. */
  front?: boolean;
  /** A point in time (ms since epoch) after which the request must not be sent, e.g. the end of a batch. */
  deadline?: number;
  /**
   * Who the request is for (a client of a shared server, or a job's owner): the line is shared fairly
   * between clients, so that one client's thousand queued lookups do not hold another's back.
   */
  client?: string;
}

export interface LimiterStats {
  window?: { requests: number; seconds: number; used: number; next_slot_in_ms: number };
  daily?: { quota: number; used: number; resets_at: string };
  day_used: number;
  queued: number;
  in_flight: number;
  max_concurrency: number;
  paused_until?: string;
}

/** Sizes of the limiter's own structures, for tests: none of them may grow with requests served. */
export interface LimiterInternals {
  /** Completion times kept for the window (at most the window's request count; 0 with no window). */
  window_times: number;
  /** Requests granted whose answer has not come back. */
  open: number;
  /** Waiters for the window. */
  waiters: number;
}
