/**
 * The embedded shared store: one SQLite file that every process of the user on this machine opens,
 * through Node's built-in SQLite (`node:sqlite`, Node 22.13 and later): no native addon to build or
 * ship. WAL mode, a busy timeout, accounting inside IMMEDIATE transactions (one writer at a time, so two
 * processes never both take the last slot), expired rows pruned a bounded number at a time, the cache's
 * size bound applied on disk to the bodies as stored (compressed: packed-body.ts). Every row carries the
 * keyspace, so one file serves several keys without mixing them.
 *
 * Writes that need no answer (settle, refund, pause, a cache entry, releasing a lease, documents) are
 * queued and committed together in one transaction on the next turn of the event loop, or with the next
 * call that needs the file (which then runs in that same transaction): an upstream answer's settle,
 * cache entry and lease release are one commit, not three. A queued write's promise resolves when it is
 * committed, and every call sees the writes queued before it.
 *
 * node:sqlite is synchronous: a call blocks the event loop for its duration, at most the busy timeout
 * when another process holds the write lock (transactions here last microseconds).
 */

import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DatabaseSync, SQLOutputValue, StatementSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { DAY_MS, nextUtcMidnight } from '../../util/time.js';
import { packBody, unpackBody } from './packed-body.js';
import { type CheckedFile, checkCompanions, confirmOpened, OPEN_FILES, prepareFile } from './safe-file.js';
import {
  type Acquire,
  type AcquireRequest,
  type CachedBody,
  type CacheStats,
  cacheKeys,
  describeError,
  entryBytes,
  newSlotId,
  type StateStore,
  StateUnavailableError,
  type StoreHealth,
  slotDay,
  type Usage,
  utcDay,
  type WindowSpec,
  windowMs,
  windowRetryAt,
} from './store.js';

export type SqliteDriver = typeof import('node:sqlite');

export interface SqliteStoreOptions {
  path: string;
  /** keyspace(apiKey). */
  keyspace: string;
  cacheMaxBytes: number;
  /** How long a writer waits for another process's transaction (ms). Default 2000. */
  busyTimeoutMs?: number;
  /**
   * The file's directory is ours (the default location): it must be this user's and writable by no
   * one else. A directory the user named may also be a shared one with the sticky bit, such as /tmp
   * (see checkDirectory). A missing directory is created 0700 either way; nothing is ever chmodded.
   */
  ownDirectory?: boolean;
  /** The driver; tests pass null to exercise the fallback of a Node without node:sqlite. */
  driver?: SqliteDriver | null;
  platform?: NodeJS.Platform;
}

/** The longest one call blocks the event loop waiting for another process's lock. */
const SYNC_BUSY_MS = 20;

/** Another connection holds the lock SQLite needs (SQLITE_BUSY, and its extended codes). */
function isBusy(err: unknown): boolean {
  const code = (err as { errcode?: unknown } | undefined)?.errcode;
  return typeof code === 'number' && (code & 0xff) === 5;
}

/** 2: cache bodies stored compressed (BLOB + encoding). A version-1 file's cache is dropped on open. */
const SCHEMA_VERSION = '2';
const PRUNE_BATCH = 64;

const CACHE_SCHEMA = `
CREATE TABLE IF NOT EXISTS cache (
  ks TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL, encoding INTEGER NOT NULL,
  fetched_at INTEGER NOT NULL, not_found INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  size INTEGER NOT NULL, PRIMARY KEY (ks, key));
CREATE INDEX IF NOT EXISTS cache_age ON cache (ks);
CREATE INDEX IF NOT EXISTS cache_exp ON cache (ks, expires_at);
CREATE TABLE IF NOT EXISTS cache_keys (
  ks TEXT NOT NULL, k TEXT NOT NULL, canon TEXT NOT NULL, PRIMARY KEY (ks, k)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_keys_canon ON cache_keys (ks, canon);
CREATE TABLE IF NOT EXISTS cache_totals (
  ks TEXT PRIMARY KEY, entries INTEGER NOT NULL, bytes INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS cache_ins AFTER INSERT ON cache BEGIN
  INSERT INTO cache_totals (ks, entries, bytes) VALUES (new.ks, 1, new.size)
    ON CONFLICT (ks) DO UPDATE SET entries = entries + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS cache_del AFTER DELETE ON cache BEGIN
  UPDATE cache_totals SET entries = entries - 1, bytes = bytes - old.size WHERE ks = old.ks;
  DELETE FROM cache_keys WHERE ks = old.ks AND canon = old.key;
END;
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS slots (
  ks TEXT NOT NULL, id TEXT NOT NULL, pending INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (ks, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS slots_exp ON slots (ks, expires_at);
CREATE TABLE IF NOT EXISTS days (
  ks TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (ks, day)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pauses (ks TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
  ks TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (ks, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS leases_exp ON leases (ks, expires_at);
CREATE TABLE IF NOT EXISTS docs (
  ks TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER,
  PRIMARY KEY (ks, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS docs_exp ON docs (ks, expires_at);
`;

/** Version 1 kept bodies as text; what it cached is dropped (a cache), the rest is kept. */
const DROP_V1_CACHE = `
DROP TRIGGER IF EXISTS cache_ins; DROP TRIGGER IF EXISTS cache_del;
DROP TABLE IF EXISTS cache; DROP TABLE IF EXISTS cache_keys; DROP TABLE IF EXISTS cache_totals;
`;

const SQLITE_WARNING = /^SQLite is an experimental feature/;

/**
 * node:sqlite, loaded on first use. Node 22 prints "SQLite is an experimental feature" when it is
 * loaded (24 does not): that one warning is dropped, every other warning goes through. A Node without
 * it (before 22.13, or built without SQLite) gets a StateUnavailableError that says so.
 */
export function loadNodeSqlite(): SqliteDriver {
  const emit = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (SQLITE_WARNING.test(text)) return;
    return (emit as (...a: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  let mod: SqliteDriver | undefined;
  let failure: unknown;
  try {
    mod = process.getBuiltinModule?.('node:sqlite') as SqliteDriver | undefined;
    mod ??= createRequire(import.meta.url)('node:sqlite') as SqliteDriver;
  } catch (err) {
    failure = err;
  } finally {
    process.emitWarning = emit;
  }
  if (typeof mod?.DatabaseSync !== 'function') {
    throw new StateUnavailableError(
      `this Node (${process.version}) has no built-in SQLite (node:sqlite, Node 22.13 or later)`,
      { cause: failure },
    );
  }
  return mod;
}

/** Runs fn in an IMMEDIATE transaction: the write lock is taken first, so reads and writes agree. */
function immediate<T>(db: DatabaseSync, fn: () => T): T {
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

/** Opens (creating if needed) the store; throws StateUnavailableError with a reason fit for a log. */
export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  const driver = opts.driver === undefined ? loadNodeSqlite() : opts.driver;
  if (driver === null) {
    throw new StateUnavailableError(
      `this Node (${process.version}) has no built-in SQLite (node:sqlite, Node 22.13 or later)`,
    );
  }
  let db: DatabaseSync | undefined;
  let checked: CheckedFile | undefined;
  const platform = opts.platform ?? process.platform;
  try {
    checked = prepareFile(opts.path, opts.ownDirectory ?? false, platform);
    db = new driver.DatabaseSync(opts.path);
    if (checked.id !== undefined) confirmOpened(db, opts.path, checked.id);
    // Closed before SQLite takes its first lock (opening takes none; the statements below do): closing
    // it later would drop SQLite's locks on the file (see OPEN_FILES).
    if (checked.fd !== undefined) closeSync(checked.fd);
    checked.fd = undefined;
    // node:sqlite's own busy timeout is 0: a second process would fail at once instead of waiting.
    // Opening waits for another process's lock as long as the busy timeout says (a start may block);
    // afterwards SQLite's own wait is kept short (see below).
    const busyMs = Math.max(0, Math.floor(opts.busyTimeoutMs ?? 2000));
    db.exec(`PRAGMA busy_timeout = ${busyMs}`);
    const mode = column(db.prepare('PRAGMA journal_mode = WAL').get());
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
    db.exec('PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA recursive_triggers = OFF');
    const d = db;
    immediate(d, () => {
      d.exec(SCHEMA);
      const v = column(d.prepare(`SELECT v FROM meta WHERE k = 'schema'`).get());
      if (v === '1') d.exec(DROP_V1_CACHE);
      else if (v !== undefined && v !== SCHEMA_VERSION)
        throw new Error(`the file has state schema ${String(v)}, this version reads ${SCHEMA_VERSION}`);
      d.exec(CACHE_SCHEMA);
      d.prepare(`INSERT OR REPLACE INTO meta (k, v) VALUES ('schema', ?)`).run(SCHEMA_VERSION);
    });
    // The -wal and -shm files now exist: made by SQLite, or found (and then checked before) and opened.
    checkCompanions(opts.path, platform !== 'win32');
    // SQLite's own wait for a lock blocks the event loop (and every answer, /healthz included): from
    // now on it is kept short, and the store waits out the rest between attempts (SqliteStore#retry).
    d.exec(`PRAGMA busy_timeout = ${Math.min(SYNC_BUSY_MS, busyMs)}`);
    return new SqliteStore(d, opts, checked.id);
  } catch (err) {
    if (checked?.fd !== undefined) closeSync(checked.fd);
    try {
      db?.close();
    } catch {
      // already failing
    }
    if (err instanceof StateUnavailableError) throw err;
    throw new StateUnavailableError(
      `the SQLite state file ${opts.path} could not be opened: ${describeError(err)}`,
      { cause: err },
    );
  }
}

type Row = Record<string, SQLOutputValue>;

/** The first column of a row (for one-value queries), or undefined without a row. */
function column(row: Row | undefined): SQLOutputValue | undefined {
  if (row === undefined) return undefined;
  for (const k in row) return row[k];
  return undefined;
}

/** A stored number, checked: a file edited by hand or damaged fails loudly rather than miscounting. */
function int(v: SQLOutputValue | undefined, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new TypeError(`state file: ${what} is not a number`);
}

function text(v: SQLOutputValue | undefined, what: string): string {
  if (typeof v === 'string') return v;
  throw new TypeError(`state file: ${what} is not text`);
}

interface SlotRow {
  pending: boolean;
  expiresAt: number;
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
  readonly #maxBytes: number;
  /** How long a call waits, in all, for another process's lock. */
  readonly #busyMs: number;
  readonly #s: Statements;
  #queued: Queued[] = [];
  #flush: NodeJS.Immediate | undefined;
  #open = true;
  #transactions = 0;

  readonly #fileId: string | undefined;

  /** fileId: the file's dev:ino, counted in OPEN_FILES while this store is open. */
  constructor(db: DatabaseSync, opts: SqliteStoreOptions, fileId?: string) {
    this.#db = db;
    this.#ks = opts.keyspace;
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
        this.#retry(() => this.#now(() => undefined)).catch((err: unknown) => {
          // Given up (or the file failed otherwise): what is still queued is told why.
          for (const q of this.#queued.splice(0)) q.reject(err);
        });
      });
    });
  }

  /** A read sees the writes queued before it: they are committed first when there are any. */
  #read<T>(fn: () => T): T {
    return this.#queued.length > 0 ? this.#now(fn) : fn();
  }

  #slots(now: number): SlotRow[] {
    const s = this.#s;
    s.pruneSlots.run(this.#ks, now);
    return s.slots.all(this.#ks).map((r) => ({
      pending: int(r.pending, 'a slot') !== 0,
      expiresAt: int(r.expires_at, 'a slot'),
    }));
  }

  #windowRetryAt(now: number, w: WindowSpec, rows: SlotRow[]) {
    return windowRetryAt(
      now,
      w,
      rows.filter((r) => !r.pending).map((r) => r.expiresAt),
      rows.filter((r) => r.pending).map((r) => r.expiresAt),
    );
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
          if (a.dailyQuota !== undefined && used >= a.dailyQuota) {
            return { granted: false, reason: 'daily', retryAt: nextUtcMidnight(now) };
          }
          const paused = this.#pausedUntil();
          if (paused > now) return { granted: false, reason: 'paused', retryAt: paused };
          s.pruneSlots.run(ks, now);
          // The rows are read only when the window is full, to estimate when a slot frees.
          if (a.window && int(column(s.slotCount.get(ks)), 'the slot count') >= a.window.requests) {
            const retryAt = this.#windowRetryAt(now, a.window, this.#slots(now));
            if (retryAt !== undefined) return { granted: false, reason: 'window', retryAt };
          }
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
    return this.#retry(
      (): Usage =>
        this.#now((): Usage => {
          const rows = this.#slots(now);
          const day = utcDay(now);
          const paused = this.#pausedUntil();
          const nextFreeAt = window ? this.#windowRetryAt(now, window, rows) : undefined;
          return {
            windowUsed: rows.length,
            ...(nextFreeAt !== undefined ? { nextFreeAt } : {}),
            dayUsed: this.#dayUsed(day),
            day,
            ...(paused > now ? { pausedUntil: paused } : {}),
          };
        }),
    );
  }

  async cacheGet(key: string, now: number): Promise<CachedBody | undefined> {
    const row = await this.#retry(() => this.#read(() => this.#s.cacheGet.get(this.#ks, key)));
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
    // Compressed before the transaction: the lock is held for the writes alone.
    const packed = packBody(value.body);
    const size = entryBytes(value, all, packed.data.byteLength);
    const s = this.#s;
    const ks = this.#ks;
    return this.#later(() => {
      const canon = all[0] as string;
      // An older entry under any of these keys goes whole (the trigger removes its keys).
      for (const k of all) {
        const owner = column(s.keyOwner.get(ks, k));
        s.deleteEntry.run(ks, owner === undefined ? k : text(owner, 'a cache key'));
      }
      if (size > this.#maxBytes) return;
      s.pruneCache.run(ks, now, PRUNE_BATCH);
      let bytes = int(column(s.cacheBytes.get(ks)) ?? 0, 'the cache size');
      while (bytes + size > this.#maxBytes) {
        const oldest = s.oldestEntry.get(ks);
        if (!oldest) break;
        s.deleteEntry.run(ks, text(oldest.key, 'a cache key'));
        bytes -= int(oldest.size, 'an entry size');
      }
      s.insertEntry.run(
        ks,
        canon,
        packed.data,
        packed.encoding,
        value.fetchedAt,
        value.notFound ? 1 : 0,
        now + ttlMs,
        size,
      );
      for (const k of all) s.insertKey.run(ks, k, canon);
    });
  }

  async cacheStats(): Promise<CacheStats> {
    const row = await this.#retry(() => this.#read(() => this.#s.cacheTotals.get(this.#ks)));
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
          const k = text(column(row as Row), 'a document key');
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

function prepare(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  return {
    ping: p(`UPDATE meta SET v = v WHERE k = 'schema'`),
    pruneSlots: p('DELETE FROM slots WHERE ks = ? AND expires_at <= ?'),
    slots: p('SELECT pending, expires_at FROM slots WHERE ks = ?'),
    slotCount: p('SELECT count(*) FROM slots WHERE ks = ?'),
    insertSlot: p('INSERT OR REPLACE INTO slots (ks, id, pending, expires_at) VALUES (?, ?, 1, ?)'),
    settleSlot: p(
      `INSERT INTO slots (ks, id, pending, expires_at) VALUES (?, ?, 0, ?)
       ON CONFLICT (ks, id) DO UPDATE SET pending = 0, expires_at = excluded.expires_at`,
    ),
    deleteSlot: p('DELETE FROM slots WHERE ks = ? AND id = ?'),
    dayUsed: p('SELECT used FROM days WHERE ks = ? AND day = ?'),
    incDay: p(
      `INSERT INTO days (ks, day, used) VALUES (?, ?, 1)
       ON CONFLICT (ks, day) DO UPDATE SET used = used + 1`,
    ),
    decDay: p('UPDATE days SET used = used - 1 WHERE ks = ? AND day = ? AND used > 0'),
    pruneDays: p('DELETE FROM days WHERE ks = ? AND day < ?'),
    pausedUntil: p('SELECT until FROM pauses WHERE ks = ?'),
    pause: p(
      `INSERT INTO pauses (ks, until) VALUES (?, ?)
       ON CONFLICT (ks) DO UPDATE SET until = max(until, excluded.until)`,
    ),
    cacheGet: p(
      `SELECT c.body, c.encoding, c.fetched_at, c.not_found, c.expires_at FROM cache_keys k
       JOIN cache c ON c.ks = k.ks AND c.key = k.canon WHERE k.ks = ? AND k.k = ?`,
    ),
    keyOwner: p('SELECT canon FROM cache_keys WHERE ks = ? AND k = ?'),
    deleteEntry: p('DELETE FROM cache WHERE ks = ? AND key = ?'),
    pruneCache: p(
      `DELETE FROM cache WHERE rowid IN
       (SELECT rowid FROM cache WHERE ks = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    ),
    cacheBytes: p('SELECT bytes FROM cache_totals WHERE ks = ?'),
    cacheTotals: p('SELECT entries, bytes FROM cache_totals WHERE ks = ?'),
    oldestEntry: p('SELECT key, size FROM cache WHERE ks = ? ORDER BY rowid LIMIT 1'),
    insertEntry: p(
      `INSERT INTO cache (ks, key, body, encoding, fetched_at, not_found, expires_at, size)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertKey: p('INSERT OR REPLACE INTO cache_keys (ks, k, canon) VALUES (?, ?, ?)'),
    leaseGet: p('SELECT owner, expires_at FROM leases WHERE ks = ? AND key = ?'),
    leasePut: p(
      `INSERT INTO leases (ks, key, owner, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (ks, key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
    ),
    leaseRelease: p('DELETE FROM leases WHERE ks = ? AND key = ? AND owner = ?'),
    pruneLeases: p(
      `DELETE FROM leases WHERE (ks, key) IN
       (SELECT ks, key FROM leases WHERE ks = ? AND expires_at <= ? LIMIT ?)`,
    ),
    docPut: p(
      `INSERT INTO docs (ks, key, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (ks, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    ),
    docGet: p('SELECT value, expires_at FROM docs WHERE ks = ? AND key = ?'),
    docDelete: p('DELETE FROM docs WHERE ks = ? AND key = ?'),
    docList: p(
      `SELECT key FROM docs WHERE ks = ? AND key >= ? AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY key`,
    ),
    pruneDocs: p(
      `DELETE FROM docs WHERE (ks, key) IN
       (SELECT ks, key FROM docs WHERE ks = ? AND expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)`,
    ),
  };
}

type Statements = ReturnType<typeof prepare>;
