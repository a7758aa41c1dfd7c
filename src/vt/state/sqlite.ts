/**
 * The embedded shared store: one SQLite file that every process of the user on this machine opens
 * (better-sqlite3, an optional dependency, loaded lazily). WAL mode, a busy timeout, accounting
 * inside IMMEDIATE transactions (one writer at a time, so two processes never both take the last
 * slot), expired rows pruned a bounded number at a time, the cache's size bound applied on disk.
 * Every row carries the keyspace, so one file serves several keys without mixing them.
 *
 * better-sqlite3 is synchronous: a call blocks the event loop for its duration, at most the busy
 * timeout when another process holds the write lock (transactions here last microseconds).
 */

import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fstatSync,
  mkdirSync,
  openSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { DAY_MS, nextUtcMidnight } from '../../util/time.js';
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

export interface SqliteStoreOptions {
  path: string;
  /** keyspace(apiKey). */
  keyspace: string;
  cacheMaxBytes: number;
  /** How long a writer waits for another process's transaction (ms). Default 2000. */
  busyTimeoutMs?: number;
  /**
   * The file's directory is ours (the default location): tighten its mode to 0700 if it is looser.
   * A directory the user named is left as it is (it may be shared, e.g. /tmp); a missing one is
   * created 0700 either way.
   */
  ownDirectory?: boolean;
  /** The driver's module name; tests pass a missing one to exercise the fallback. */
  driverModule?: string;
  platform?: NodeJS.Platform;
}

const SCHEMA_VERSION = '1';
const PRUNE_BATCH = 64;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS slots (
  ks TEXT NOT NULL, id TEXT NOT NULL, pending INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (ks, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS slots_exp ON slots (ks, expires_at);
CREATE TABLE IF NOT EXISTS days (
  ks TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (ks, day)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pauses (ks TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cache (
  ks TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, fetched_at INTEGER NOT NULL,
  not_found INTEGER NOT NULL, expires_at INTEGER NOT NULL, size INTEGER NOT NULL,
  PRIMARY KEY (ks, key));
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
CREATE TABLE IF NOT EXISTS leases (
  ks TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (ks, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS leases_exp ON leases (ks, expires_at);
CREATE TABLE IF NOT EXISTS docs (
  ks TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER,
  PRIMARY KEY (ks, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS docs_exp ON docs (ks, expires_at);
`;

type DatabaseCtor = typeof BetterSqlite3;
type Db = BetterSqlite3.Database;
// biome-ignore lint/suspicious/noExplicitAny: better-sqlite3's statements take positional parameters of any type.
type Stmt<R = unknown> = BetterSqlite3.Statement<any[], R>;

function loadDriver(name: string): DatabaseCtor {
  try {
    const req = createRequire(import.meta.url);
    return req(name) as DatabaseCtor;
  } catch (err) {
    throw new StateUnavailableError(
      `the SQLite driver (${name}) could not be loaded: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Makes sure the directory exists (created 0700) and the file exists with mode 0600 before SQLite
 * opens it (SQLite gives the -wal and -shm files the database file's mode). Files we own that are
 * looser are tightened.
 */
function prepareFile(path: string, ownDirectory: boolean, platform: NodeJS.Platform): void {
  const dir = dirname(path);
  const posix = platform !== 'win32';
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } else if (ownDirectory && posix) {
    const st = statSync(dir);
    if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) {
      // The default directory holds nothing but our state.
      const fd = openSync(dir, constants.O_RDONLY);
      try {
        fchmodSync(fd, 0o700);
      } finally {
        closeSync(fd);
      }
    }
  }
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    const create = p === path;
    if (!create && !existsSync(p)) continue;
    const fd = openSync(p, create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDONLY, 0o600);
    try {
      if (posix) {
        const st = fstatSync(fd);
        if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) fchmodSync(fd, 0o600);
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** Opens (creating if needed) the store; throws StateUnavailableError with a reason fit for a log. */
export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  const Driver = loadDriver(opts.driverModule ?? 'better-sqlite3');
  let db: Db | undefined;
  try {
    prepareFile(opts.path, opts.ownDirectory ?? false, opts.platform ?? process.platform);
    db = new Driver(opts.path, { timeout: opts.busyTimeoutMs ?? 2000 });
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 2000))}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = OFF');
    db.pragma('recursive_triggers = OFF');
    const d = db;
    d.transaction(() => {
      d.exec(SCHEMA);
      const v = d.prepare('SELECT v FROM meta WHERE k = ?').pluck().get('schema') as string | undefined;
      if (v === undefined) d.prepare('INSERT INTO meta (k, v) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
      else if (v !== SCHEMA_VERSION)
        throw new Error(`the file has state schema ${v}, this version reads ${SCHEMA_VERSION}`);
    }).immediate();
    return new SqliteStore(d, opts);
  } catch (err) {
    try {
      db?.close();
    } catch {
      // already failing
    }
    if (err instanceof StateUnavailableError) throw err;
    throw new StateUnavailableError(
      `the SQLite state file ${opts.path} could not be opened: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }
}

interface SlotRow {
  pending: number;
  expires_at: number;
}

interface CacheRow {
  body: string;
  fetched_at: number;
  not_found: number;
  expires_at: number;
}

export class SqliteStore implements StateStore {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly #db: Db;
  readonly #ks: string;
  readonly #maxBytes: number;
  readonly #s: ReturnType<typeof prepare>;
  readonly #acquireTx: (a: AcquireRequest) => Acquire;
  readonly #settleTx: (slot: string, answeredAt: number, window?: WindowSpec) => void;
  readonly #refundTx: (slot: string, now: number) => void;
  readonly #pauseTx: (until: number) => void;
  readonly #usageTx: (now: number, window?: WindowSpec) => Usage;
  readonly #cacheSetTx: (keys: string[], value: CachedBody, ttlMs: number, now: number) => void;
  readonly #leaseTx: (key: string, owner: string, ttlMs: number, now: number) => boolean;
  readonly #pingTx: () => void;

  constructor(db: Db, opts: SqliteStoreOptions) {
    this.#db = db;
    this.#ks = opts.keyspace;
    this.location = opts.path;
    this.#maxBytes = Math.max(0, Math.floor(opts.cacheMaxBytes));
    const s = prepare(db);
    this.#s = s;
    const ks = this.#ks;

    const liveSlots = (now: number): SlotRow[] => {
      s.pruneSlots.run(ks, now);
      return s.slots.all(ks) as SlotRow[];
    };
    const retry = (now: number, w: WindowSpec, rows: SlotRow[]) =>
      windowRetryAt(
        now,
        w,
        rows.filter((r) => r.pending === 0).map((r) => r.expires_at),
        rows.filter((r) => r.pending !== 0).map((r) => r.expires_at),
      );

    this.#acquireTx = tx(db, (a: AcquireRequest): Acquire => {
      const { now } = a;
      const day = utcDay(now);
      const used = (s.dayUsed.get(ks, day) as number | undefined) ?? 0;
      if (a.dailyQuota !== undefined && used >= a.dailyQuota) {
        return { granted: false, reason: 'daily', retryAt: nextUtcMidnight(now) };
      }
      const paused = (s.pausedUntil.get(ks) as number | undefined) ?? 0;
      if (paused > now) return { granted: false, reason: 'paused', retryAt: paused };
      s.pruneSlots.run(ks, now);
      // The rows are read only when the window is full, to estimate when a slot frees.
      if (a.window && (s.slotCount.get(ks) as number) >= a.window.requests) {
        const retryAt = retry(now, a.window, s.slots.all(ks) as SlotRow[]);
        if (retryAt !== undefined) return { granted: false, reason: 'window', retryAt };
      }
      const slot = newSlotId(day);
      s.insertSlot.run(ks, slot, now + Math.max(0, a.leaseMs));
      s.incDay.run(ks, day);
      s.pruneDays.run(ks, utcDay(now - DAY_MS));
      return { granted: true, slot, dayUsed: used + 1 };
    });

    this.#settleTx = tx(db, (slot: string, answeredAt: number, window?: WindowSpec) => {
      if (window) s.settleSlot.run(ks, slot, answeredAt + windowMs(window));
      else s.deleteSlot.run(ks, slot);
    });

    this.#refundTx = tx(db, (slot: string, now: number) => {
      const removed = s.deleteSlot.run(ks, slot).changes > 0;
      const day = slotDay(slot);
      if (removed && day !== undefined) s.decDay.run(ks, day);
      s.pruneSlots.run(ks, now);
    });

    this.#pauseTx = tx(db, (until: number) => {
      s.pause.run(ks, until);
    });

    this.#usageTx = tx(db, (now: number, window?: WindowSpec): Usage => {
      const rows = liveSlots(now);
      const day = utcDay(now);
      const paused = (s.pausedUntil.get(ks) as number | undefined) ?? 0;
      const nextFreeAt = window ? retry(now, window, rows) : undefined;
      return {
        windowUsed: rows.length,
        ...(nextFreeAt !== undefined ? { nextFreeAt } : {}),
        dayUsed: (s.dayUsed.get(ks, day) as number | undefined) ?? 0,
        day,
        ...(paused > now ? { pausedUntil: paused } : {}),
      };
    });

    this.#cacheSetTx = tx(db, (keys: string[], value: CachedBody, ttlMs: number, now: number) => {
      const canon = keys[0] as string;
      // An older entry under any of these keys goes whole (the trigger removes its keys).
      for (const k of keys) {
        const owner = s.keyOwner.get(ks, k) as string | undefined;
        if (owner !== undefined) s.deleteEntry.run(ks, owner);
        else s.deleteEntry.run(ks, k);
      }
      const size = entryBytes(value, keys);
      if (size > this.#maxBytes) return;
      s.pruneCache.run(ks, now, PRUNE_BATCH);
      let bytes = (s.cacheBytes.get(ks) as number | undefined) ?? 0;
      while (bytes + size > this.#maxBytes) {
        const oldest = s.oldestEntry.get(ks) as { key: string; size: number } | undefined;
        if (!oldest) break;
        s.deleteEntry.run(ks, oldest.key);
        bytes -= oldest.size;
      }
      s.insertEntry.run(ks, canon, value.body, value.fetchedAt, value.notFound ? 1 : 0, now + ttlMs, size);
      for (const k of keys) s.insertKey.run(ks, k, canon);
    });

    this.#pingTx = tx(db, () => {
      s.ping.run();
    });

    this.#leaseTx = tx(db, (key: string, owner: string, ttlMs: number, now: number): boolean => {
      const cur = s.leaseGet.get(ks, key) as { owner: string; expires_at: number } | undefined;
      if (cur && cur.expires_at > now && cur.owner !== owner) return false;
      s.leasePut.run(ks, key, owner, now + ttlMs);
      s.pruneLeases.run(ks, now, PRUNE_BATCH);
      return true;
    });
  }

  health(): StoreHealth {
    return { kind: 'sqlite', location: this.location, shared: true };
  }

  /** Takes the write lock and writes a page: a file that became read-only, locked or corrupt fails it. */
  async ping(): Promise<void> {
    this.#pingTx();
  }

  async acquire(a: AcquireRequest): Promise<Acquire> {
    return this.#acquireTx(a);
  }

  async settle(slot: string, answeredAt: number, window?: WindowSpec): Promise<void> {
    this.#settleTx(slot, answeredAt, window);
  }

  async refund(slot: string, now: number): Promise<void> {
    this.#refundTx(slot, now);
  }

  async pause(until: number, _now: number): Promise<void> {
    this.#pauseTx(until);
  }

  async usage(now: number, window?: WindowSpec): Promise<Usage> {
    return this.#usageTx(now, window);
  }

  async cacheGet(key: string, now: number): Promise<CachedBody | undefined> {
    const row = this.#s.cacheGet.get(this.#ks, key) as CacheRow | undefined;
    if (!row || row.expires_at <= now) return undefined;
    const out: CachedBody = { body: row.body, fetchedAt: row.fetched_at };
    if (row.not_found) out.notFound = true;
    return out;
  }

  async cacheSet(keys: string[], value: CachedBody, ttlMs: number, now: number): Promise<void> {
    const ks = cacheKeys(keys);
    if (ks.length === 0 || ttlMs <= 0) return;
    this.#cacheSetTx(ks, value, ttlMs, now);
  }

  async cacheStats(): Promise<CacheStats> {
    const row = this.#s.cacheTotals.get(this.#ks) as CacheStats | undefined;
    return { entries: row?.entries ?? 0, bytes: row?.bytes ?? 0 };
  }

  async lease(key: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    return this.#leaseTx(key, owner, ttlMs, now);
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    this.#s.leaseRelease.run(this.#ks, key, owner);
  }

  async docPut(key: string, value: string, ttlMs: number | undefined, now: number): Promise<void> {
    this.#s.docPut.run(this.#ks, key, value, ttlMs === undefined ? null : now + ttlMs);
    this.#s.pruneDocs.run(this.#ks, now, PRUNE_BATCH);
  }

  async docGet(key: string, now: number): Promise<string | undefined> {
    const row = this.#s.docGet.get(this.#ks, key) as { value: string; expires_at: number | null } | undefined;
    if (!row || (row.expires_at !== null && row.expires_at <= now)) return undefined;
    return row.value;
  }

  async docDelete(key: string): Promise<void> {
    this.#s.docDelete.run(this.#ks, key);
  }

  async docList(prefix: string, now: number): Promise<string[]> {
    const out: string[] = [];
    for (const k of this.#s.docList.iterate(this.#ks, prefix, now) as IterableIterator<string>) {
      if (!k.startsWith(prefix)) break;
      out.push(k);
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

/** A function run in an IMMEDIATE transaction: the write lock is taken first, so reads and writes agree. */
// biome-ignore lint/suspicious/noExplicitAny: a transaction wraps functions of any signature.
function tx<F extends (...args: any[]) => any>(db: Db, fn: F): F {
  const t = db.transaction(fn) as unknown as { immediate: (...args: unknown[]) => unknown };
  return ((...args: unknown[]) => t.immediate(...args)) as F;
}

function prepare(db: Db) {
  const p = <R = unknown>(sql: string): Stmt<R> => db.prepare(sql) as Stmt<R>;
  return {
    ping: p(`UPDATE meta SET v = v WHERE k = 'schema'`),
    pruneSlots: p('DELETE FROM slots WHERE ks = ? AND expires_at <= ?'),
    slots: p('SELECT pending, expires_at FROM slots WHERE ks = ?'),
    slotCount: p('SELECT count(*) FROM slots WHERE ks = ?').pluck(),
    insertSlot: p('INSERT OR REPLACE INTO slots (ks, id, pending, expires_at) VALUES (?, ?, 1, ?)'),
    settleSlot: p(
      `INSERT INTO slots (ks, id, pending, expires_at) VALUES (?, ?, 0, ?)
       ON CONFLICT (ks, id) DO UPDATE SET pending = 0, expires_at = excluded.expires_at`,
    ),
    deleteSlot: p('DELETE FROM slots WHERE ks = ? AND id = ?'),
    dayUsed: p('SELECT used FROM days WHERE ks = ? AND day = ?').pluck(),
    incDay: p(
      `INSERT INTO days (ks, day, used) VALUES (?, ?, 1)
       ON CONFLICT (ks, day) DO UPDATE SET used = used + 1`,
    ),
    decDay: p('UPDATE days SET used = used - 1 WHERE ks = ? AND day = ? AND used > 0'),
    pruneDays: p('DELETE FROM days WHERE ks = ? AND day < ?'),
    pausedUntil: p('SELECT until FROM pauses WHERE ks = ?').pluck(),
    pause: p(
      `INSERT INTO pauses (ks, until) VALUES (?, ?)
       ON CONFLICT (ks) DO UPDATE SET until = max(until, excluded.until)`,
    ),
    cacheGet: p(
      `SELECT c.body, c.fetched_at, c.not_found, c.expires_at FROM cache_keys k
       JOIN cache c ON c.ks = k.ks AND c.key = k.canon WHERE k.ks = ? AND k.k = ?`,
    ),
    keyOwner: p('SELECT canon FROM cache_keys WHERE ks = ? AND k = ?').pluck(),
    deleteEntry: p('DELETE FROM cache WHERE ks = ? AND key = ?'),
    pruneCache: p(
      `DELETE FROM cache WHERE rowid IN
       (SELECT rowid FROM cache WHERE ks = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    ),
    cacheBytes: p('SELECT bytes FROM cache_totals WHERE ks = ?').pluck(),
    cacheTotals: p('SELECT entries, bytes FROM cache_totals WHERE ks = ?'),
    oldestEntry: p('SELECT key, size FROM cache WHERE ks = ? ORDER BY rowid LIMIT 1'),
    insertEntry: p(
      `INSERT INTO cache (ks, key, body, fetched_at, not_found, expires_at, size)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
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
    ).pluck(),
    pruneDocs: p(
      `DELETE FROM docs WHERE (ks, key) IN
       (SELECT ks, key FROM docs WHERE ks = ? AND expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)`,
    ),
  };
}
