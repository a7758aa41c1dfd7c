/**
 * The SQLite store itself (opened by openSqliteStore in sqlite.ts, which describes the file; its
 * layout is in sqlite-schema.ts).
 *
 * Writes that need no answer (settle, refund, pause, a cache entry, releasing a lease, documents) are
 * queued and committed together in one transaction on the next turn of the event loop, or with the next
 * call that needs the file (which then runs in that same transaction): an upstream answer's settle,
 * cache entry and lease release are one commit, not three. A queued write's promise resolves when it is
 * committed, and every call sees the writes queued before it.
 *
 * A cache entry's body is compressed in the thread pool (packBodyAsync) while its write waits in the
 * queue, in its place: every call that touches the file first waits for the bodies being compressed,
 * so order and "sees the writes queued before it" hold as for any other write.
 */

import type { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { field } from '../../util/json.js';
import { DAY_MS } from '../../util/time.js';
import { type PackedBody, packBodyAsync, unpackBody } from './packed-body.js';
import { OPEN_FILES } from './safe-file.js';
import type { SqliteStoreOptions } from './sqlite.js';
import { column, int, keyDigest, prepare, type Statements, text } from './sqlite-schema.js';
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

/** Expired rows one write prunes, at most. */
const PRUNE_BATCH = 64;

/** Another connection holds the lock SQLite needs (SQLITE_BUSY, and its extended codes). */
function isBusy(err: unknown): boolean {
  const code = field(err, 'errcode');
  return typeof code === 'number' && (code & 0xff) === 5;
}

/** Runs fn in an IMMEDIATE transaction: the write lock is taken first, so reads and writes agree. */
export function immediate<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  let out: T;
  try {
    out = fn();
  } catch (err) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // SQLite already rolled back (an I/O error or a full disk does).
    }
    throw err;
  }
  db.exec('COMMIT');
  return out;
}

interface Queued {
  write: () => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class SqliteStore implements StateStore {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly #db: DatabaseSync;
  readonly #ks: string;
  /** The keyspace's number in the file, which the cache's tables hold instead of its text. */
  readonly #cacheKs: number;
  readonly #maxBytes: number;
  /** How long a call waits, in all, for another process's lock. */
  readonly #busyMs: number;
  readonly #s: Statements;
  #queued: Queued[] = [];
  /** Bodies being compressed for queued cache writes. */
  readonly #packing = new Set<Promise<unknown>>();
  #flush: NodeJS.Immediate | undefined;
  #open = true;
  #transactions = 0;

  readonly #fileId: string | undefined;

  /**
   * cacheKs: the keyspace's number in the file (keyspaceId); fileId: the file's dev:ino, counted in
   * OPEN_FILES while this store is open.
   */
  constructor(db: DatabaseSync, opts: SqliteStoreOptions, cacheKs: number, fileId?: string) {
    this.#db = db;
    this.#ks = opts.keyspace;
    this.#cacheKs = cacheKs;
    this.location = opts.path;
    this.#maxBytes = Math.max(0, Math.floor(opts.cacheMaxBytes));
    this.#busyMs = Math.max(0, Math.floor(opts.busyTimeoutMs ?? 2000));
    this.#s = prepare(db);
    this.#fileId = fileId;
    if (fileId !== undefined) OPEN_FILES.set(fileId, (OPEN_FILES.get(fileId) ?? 0) + 1);
  }

  /** Write transactions committed (or tried) by this instance: what a request costs the file. */
  get transactions(): number {
    return this.#transactions;
  }

  /**
   * Runs fn in one IMMEDIATE transaction together with every write queued so far (first, in order);
   * their promises settle with the commit.
   */
  #now<T>(fn: () => T): T {
    const batch = this.#queued;
    this.#queued = [];
    if (this.#flush !== undefined) {
      clearImmediate(this.#flush);
      this.#flush = undefined;
    }
    let out: T;
    this.#transactions++;
    try {
      out = immediate(this.#db, () => {
        for (const q of batch) q.write();
        return fn();
      });
    } catch (err) {
      // Locked by another process: the writes wait for the next attempt, in their order.
      if (isBusy(err) && this.#open) this.#queued = [...batch, ...this.#queued];
      else for (const q of batch) q.reject(err);
      throw err;
    }
    for (const q of batch) q.resolve();
    return out;
  }

  /**
   * Runs fn, and while another process holds the lock, again after a pause, without blocking the event
   * loop meanwhile, until the busy timeout has passed.
   */
  async #retry<T>(fn: () => T): Promise<T> {
    const until = Date.now() + this.#busyMs;
    for (let pause = 5; ; pause = Math.min(100, pause * 2)) {
      // No await between this check and fn(): nothing can queue another body meanwhile.
      while (this.#packing.size > 0) await Promise.allSettled([...this.#packing]);
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err) || Date.now() + pause > until) throw err;
      }
      await sleep(pause + Math.random() * pause);
    }
  }

  /** Queues a write for the next commit (see the top of the file). */
  #later(write: () => void): Promise<void> {
    if (!this.#open) return Promise.reject(new Error('the state store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ write, resolve, reject });
      this.#flush ??= setImmediate(() => {
        this.#flush = undefined;
        // The queue may have been committed meanwhile, by a call that waited for the same bodies.
        this.#retry(() => (this.#queued.length > 0 ? this.#now(() => undefined) : undefined)).catch(
          (err: unknown) => {
            // Given up (or the file failed otherwise): what is still queued is told why.
            for (const q of this.#queued.splice(0)) q.reject(err);
          },
        );
      });
    });
  }

  /** A read sees the writes queued before it: they are committed first when there are any. */
  #read<T>(fn: () => T): T {
    return this.#queued.length > 0 ? this.#now(fn) : fn();
  }

  /**
   * The earliest live slots' times (settled: when they free; pending: their lease expiry), as many as
   * slotsToRead says; expired rows are left out.
   */
  #slotTimes(
    now: number,
    live: number,
    window: WindowSpec | undefined,
  ): { settled: number[]; pending: number[] } {
    const settled: number[] = [];
    const pending: number[] = [];
    const n = slotsToRead(live, window);
    if (n === 0) return { settled, pending };
    for (const r of this.#s.earliestSlots.all(this.#ks, now, n)) {
      (int(r.pending, 'a slot') !== 0 ? pending : settled).push(int(r.expires_at, 'a slot'));
    }
    return { settled, pending };
  }

  /** The keyspace's slot rows, expired ones included until pruned (slot_counts). */
  #slotRows(): number {
    const v = column(this.#s.slotCount.get(this.#ks));
    return v === undefined ? 0 : Math.max(0, int(v, 'the slot count'));
  }

  #dayUsed(day: string): number {
    const v = column(this.#s.dayUsed.get(this.#ks, day));
    return v === undefined ? 0 : int(v, "the day's count");
  }

  #pausedUntil(): number {
    const v = column(this.#s.pausedUntil.get(this.#ks));
    return v === undefined ? 0 : int(v, 'the pause');
  }

  health(): StoreHealth {
    return { kind: 'sqlite', location: this.location, shared: true };
  }

  /** Takes the write lock and writes a page: a file that became read-only, locked or corrupt fails it. */
  async ping(): Promise<void> {
    await this.#retry(() => this.#now(() => this.#s.ping.run()));
  }

  async acquire(a: AcquireRequest): Promise<Acquire> {
    const s = this.#s;
    const ks = this.#ks;
    return this.#retry(
      (): Acquire =>
        this.#now((): Acquire => {
          const { now } = a;
          const day = utcDay(now);
          const used = this.#dayUsed(day);
          s.pruneSlots.run(ks, now);
          const live = this.#slotRows();
          const refused = refusalOf(a, {
            dayUsed: used,
            pausedUntil: this.#pausedUntil(),
            live,
            // The rows are read only when the window is full, to estimate when a slot frees.
            slots: () => this.#slotTimes(now, live, a.window),
          });
          if (refused) return refused;
          const slot = newSlotId(day);
          s.insertSlot.run(ks, slot, now + Math.max(0, a.leaseMs));
          s.incDay.run(ks, day);
          s.pruneDays.run(ks, utcDay(now - DAY_MS));
          return { granted: true, slot, dayUsed: used + 1 };
        }),
    );
  }

  settle(slot: string, answeredAt: number, window?: WindowSpec): Promise<void> {
    const s = this.#s;
    const ks = this.#ks;
    return this.#later(() => {
      if (window) s.settleSlot.run(ks, slot, answeredAt + windowMs(window));
      else s.deleteSlot.run(ks, slot);
    });
  }

  refund(slot: string, now: number): Promise<void> {
    const s = this.#s;
    const ks = this.#ks;
    return this.#later(() => {
      const removed = Number(s.deleteSlot.run(ks, slot).changes) > 0;
      const day = slotDay(slot);
      if (removed && day !== undefined) s.decDay.run(ks, day);
      s.pruneSlots.run(ks, now);
    });
  }

  pause(until: number, _now: number): Promise<void> {
    return this.#later(() => this.#s.pause.run(this.#ks, until));
  }

  async usage(now: number, window?: WindowSpec): Promise<Usage> {
    // A read: expired rows are left out here and pruned by the next write.
    return this.#retry(() =>
      this.#read(() => {
        const expired = int(column(this.#s.expiredSlotCount.get(this.#ks, now)), 'the slot count');
        const live = Math.max(0, this.#slotRows() - expired);
        return usageOf(now, window, {
          dayUsed: this.#dayUsed(utcDay(now)),
          pausedUntil: this.#pausedUntil(),
          live,
          ...this.#slotTimes(now, live, window),
        });
      }),
    );
  }

  async cacheGet(key: string, now: number): Promise<CachedBody | undefined> {
    const k = keyDigest(key);
    const row = await this.#retry(() => this.#read(() => this.#s.cacheGet.get(this.#cacheKs, k)));
    if (!row || int(row.expires_at, 'an expiry') <= now) return undefined;
    const body = row.body;
    if (!(body instanceof Uint8Array)) return undefined;
    let out: CachedBody;
    try {
      out = {
        body: unpackBody(body, int(row.encoding, 'an encoding')),
        fetchedAt: int(row.fetched_at, 'a date'),
      };
    } catch {
      // A damaged entry is a miss: the answer is fetched again and stored anew.
      return undefined;
    }
    if (row.not_found) out.notFound = true;
    return out;
  }

  cacheSet(keys: string[], value: CachedBody, ttlMs: number, now: number): Promise<void> {
    const all = cacheKeys(keys);
    if (all.length === 0 || ttlMs <= 0) return Promise.resolve();
    // Compressed before the transaction (the lock is held for the writes alone), off the event loop.
    let packed: PackedBody | undefined;
    const packing = packBodyAsync(value.body).then((p) => {
      packed = p;
    });
    this.#packing.add(packing);
    void packing.finally(() => this.#packing.delete(packing)).catch(() => {});
    const digests = all.map(keyDigest);
    const s = this.#s;
    const ks = this.#cacheKs;
    return this.#later(() => {
      // An older entry under any of these keys goes whole (the trigger removes its keys).
      for (const k of digests) s.deleteOwner.run(ks, k);
      // Not compressed (zlib failed): the older entry is gone and nothing is cached in its place.
      if (packed === undefined) return;
      const size = entryBytes(value, all, packed.data.byteLength);
      if (size > this.#maxBytes) return;
      s.pruneCache.run(ks, now, PRUNE_BATCH);
      let bytes = int(column(s.cacheBytes.get(ks)) ?? 0, 'the cache size');
      while (bytes + size > this.#maxBytes) {
        const oldest = s.oldestEntry.get(ks);
        if (!oldest) break;
        s.deleteEntry.run(int(oldest.id, 'an entry id'));
        bytes -= int(oldest.size, 'an entry size');
      }
      const { lastInsertRowid: id } = s.insertEntry.run(
        ks,
        value.fetchedAt,
        value.notFound ? 1 : 0,
        now + ttlMs,
        size,
        packed.encoding,
        packed.data,
      );
      for (const k of digests) s.insertKey.run(ks, k, id);
    });
  }

  async cacheStats(): Promise<CacheStats> {
    const row = await this.#retry(() => this.#read(() => this.#s.cacheTotals.get(this.#cacheKs)));
    return {
      entries: row ? int(row.entries, 'the entry count') : 0,
      bytes: row ? int(row.bytes, 'the cache size') : 0,
    };
  }

  async lease(key: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    const s = this.#s;
    const ks = this.#ks;
    return this.#retry((): boolean =>
      this.#now((): boolean => {
        const cur = s.leaseGet.get(ks, key);
        if (cur && int(cur.expires_at, 'a lease') > now && cur.owner !== owner) return false;
        s.leasePut.run(ks, key, owner, now + ttlMs);
        s.pruneLeases.run(ks, now, PRUNE_BATCH);
        return true;
      }),
    );
  }

  releaseLease(key: string, owner: string): Promise<void> {
    return this.#later(() => this.#s.leaseRelease.run(this.#ks, key, owner));
  }

  docPut(key: string, value: string, ttlMs: number | undefined, now: number): Promise<void> {
    const s = this.#s;
    const ks = this.#ks;
    return this.#later(() => {
      s.docPut.run(ks, key, value, ttlMs === undefined ? null : now + ttlMs);
      s.pruneDocs.run(ks, now, PRUNE_BATCH);
    });
  }

  async docGet(key: string, now: number): Promise<string | undefined> {
    const row = await this.#retry(() => this.#read(() => this.#s.docGet.get(this.#ks, key)));
    if (!row) return undefined;
    const expiresAt = row.expires_at === null ? null : int(row.expires_at, 'an expiry');
    if (expiresAt !== null && expiresAt <= now) return undefined;
    return text(row.value, 'a document');
  }

  docDelete(key: string): Promise<void> {
    return this.#later(() => this.#s.docDelete.run(this.#ks, key));
  }

  async docList(prefix: string, now: number): Promise<string[]> {
    return this.#retry(() =>
      this.#read(() => {
        const out: string[] = [];
        for (const row of this.#s.docList.iterate(this.#ks, prefix, now)) {
          const k = text(column(row), 'a document key');
          if (!k.startsWith(prefix)) break;
          out.push(k);
        }
        return out;
      }),
    );
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    try {
      if (this.#queued.length > 0) await this.#retry(() => this.#now(() => undefined));
    } finally {
      this.#open = false;
      for (const q of this.#queued.splice(0)) q.reject(new Error('the state store is closed'));
      try {
        this.#db.close();
      } finally {
        const id = this.#fileId;
        const n = id === undefined ? 0 : (OPEN_FILES.get(id) ?? 0) - 1;
        if (id !== undefined) {
          if (n > 0) OPEN_FILES.set(id, n);
          else OPEN_FILES.delete(id);
        }
      }
    }
  }
}
