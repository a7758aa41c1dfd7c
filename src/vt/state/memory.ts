/**
 * The in-process store: the reference semantics of StateStore, for tests, --demo and VT_STATE=memory,
 * and the fallback a ResilientStore answers from while the shared store is unavailable. Nothing is
 * shared with other processes and nothing outlives this one.
 */
import { DAY_MS } from '../../util/time.js';
import { SlotTimes } from './slot-times.js';
import {
  type Acquire,
  type AcquireRequest,
  type CachedBody,
  type CacheStats,
  cacheKeys,
  entryBytes,
  newSlotId,
  refusalOf,
  type StateStore,
  type StoreHealth,
  slotDay,
  slotsToRead,
  type Usage,
  usageOf,
  utcDay,
  type WindowSpec,
  windowMs,
} from './store.js';

interface Entry {
  value: CachedBody;
  keys: string[];
  expiresAt: number;
  size: number;
}

export interface MemoryStoreOptions {
  /** Bound on the cache's entryBytes() total. */
  cacheMaxBytes: number;
  /** Why memory is used when another backend was asked for (shown by health()). */
  reason?: string;
}

export class MemoryStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly location = 'memory';
  readonly #maxBytes: number;
  /** Pending slots, by lease expiry. */
  readonly #pending = new SlotTimes();
  /** Settled slots, by when they leave the window. */
  readonly #settled = new SlotTimes();
  readonly #days = new Map<string, number>();
  #pausedUntil = 0;
  /** Canonical key → entry, in order of storing (oldest first: the eviction order). */
  readonly #entries = new Map<string, Entry>();
  /** Every key (canonical and alias) → canonical key. */
  readonly #keys = new Map<string, string>();
  #bytes = 0;
  readonly #leases = new Map<string, { owner: string; expiresAt: number }>();
  readonly #docs = new Map<string, { value: string; expiresAt: number | undefined }>();
  #closed = false;
  readonly #reason: string | undefined;

  constructor(opts: MemoryStoreOptions) {
    this.#maxBytes = Math.max(0, Math.floor(opts.cacheMaxBytes));
    this.#reason = opts.reason;
  }

  health(): StoreHealth {
    return {
      kind: 'memory',
      location: this.location,
      shared: false,
      ...(this.#reason !== undefined ? { reason: this.#reason } : {}),
    };
  }

  async ping(): Promise<void> {
    this.#check();
  }

  async acquire(a: AcquireRequest): Promise<Acquire> {
    this.#check();
    const { now } = a;
    this.#prune(now);
    const day = utcDay(now);
    const used = this.#days.get(day) ?? 0;
    const live = this.#pending.size + this.#settled.size;
    const refused = refusalOf(a, {
      dayUsed: used,
      pausedUntil: this.#pausedUntil,
      live,
      slots: () => this.#earliest(live, a.window),
    });
    if (refused) return refused;
    const slot = newSlotId(day);
    this.#pending.set(slot, now + Math.max(0, a.leaseMs));
    this.#days.set(day, used + 1);
    return { granted: true, slot, dayUsed: used + 1 };
  }

  async settle(slot: string, answeredAt: number, window?: WindowSpec): Promise<void> {
    this.#check();
    this.#pending.delete(slot);
    if (window) this.#settled.set(slot, answeredAt + windowMs(window));
    else this.#settled.delete(slot);
  }

  async refund(slot: string, now: number): Promise<void> {
    this.#check();
    const had = this.#pending.delete(slot) || this.#settled.delete(slot);
    const day = slotDay(slot);
    if (had && day !== undefined) {
      const n = this.#days.get(day) ?? 0;
      if (n > 0) this.#days.set(day, n - 1);
    }
    this.#prune(now);
  }

  async pause(until: number, _now: number): Promise<void> {
    this.#check();
    this.#pausedUntil = Math.max(this.#pausedUntil, until);
  }

  async usage(now: number, window?: WindowSpec): Promise<Usage> {
    this.#check();
    this.#prune(now);
    const live = this.#pending.size + this.#settled.size;
    return usageOf(now, window, {
      dayUsed: this.#days.get(utcDay(now)) ?? 0,
      pausedUntil: this.#pausedUntil,
      live,
      ...this.#earliest(live, window),
    });
  }

  /**
   * For ResilientStore: records a slot granted by the shared store, without checks, so that this
   * fallback starts from what this process knows when the shared store fails.
   */
  adoptSlot(slot: string, now: number, leaseMs: number, dayUsed: number): void {
    this.#prune(now);
    this.#pending.set(slot, now + Math.max(0, leaseMs));
    const day = slotDay(slot) ?? utcDay(now);
    this.#days.set(day, Math.max(dayUsed, (this.#days.get(day) ?? 0) + 1));
  }

  async cacheGet(key: string, now: number): Promise<CachedBody | undefined> {
    this.#check();
    const canon = this.#keys.get(key);
    if (canon === undefined) return undefined;
    const e = this.#entries.get(canon);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.#drop(canon);
      return undefined;
    }
    return { ...e.value };
  }

  async cacheSet(keys: string[], value: CachedBody, ttlMs: number, now: number): Promise<void> {
    this.#check();
    const ks = cacheKeys(keys);
    const canon = ks[0];
    if (canon === undefined || ttlMs <= 0) return;
    for (const k of ks) {
      const owner = this.#keys.get(k);
      if (owner !== undefined) this.#drop(owner);
    }
    const size = entryBytes(value, ks);
    if (size > this.#maxBytes) return;
    // Expired entries first, then the oldest, until the new one fits.
    for (const [c, e] of this.#entries) if (e.expiresAt <= now) this.#drop(c);
    for (const c of this.#entries.keys()) {
      if (this.#bytes + size <= this.#maxBytes) break;
      this.#drop(c);
    }
    const stored: CachedBody = { body: value.body, fetchedAt: value.fetchedAt };
    if (value.notFound) stored.notFound = true;
    this.#entries.set(canon, { value: stored, keys: ks, expiresAt: now + ttlMs, size });
    for (const k of ks) this.#keys.set(k, canon);
    this.#bytes += size;
  }

  async cacheStats(): Promise<CacheStats> {
    this.#check();
    return { entries: this.#entries.size, bytes: this.#bytes };
  }

  async lease(key: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    this.#check();
    const cur = this.#leases.get(key);
    if (cur && cur.expiresAt > now && cur.owner !== owner) return false;
    this.#leases.set(key, { owner, expiresAt: now + ttlMs });
    if (this.#leases.size > 1024) {
      for (const [k, l] of this.#leases) if (l.expiresAt <= now) this.#leases.delete(k);
    }
    return true;
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    this.#check();
    if (this.#leases.get(key)?.owner === owner) this.#leases.delete(key);
  }

  async docPut(key: string, value: string, ttlMs: number | undefined, now: number): Promise<void> {
    this.#check();
    this.#docs.set(key, { value, expiresAt: ttlMs === undefined ? undefined : now + ttlMs });
  }

  async docGet(key: string, now: number): Promise<string | undefined> {
    this.#check();
    const d = this.#docs.get(key);
    if (!d) return undefined;
    if (d.expiresAt !== undefined && d.expiresAt <= now) {
      this.#docs.delete(key);
      return undefined;
    }
    return d.value;
  }

  async docDelete(key: string): Promise<void> {
    this.#check();
    this.#docs.delete(key);
  }

  async docList(prefix: string, now: number): Promise<string[]> {
    this.#check();
    const out: string[] = [];
    for (const [k, d] of this.#docs) {
      if (d.expiresAt !== undefined && d.expiresAt <= now) {
        this.#docs.delete(k);
        continue;
      }
      if (k.startsWith(prefix)) out.push(k);
    }
    return out.sort(byCodeUnits);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #check(): void {
    if (this.#closed) throw new Error('state store closed');
  }

  #earliest(live: number, window: WindowSpec | undefined): { settled: number[]; pending: number[] } {
    const n = slotsToRead(live, window);
    return { settled: this.#settled.earliest(n), pending: this.#pending.earliest(n) };
  }

  #prune(now: number): void {
    this.#pending.dropUntil(now);
    this.#settled.dropUntil(now);
    if (this.#days.size > 3) {
      const today = utcDay(now);
      const yesterday = utcDay(now - DAY_MS);
      for (const d of this.#days.keys()) if (d !== today && d !== yesterday) this.#days.delete(d);
    }
  }

  #drop(canon: string): void {
    const e = this.#entries.get(canon);
    if (!e) return;
    this.#entries.delete(canon);
    this.#bytes -= e.size;
    for (const k of e.keys) if (this.#keys.get(k) === canon) this.#keys.delete(k);
  }
}

/** Sorted as SQLite's BINARY collation and Redis sort them for ASCII keys. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
