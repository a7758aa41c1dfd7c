/**
 * The SQLite state file's layout, for the store in sqlite.ts: the schema and its version, the step
 * from an older version (migrate), the prepared statements the store runs, and the checked reading of
 * what a row holds.
 */

import type { DatabaseSync, SQLOutputValue, StatementSync } from 'node:sqlite';

/** 2: cache bodies stored compressed (BLOB + encoding). A version-1 file's cache is dropped on open. */
export const SCHEMA_VERSION = '2';

export const CACHE_SCHEMA = `
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

export const SCHEMA = `
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
export const DROP_V1_CACHE = `
DROP TRIGGER IF EXISTS cache_ins; DROP TRIGGER IF EXISTS cache_del;
DROP TABLE IF EXISTS cache; DROP TABLE IF EXISTS cache_keys; DROP TABLE IF EXISTS cache_totals;
`;

/**
 * Creates what a new file lacks and brings an older one to SCHEMA_VERSION; throws on a file of another
 * version. Runs in the caller's IMMEDIATE transaction.
 */
export function migrate(d: DatabaseSync): void {
  d.exec(SCHEMA);
  const v = column(d.prepare(`SELECT v FROM meta WHERE k = 'schema'`).get());
  if (v === '1') d.exec(DROP_V1_CACHE);
  else if (v !== undefined && v !== SCHEMA_VERSION)
    throw new Error(`the file has state schema ${String(v)}, this version reads ${SCHEMA_VERSION}`);
  d.exec(CACHE_SCHEMA);
  d.prepare(`INSERT OR REPLACE INTO meta (k, v) VALUES ('schema', ?)`).run(SCHEMA_VERSION);
}

export type Row = Record<string, SQLOutputValue>;

/** The first column of a row (for one-value queries), or undefined without a row. */
export function column(row: Row | undefined): SQLOutputValue | undefined {
  if (row === undefined) return undefined;
  for (const k in row) return row[k];
  return undefined;
}

/** A stored number, checked: a file edited by hand or damaged fails loudly rather than miscounting. */
export function int(v: SQLOutputValue | undefined, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new TypeError(`state file: ${what} is not a number`);
}

export function text(v: SQLOutputValue | undefined, what: string): string {
  if (typeof v === 'string') return v;
  throw new TypeError(`state file: ${what} is not text`);
}

export function prepare(db: DatabaseSync) {
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

export type Statements = ReturnType<typeof prepare>;
