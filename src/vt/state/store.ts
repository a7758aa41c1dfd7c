/**
 * The shared state of one VirusTotal key: what VirusTotal's accounting needs shared between every
 * process on the key (the sliding window's slots, the day's count, a 429 pause), the response cache,
 * leases (in-flight claims, job ownership) and small documents (batch jobs). Backends: memory (the
 * reference semantics, one process), sqlite (one file shared by the processes of one machine) and
 * redis (shared by machines). A store instance is opened for one keyspace (a hash of the API key);
 * nothing stored names the key or lets it be read back, and two keyspaces never share anything.
 *
 * Every time is passed in (ms since epoch): the logic uses the caller's `now`, so tests can use fake
 * clocks. Backends may also set real expiries (Redis PX) as a safety net.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DAY_MS, nextUtcMidnight } from '../../util/time.js';

export type BackendKind = 'memory' | 'sqlite' | 'redis';

export interface WindowSpec {
  requests: number;
  seconds: number;
}

export type Acquire =
  | {
      granted: true;
      /** Pass it to settle() or refund(). Opaque; it encodes the UTC day it was counted against. */
      slot: string;
      /** Today's count (UTC) across every process, this request included. */
      dayUsed: number;
    }
  | {
      granted: false;
      reason: 'window' | 'daily' | 'paused';
      /** ms epoch: best estimate of when to try again (see acquire()). */
      retryAt: number;
    };

export interface Usage {
  /** Live slots (pending and settled) in the window, across every process. */
  windowUsed: number;
  /** When the window is full (with `window` given): the estimated time a slot frees. */
  nextFreeAt?: number;
  dayUsed: number;
  /** YYYY-MM-DD, UTC. */
  day: string;
  /** Present while a pause is in force. */
  pausedUntil?: number;
  /**
   * With `window` given: when the live slots are estimated to leave the window, earliest first, at most
   * FREES_LISTED of them (see windowFrees). The limiter's estimates of a waiting line start from it.
   */
  frees?: number[];
}

export interface CachedBody {
  /** JSON text as received ('' for a not-found entry is fine). */
  body: string;
  fetchedAt: number;
  notFound?: boolean;
}

export interface CacheStats {
  entries: number;
  bytes: number;
}

/** What vt_quota and the logs say about the store. */
export interface StoreHealth {
  kind: BackendKind;
  /** A file path or redis(s)://host:port/db, never a password. */
  location: string;
  /** False for memory: counts are this process's only. */
  shared: boolean;
  /**
   * Since when this process's memory answers instead of the store VT_STATE names: while a ResilientStore
   * waits for its store to answer again, or for good after the store could not be opened at start.
   */
  degradedSince?: number;
  /** Why it is degraded (or why the requested backend could not be opened). */
  reason?: string;
}

export interface AcquireRequest {
  now: number;
  window?: WindowSpec;
  dailyQuota?: number;
  /** A pending slot holds its place until settled or until now + leaseMs (a dead process frees it so). */
  leaseMs: number;
}

export interface StateStore {
  readonly kind: BackendKind;
  /** Where it lives, for vt_quota and logs (a file path or redis host:port/db; never a password). */
  readonly location: string;
  /**
   * Atomically, in this order: refused ('daily', retryAt = next 00:00 UTC) if `dailyQuota` is given
   * and today's count >= quota; refused ('paused', retryAt = the pause's end) while paused; refused
   * ('window') if `window` is given and live slots >= window.requests, retryAt = when the k-th slot is
   * estimated to free (k = live - requests + 1): a settled slot at its recorded time, a pending one
   * at min(its lease expiry, now + window). Otherwise records a pending slot (until settled or
   * now + leaseMs) and increments today's count.
   */
  acquire(a: AcquireRequest): Promise<Acquire>;
  /**
   * VirusTotal answered at answeredAt: the slot now frees at answeredAt + window (recorded even if its
   * lease had expired, since VirusTotal counted it). Without a window the slot is simply removed.
   */
  settle(slot: string, answeredAt: number, window?: WindowSpec): Promise<void>;
  /** The request never reached VirusTotal: frees the slot and gives back its day's count (once). */
  refund(slot: string, now: number): Promise<void>;
  /** A 429 pause every process honours: paused until max(current, until). */
  pause(until: number, now: number): Promise<void>;
  usage(now: number, window?: WindowSpec): Promise<Usage>;
  /** One entry per object under all its ids; undefined when missing or expired at `now`. */
  cacheGet(key: string, now: number): Promise<CachedBody | undefined>;
  /**
   * Files `value` under keys[0] (canonical) and every alias in keys[1..], expiring at now + ttlMs.
   * An older entry under any of these keys is replaced whole. The backend keeps the total size
   * (entryBytes) within its bound by evicting the oldest-stored entries; an entry larger than the
   * whole bound is not stored.
   */
  cacheSet(keys: string[], value: CachedBody, ttlMs: number, now: number): Promise<void>;
  cacheStats(): Promise<CacheStats>;
  /** Granted if free, expired at `now`, or already held by `owner` (then renewed to now + ttlMs). */
  lease(key: string, owner: string, ttlMs: number, now: number): Promise<boolean>;
  /** Frees the lease if `owner` holds it; otherwise does nothing. */
  releaseLease(key: string, owner: string): Promise<void>;
  /** Small documents; ttlMs undefined = no expiry. */
  docPut(key: string, value: string, ttlMs: number | undefined, now: number): Promise<void>;
  docGet(key: string, now: number): Promise<string | undefined>;
  docDelete(key: string): Promise<void>;
  /** Keys (not values) of the live documents whose key starts with `prefix`, sorted. */
  docList(prefix: string, now: number): Promise<string[]>;
  /** Resolves when the backend answers and can be written (Redis: PING; SQLite: takes the write lock). */
  ping(): Promise<void>;
  health(): StoreHealth;
  close(): Promise<void>;
}

const KEYSPACE_DOMAIN = 'vtbrief-state-v1\0';

/**
 * The name under which a key's state is stored: 32 hex characters of a domain-separated SHA-256.
 * A VirusTotal key has 256 bits of entropy, so the hash cannot be turned back into the key.
 */
export function keyspace(apiKey: string): string {
  return createHash('sha256')
    .update(KEYSPACE_DOMAIN + apiKey)
    .digest('hex')
    .slice(0, 32);
}

/** YYYY-MM-DD (UTC) of a time. */
export function utcDay(now: number): string {
  return new Date(Math.floor(now / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

export function windowMs(w: WindowSpec): number {
  return w.seconds * 1000;
}

/** A fresh slot id; it carries the day it was counted against, so a refund gives back that day's count. */
export function newSlotId(day: string): string {
  return `${day}.${randomBytes(8).toString('hex')}`;
}

/** The UTC day a slot was counted against (undefined for an id that is not ours). */
export function slotDay(slot: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})\./.exec(slot);
  return m?.[1];
}

/**
 * When each live slot is estimated to leave the window, earliest first: a settled slot at its recorded
 * time; a pending one at min(its lease expiry, now + window) at the earliest (its answer cannot come
 * back before now).
 */
export function windowFrees(
  now: number,
  w: WindowSpec,
  settled: readonly number[],
  pendingExpiries: readonly number[],
): number[] {
  const wm = windowMs(w);
  return [...settled, ...pendingExpiries.map((e) => Math.min(e, now + wm))].sort((a, b) => a - b);
}

/**
 * When the window is full: the estimated time the k-th slot frees (k = live - requests + 1).
 * Undefined while a slot is free. `settled` and `pendingExpiries` need not be all the live slots: the
 * earliest slotsToRead(live, w) of all must be among them (LiveSlots), and so the k-th is.
 */
export function windowRetryAt(
  now: number,
  w: WindowSpec,
  live: number,
  settled: readonly number[],
  pendingExpiries: readonly number[],
): number | undefined {
  if (live < w.requests) return undefined;
  const est = windowFrees(now, w, settled, pendingExpiries);
  const k = Math.max(0, live - Math.max(1, w.requests));
  return Math.max(now, est[Math.min(k, est.length - 1)] ?? now);
}

/** Free times a Usage lists at most: the limiter replays no more places of its line one by one. */
export const FREES_LISTED = 64;

/**
 * How many of the earliest live slots of each kind (settled, pending) a backend reads so that the
 * rule and the figures come out exact: the FREES_LISTED a Usage lists, or, when the window is over-full,
 * as far as the slot whose freeing opens it. None without a window. A backend counts its live slots
 * and reads only these, so the cost of a call does not grow with the slots a large window holds.
 */
export function slotsToRead(live: number, w: WindowSpec | undefined): number {
  if (!w) return 0;
  return Math.max(FREES_LISTED, live - Math.max(1, w.requests) + 1);
}

/**
 * What a backend read of its live slots (expired ones dropped): how many, and the times of the earliest
 * slotsToRead(live, window) of them at least, each kind apart (memory and Redis read that many of each
 * kind; SQLite that many of both, in the order of their stored times, which is the estimates' order).
 */
export interface LiveSlots {
  live: number;
  /** Settled slots' free times. */
  settled: readonly number[];
  /** Pending slots' lease expiries. */
  pending: readonly number[];
}

/** The store's figures, the same from every backend. */
export function usageOf(
  now: number,
  window: WindowSpec | undefined,
  f: { dayUsed: number; pausedUntil: number } & LiveSlots,
): Usage {
  const nextFreeAt = window ? windowRetryAt(now, window, f.live, f.settled, f.pending) : undefined;
  return {
    windowUsed: f.live,
    ...(nextFreeAt !== undefined ? { nextFreeAt } : {}),
    dayUsed: f.dayUsed,
    day: utcDay(now),
    ...(f.pausedUntil > now ? { pausedUntil: f.pausedUntil } : {}),
    ...(window ? { frees: windowFrees(now, window, f.settled, f.pending).slice(0, FREES_LISTED) } : {}),
  };
}

/** What a backend read of the key's allowance, expired slots dropped, for refusalOf. */
export interface AllowanceFacts {
  /** Today's count (UTC). */
  dayUsed: number;
  /** 0 when there is no pause. */
  pausedUntil: number;
  /** Live slots, pending and settled. */
  live: number;
  /** The earliest of them (read only when the window is full), as LiveSlots holds them. */
  slots: () => { settled: readonly number[]; pending: readonly number[] };
}

/**
 * The key's allowance, decided once for every backend that decides in this process (memory, SQLite;
 * Redis's ACQUIRE script is this rule written in Lua, so that one round trip decides atomically across
 * machines, and the contract suite holds the two to the same answers). In this order: the day's cap
 * (retry at the next 00:00 UTC), VirusTotal's pause (retry at its end), the window (retry when the
 * k-th slot frees). Undefined: grant it.
 */
export function refusalOf(
  a: AcquireRequest,
  f: AllowanceFacts,
): Extract<Acquire, { granted: false }> | undefined {
  const { now } = a;
  if (a.dailyQuota !== undefined && f.dayUsed >= a.dailyQuota) {
    return { granted: false, reason: 'daily', retryAt: nextUtcMidnight(now) };
  }
  if (f.pausedUntil > now) return { granted: false, reason: 'paused', retryAt: f.pausedUntil };
  if (a.window && f.live >= a.window.requests) {
    const { settled, pending } = f.slots();
    const retryAt = windowRetryAt(now, a.window, f.live, settled, pending);
    if (retryAt !== undefined) return { granted: false, reason: 'window', retryAt };
  }
  return undefined;
}

/**
 * What an entry counts against the cache's bound: its body as stored (the text, or what a store that
 * compresses keeps: `storedBodyBytes`) and its keys, in bytes.
 */
export function entryBytes(value: CachedBody, keys: readonly string[], storedBodyBytes?: number): number {
  let n = storedBodyBytes ?? Buffer.byteLength(value.body, 'utf8');
  for (const k of keys) n += Buffer.byteLength(k, 'utf8');
  return n;
}

/** The keys to file an entry under: canonical first, no duplicates, no empty strings. */
export function cacheKeys(keys: readonly string[]): string[] {
  return [...new Set(keys.filter((k) => k.length > 0))];
}

/** The store could not be opened; `reason` is fit for a log line and for vt_quota. */
export class StateUnavailableError extends Error {
  readonly reason: string;
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'StateUnavailableError';
    this.reason = reason;
  }
}

/** A short, single-line description of an error for logs, without stack. */
export function describeError(err: unknown): string {
  const msg =
    err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return msg.replace(/\s+/g, ' ').slice(0, 300);
}
