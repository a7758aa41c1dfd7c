/**
 * The SQLite state file's layout, for the store in sqlite.ts: the schema and its version, the step
 * from an older version (migrate), the prepared statements the store runs, and the checked reading of
 * what a row holds.
 */

import { createHash } from 'node:crypto';
import type { DatabaseSync, SQLOutputValue, StatementSync } from 'node:sqlite';

/**
 * 3: the cache's keys kept small. An entry is a numbered row (cache.id); each of its keys is a row that
 * maps a 16-byte digest of the key's text (keyDigest) to that number, since nothing reads a key's text
 * back; the keyspace is a number (keyspaces) rather than its text repeated in every cache row. 2 kept
 * the key texts and the keyspace text in every entry, alias and index row: several times the room
 * these take now, most of what a file held besides the bodies. A file of version 1 or 2 has its cache
 * dropped on open (see DROP_OLD_CACHE).
 */
export const SCHEMA_VERSION = '3';

/**
 * The cache. Eviction takes an entry of the keyspace with the lowest id, the oldest (SQLite numbers a
 * new row one above the highest: cache_age serves that order), expiry pruning the earliest expires_at
 * (cache_exp); cache_keys_id lets the delete trigger find an entry's keys. The body comes last so that
 * the small columns sit in the row's first page, not after the body in its overflow pages: reading an
 * entry's size or expiry does not read its body. cache_totals keeps each keyspace's count and stored
 * bytes (what the byte bound compares with) up to date through the triggers.
 */
export const CACHE_SCHEMA = `
CREATE TABLE IF NOT EXISTS cache (
  id INTEGER PRIMARY KEY, ks INTEGER NOT NULL, fetched_at INTEGER NOT NULL,
  not_found INTEGER NOT NULL, expires_at INTEGER NOT NULL, size INTEGER NOT NULL,
  encoding INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS cache_age ON cache (ks);
CREATE INDEX IF NOT EXISTS cache_exp ON cache (ks, expires_at);
CREATE TABLE IF NOT EXISTS cache_keys (
  ks INTEGER NOT NULL, k BLOB NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (ks, k)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_keys_id ON cache_keys (id);
CREATE TABLE IF NOT EXISTS cache_totals (
  ks INTEGER PRIMARY KEY, entries INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS cache_ins AFTER INSERT ON cache BEGIN
  INSERT INTO cache_totals (ks, entries, bytes) VALUES (new.ks, 1, new.size)
    ON CONFLICT (ks) DO UPDATE SET entries = entries + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS cache_del AFTER DELETE ON cache BEGIN
  UPDATE cache_totals SET entries = entries - 1, bytes = bytes - old.size WHERE ks = old.ks;
  DELETE FROM cache_keys WHERE id = old.id;
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
CREATE TABLE IF NOT EXISTS keyspaces (id INTEGER PRIMARY KEY, ks TEXT NOT NULL UNIQUE);
`;

/**
 * An older version's cache (1 kept bodies as text, 2 kept key texts): what it cached is dropped (a
 * cache), the rest is kept.
 */
export const DROP_OLD_CACHE = `
DROP TRIGGER IF EXISTS cache_ins; DROP TRIGGER IF EXISTS cache_del;
DROP TABLE IF EXISTS cache; DROP TABLE IF EXISTS cache_keys; DROP TABLE IF EXISTS cache_totals;
`;

/**
 * Each keyspace's number of slot rows, kept by triggers as cache_totals is, so that a grant does not
 * count the rows of a large window one by one. Added to schema 3 without a new version (a file holding
 * it stays readable by the versions before, whose writes the triggers count too): counted from the rows
 * once, when the table is made.
 */
export const SLOT_COUNT_SCHEMA = `
CREATE TABLE IF NOT EXISTS slot_counts (ks TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS slots_ins AFTER INSERT ON slots BEGIN
  INSERT INTO slot_counts (ks, n) VALUES (new.ks, 1) ON CONFLICT (ks) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS slots_del AFTER DELETE ON slots BEGIN
  UPDATE slot_counts SET n = n - 1 WHERE ks = old.ks;
END;
`;

/**
 * Creates what a new file lacks and brings an older one to SCHEMA_VERSION; throws on a file of another
 * version. Runs in the caller's IMMEDIATE transaction.
 */
export function migrate(d: DatabaseSync): void {
  d.exec(SCHEMA);
  const counted = d
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'slot_counts'`)
    .get();
  d.exec(SLOT_COUNT_SCHEMA);
  if (!counted) {
    d.exec(
      'DELETE FROM slot_counts; INSERT INTO slot_counts (ks, n) SELECT ks, count(*) FROM slots GROUP BY ks',
    );
  }
  const v = column(d.prepare(`SELECT v FROM meta WHERE k = 'schema'`).get());
  if (v === '1' || v === '2') d.exec(DROP_OLD_CACHE);
  else if (v !== undefined && v !== SCHEMA_VERSION)
    throw new Error(`the file has state schema ${String(v)}, this version reads ${SCHEMA_VERSION}`);
  d.exec(CACHE_SCHEMA);
  d.prepare(`INSERT OR REPLACE INTO meta (k, v) VALUES ('schema', ?)`).run(SCHEMA_VERSION);
}

/**
 * The keyspace's number in this file, given it on first use (in the caller's IMMEDIATE transaction).
 * Numbers are never reused: no row of keyspaces is ever deleted.
 */
export function keyspaceId(d: DatabaseSync, ks: string): number {
  d.prepare('INSERT INTO keyspaces (ks) VALUES (?) ON CONFLICT (ks) DO NOTHING').run(ks);
  return int(column(d.prepare('SELECT id FROM keyspaces WHERE ks = ?').get(ks)), 'a keyspace');
}

/**
 * What cache_keys stores for a key: the first 16 bytes of its SHA-256. Two keys of one keyspace
 * colliding is out of reach (under 2^-64 even at four billion keys); the text is never read back.
 */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest().subarray(0, 16);
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
    // The rows expired but not yet pruned (few: every grant prunes), to take from slotCount in a read.
    expiredSlotCount: p('SELECT count(*) FROM slots WHERE ks = ? AND expires_at <= ?'),
    // By the stored time, which orders the estimates too: a settled slot frees within a window of now,
    // and a pending one is estimated at min(its expiry, now + window).
    earliestSlots: p(
      'SELECT pending, expires_at FROM slots WHERE ks = ? AND expires_at > ? ORDER BY expires_at LIMIT ?',
    ),
    slotCount: p('SELECT n FROM slot_counts WHERE ks = ?'),
    // Not OR REPLACE: a replaced row would not pass through slots_del (recursive triggers are off).
    insertSlot: p('INSERT INTO slots (ks, id, pending, expires_at) VALUES (?, ?, 1, ?)'),
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
       JOIN cache c ON c.id = k.id WHERE k.ks = ? AND k.k = ?`,
    ),
    deleteOwner: p('DELETE FROM cache WHERE id = (SELECT id FROM cache_keys WHERE ks = ? AND k = ?)'),
    deleteEntry: p('DELETE FROM cache WHERE id = ?'),
    pruneCache: p(
      `DELETE FROM cache WHERE id IN
       (SELECT id FROM cache WHERE ks = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    ),
    cacheBytes: p('SELECT bytes FROM cache_totals WHERE ks = ?'),
    cacheTotals: p('SELECT entries, bytes FROM cache_totals WHERE ks = ?'),
    oldestEntry: p('SELECT id, size FROM cache WHERE ks = ? ORDER BY id LIMIT 1'),
    insertEntry: p(
      `INSERT INTO cache (ks, fetched_at, not_found, expires_at, size, encoding, body)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertKey: p('INSERT OR REPLACE INTO cache_keys (ks, k, id) VALUES (?, ?, ?)'),
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
