/**
 * What the embedded store does beyond the contract every backend keeps: it runs on Node's built-in
 * SQLite, commits an answer's writes together, keeps bodies compressed (the bound counting what is
 * stored), reads a file of the previous schema, and on Node 22 hides only Node's SQLite warning.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../src/vt/state/sqlite.js';
import { migrate, prepare, type Row } from '../src/vt/state/sqlite-schema.js';
import { keyspace } from '../src/vt/state/store.js';
import { randomApiKey, tempDir } from './helpers/state-backends.js';

const t = tempDir('sqlite');
afterAll(() => t.remove());

const T0 = Date.UTC(2031, 0, 1, 12);
const W = { requests: 4, seconds: 60 };
/** A real recorded report: about 150 KB of VirusTotal JSON. */
const REPORT = readFileSync('fixtures/vt/file_report_azul_too_many_feature_values.json', 'utf8');

let n = 0;
function open(cacheMaxBytes = 64 * 1024 * 1024, label = 'store'): { s: SqliteStore; path: string } {
  const path = join(t.dir, `${label}-${++n}.db`);
  return { s: openSqliteStore({ path, keyspace: keyspace(randomApiKey()), cacheMaxBytes }), path };
}

describe('SQLite store on node:sqlite', () => {
  it('commits an answer (settle, cache entry, lease release) in one transaction', async () => {
    const { s } = open();
    try {
      expect(await s.lease('fetch:/files/x', 'me', 10_000, T0)).toBe(true);
      const a = await s.acquire({ now: T0, window: W, dailyQuota: 500, leaseMs: 60_000 });
      if (!a.granted) throw new Error('not granted');
      const before = s.transactions;
      // As the gateway does when an answer arrives: three writes, none awaited before the next.
      await Promise.all([
        s.settle(a.slot, T0 + 50, W),
        s.cacheSet(['/files/x', '/files/y'], { body: REPORT, fetchedAt: T0 }, 60_000, T0),
        s.releaseLease('fetch:/files/x', 'me'),
      ]);
      expect(s.transactions - before).toBe(1);
      // All three are there: the slot is settled, the entry cached under both ids, the lease free.
      const u = await s.usage(T0 + 100, W);
      expect(u).toMatchObject({ windowUsed: 1, dayUsed: 1 });
      expect((await s.cacheGet('/files/y', T0 + 1))?.body).toBe(REPORT);
      expect(await s.lease('fetch:/files/x', 'someone else', 10_000, T0 + 1)).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('a read sees the writes queued before it, and the next call that writes carries them', async () => {
    const { s } = open();
    try {
      const put = s.docPut('job:1', '{"a":1}', undefined, T0);
      // Not awaited: the read still sees it.
      expect(await s.docGet('job:1', T0)).toBe('{"a":1}');
      await put;
      const before = s.transactions;
      const del = s.docDelete('job:1');
      const a = await s.acquire({ now: T0, window: W, leaseMs: 60_000 });
      await del;
      expect(a.granted).toBe(true);
      expect(s.transactions - before).toBe(1);
      expect(await s.docGet('job:1', T0)).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('a body compressed off the event loop keeps its place: the claim is never free before the answer is filed', async () => {
    const { s, path } = open();
    const other = new DatabaseSync(path, { readOnly: true });
    try {
      expect(await s.lease('fetch:/files/q', 'me', 10_000, T0)).toBe(true);
      // As the gateway files an answer: the cache entry, then the claim's release, neither awaited.
      const filed = s.cacheSet(['/files/q'], { body: REPORT, fetchedAt: T0 }, 60_000, T0);
      const released = s.releaseLease('fetch:/files/q', 'me');
      const put = s.docPut('job:q', '{"n":1}', undefined, T0);
      // What another process sees on every turn of the event loop until the release is committed.
      const seen: Array<{ leased: boolean; cached: boolean }> = [];
      let done = false;
      void released.then(() => {
        done = true;
      });
      while (!done) {
        seen.push({
          leased: other.prepare('SELECT count(*) AS n FROM leases').get()?.n === 1,
          cached: other.prepare('SELECT count(*) AS n FROM cache').get()?.n === 1,
        });
        await new Promise((r) => setImmediate(r));
      }
      seen.push({
        leased: other.prepare('SELECT count(*) AS n FROM leases').get()?.n === 1,
        cached: other.prepare('SELECT count(*) AS n FROM cache').get()?.n === 1,
      });
      expect(seen.filter((v) => !v.leased && !v.cached)).toEqual([]);
      expect(seen.at(-1)).toEqual({ leased: false, cached: true });
      await Promise.all([filed, put]);
      // And this process reads what it queued, whether compressed yet or not.
      const again = s.cacheSet(['/files/r'], { body: REPORT, fetchedAt: T0 }, 60_000, T0);
      expect((await s.cacheGet('/files/r', T0))?.body).toBe(REPORT);
      await again;
      expect(await s.docGet('job:q', T0)).toBe('{"n":1}');
    } finally {
      other.close();
      await s.close();
    }
  });

  it('a write that cannot be committed rejects its promise (another process holds the lock)', async () => {
    const path = join(t.dir, 'locked.db');
    const s = openSqliteStore({ path, keyspace: 'k', cacheMaxBytes: 1e6, busyTimeoutMs: 30 });
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(s.docPut('job:2', '{}', undefined, T0)).rejects.toThrow(/locked|busy/i);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await s.docPut('job:2', '{}', undefined, T0);
    expect(await s.docGet('job:2', T0)).toBe('{}');
    await s.close();
  });

  it("waits for another process's lock without blocking the event loop (a health check answers meanwhile)", async () => {
    const path = join(t.dir, 'held.db');
    const s = openSqliteStore({ path, keyspace: 'k', cacheMaxBytes: 1e6, busyTimeoutMs: 3_000 });
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    // The other process lets go after 400 ms: a timer of this process must be able to run to do it.
    setTimeout(() => other.exec('ROLLBACK'), 400);
    let ticks = 0;
    const tick = setInterval(() => ticks++, 5);
    try {
      // Granted once the lock is free; a store that blocked the loop in SQLite's own wait would have
      // kept the timer above from ever letting go, and failed with "database is locked".
      const a = await s.acquire({ now: T0, window: W, leaseMs: 60_000 });
      expect(a.granted).toBe(true);
      // The loop kept turning meanwhile (a timer every 5 ms over 400 ms; a handful is enough to show it).
      expect(ticks).toBeGreaterThan(5);
    } finally {
      clearInterval(tick);
      other.close();
      await s.close();
    }
  });

  it('stores bodies compressed, counts the stored bytes against the bound, and gives back the text', async () => {
    const { s, path } = open(3 * REPORT.length);
    try {
      // Twenty reports of this size would be nearly seven times the bound as text.
      for (let i = 0; i < 20; i++) {
        const body = REPORT.replace('"data"', `"data${i}"`);
        await s.cacheSet([`/files/${i}`], { body, fetchedAt: T0 }, 60_000, T0);
      }
      const stats = await s.cacheStats();
      expect(stats.entries).toBe(20);
      expect(stats.bytes).toBeLessThan(3 * REPORT.length);
      expect((await s.cacheGet('/files/7', T0 + 1))?.body).toBe(REPORT.replace('"data"', '"data7"'));
      // The file holds the compressed bodies: well under the text of one of them per entry.
      await s.close();
      expect(statSync(path).size + walSize(path)).toBeLessThan(5 * REPORT.length);
    } finally {
      await s.close();
    }
  });

  it('a damaged body is a miss, not a crash', async () => {
    const { s, path } = open();
    await s.cacheSet(['/files/z'], { body: REPORT, fetchedAt: T0 }, 60_000, T0);
    const db = new DatabaseSync(path);
    db.exec(`UPDATE cache SET body = x'00ff00ff'`);
    db.close();
    expect(await s.cacheGet('/files/z', T0 + 1)).toBeUndefined();
    await s.close();
  });

  it("keeps no key's text: an entry's keys are digests mapped to its number, and go with it", async () => {
    const { s, path } = open();
    // A second key's store on the same file: the same key text in another keyspace is another row.
    const other = openSqliteStore({ path, keyspace: keyspace(randomApiKey()), cacheMaxBytes: 1e6 });
    const sha256 = `/files/${'a'.repeat(64)}`;
    const md5 = `/files/${'b'.repeat(32)}`;
    const sha1 = `/files/${'c'.repeat(40)}`;
    const keyRows = (): Row[] => {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        return db.prepare('SELECT ks, k, id FROM cache_keys').all();
      } finally {
        db.close();
      }
    };
    try {
      await s.cacheSet([sha256, md5, sha1], { body: REPORT, fetchedAt: T0 }, 60_000, T0);
      await other.cacheSet([sha256], { body: '{}', fetchedAt: T0 }, 60_000, T0);
      const rows = keyRows();
      expect(rows).toHaveLength(4);
      for (const row of rows) expect((row.k as Uint8Array).byteLength).toBe(16);
      expect(new Set(rows.map((r) => r.ks)).size).toBe(2);
      expect(new Set(rows.map((r) => r.id)).size).toBe(2);
      // A new answer under one of the keys replaces the entry whole: its other keys go with it, and
      // the other keyspace's entry under the same text stays.
      await s.cacheSet([sha1], { body: '{"v":2}', fetchedAt: T0 + 1 }, 60_000, T0 + 1);
      expect(await s.cacheGet(sha256, T0 + 2)).toBeUndefined();
      expect(await s.cacheGet(md5, T0 + 2)).toBeUndefined();
      expect((await s.cacheGet(sha1, T0 + 2))?.body).toBe('{"v":2}');
      expect((await other.cacheGet(sha256, T0 + 2))?.body).toBe('{}');
      expect(await s.cacheStats()).toMatchObject({ entries: 1 });
      expect(keyRows()).toHaveLength(2);
    } finally {
      await s.close();
      await other.close();
    }
  });

  it("finds the cache's rows through a key or an index, never a scan or a sort", () => {
    const d = new DatabaseSync(':memory:');
    migrate(d);
    // The statements, and the delete trigger's removal of an entry's keys.
    const sqls = [
      ...Object.values(prepare(d)).map((st) => st.sourceSQL),
      'DELETE FROM cache_keys WHERE id = ?',
    ];
    for (const sql of sqls.filter((q) => /\bcache/.test(q))) {
      const args = Array.from(sql.match(/\?/g) ?? [], () => 1);
      const plan = d
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...args)
        .map((r) => String(r.detail));
      expect(
        plan.filter((step) => step.startsWith('SCAN') || step.includes('TEMP B-TREE')),
        sql,
      ).toEqual([]);
    }
    d.close();
  });

  /** What versions 1 and 2 wrote (1: bodies as text; 2: compressed bodies, key texts in every row). */
  const OLD_LAYOUTS: Record<string, { tables: string; entry: string }> = {
    '1': {
      tables: `
        CREATE TABLE cache (ks TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, fetched_at INTEGER NOT NULL,
          not_found INTEGER NOT NULL, expires_at INTEGER NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (ks, key));
        CREATE TABLE cache_keys (ks TEXT NOT NULL, k TEXT NOT NULL, canon TEXT NOT NULL, PRIMARY KEY (ks, k)) WITHOUT ROWID;
        CREATE TABLE cache_totals (ks TEXT PRIMARY KEY, entries INTEGER NOT NULL, bytes INTEGER NOT NULL) WITHOUT ROWID;`,
      entry: `INSERT INTO cache VALUES (?, '/files/old', '{}', ?, 0, ?, 10)`,
    },
    '2': {
      tables: `
        CREATE TABLE cache (ks TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL, encoding INTEGER NOT NULL,
          fetched_at INTEGER NOT NULL, not_found INTEGER NOT NULL, expires_at INTEGER NOT NULL,
          size INTEGER NOT NULL, PRIMARY KEY (ks, key));
        CREATE INDEX cache_age ON cache (ks);
        CREATE INDEX cache_exp ON cache (ks, expires_at);
        CREATE TABLE cache_keys (ks TEXT NOT NULL, k TEXT NOT NULL, canon TEXT NOT NULL, PRIMARY KEY (ks, k)) WITHOUT ROWID;
        CREATE INDEX cache_keys_canon ON cache_keys (ks, canon);
        CREATE TABLE cache_totals (ks TEXT PRIMARY KEY, entries INTEGER NOT NULL, bytes INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TRIGGER cache_ins AFTER INSERT ON cache BEGIN
          INSERT INTO cache_totals (ks, entries, bytes) VALUES (new.ks, 1, new.size)
            ON CONFLICT (ks) DO UPDATE SET entries = entries + 1, bytes = bytes + excluded.bytes;
        END;
        CREATE TRIGGER cache_del AFTER DELETE ON cache BEGIN
          UPDATE cache_totals SET entries = entries - 1, bytes = bytes - old.size WHERE ks = old.ks;
          DELETE FROM cache_keys WHERE ks = old.ks AND canon = old.key;
        END;`,
      entry: `INSERT INTO cache VALUES (?, '/files/old', x'7b7d', 0, ?, 0, ?, 12)`,
    },
  };

  it.each(Object.keys(OLD_LAYOUTS))(
    "opens a version-%s file: keeps the day's count and the documents, drops the cache",
    async (version) => {
      const layout = OLD_LAYOUTS[version] as { tables: string; entry: string };
      const path = join(t.dir, `v${version}.db`);
      const ks = keyspace(randomApiKey());
      const day = new Date(T0).toISOString().slice(0, 10);
      const db = new DatabaseSync(path);
      db.exec(`
        PRAGMA journal_mode = WAL;
        CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
        INSERT INTO meta VALUES ('schema', '${version}');
        CREATE TABLE days (ks TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (ks, day)) WITHOUT ROWID;
        CREATE TABLE docs (ks TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER,
          PRIMARY KEY (ks, key)) WITHOUT ROWID;
        ${layout.tables}
      `);
      db.prepare('INSERT INTO days VALUES (?, ?, 7)').run(ks, day);
      db.prepare(`INSERT INTO docs VALUES (?, 'job:old', '{"kept":true}', NULL)`).run(ks);
      db.prepare(layout.entry).run(ks, T0, T0 + 1e9);
      db.prepare(`INSERT INTO cache_keys VALUES (?, '/files/old', '/files/old')`).run(ks);
      db.prepare(`INSERT INTO cache_keys VALUES (?, '/files/alias', '/files/old')`).run(ks);
      db.close();

      const s = openSqliteStore({ path, keyspace: ks, cacheMaxBytes: 1e6 });
      try {
        expect((await s.usage(T0, W)).dayUsed).toBe(7);
        expect(await s.docGet('job:old', T0)).toBe('{"kept":true}');
        expect(await s.cacheGet('/files/old', T0)).toBeUndefined();
        expect(await s.cacheGet('/files/alias', T0)).toBeUndefined();
        expect(await s.cacheStats()).toEqual({ entries: 0, bytes: 0 });
        await s.cacheSet(['/files/new', '/files/new-alias'], { body: REPORT, fetchedAt: T0 }, 60_000, T0);
        expect((await s.cacheGet('/files/new-alias', T0))?.body).toBe(REPORT);
        expect((await s.cacheStats()).entries).toBe(1);
      } finally {
        await s.close();
      }
      const check = new DatabaseSync(path, { readOnly: true });
      expect(check.prepare(`SELECT v FROM meta WHERE k = 'schema'`).get()).toEqual({ v: '3' });
      // The old layout is gone, not left beside the new one.
      expect(check.prepare(`SELECT name FROM sqlite_schema WHERE name = 'cache_keys_canon'`).all()).toEqual(
        [],
      );
      check.close();
    },
  );

  it('counts the slots of a file written before slot_counts, and keeps counting what an older version writes', async () => {
    const { s, path } = open(64 * 1024 * 1024, 'slot-count');
    const ks = keyspace(`${path}-key`);
    await s.close();
    const other = openSqliteStore({ path, keyspace: ks, cacheMaxBytes: 1e6 });
    for (let i = 0; i < 3; i++) await other.acquire({ now: T0 + i, window: W, leaseMs: 60_000 });
    await other.close();
    // The file as the version before left it: no counts, no triggers.
    const db = new DatabaseSync(path);
    db.exec('DROP TRIGGER slots_ins; DROP TRIGGER slots_del; DROP TABLE slot_counts;');
    db.close();
    const again = openSqliteStore({ path, keyspace: ks, cacheMaxBytes: 1e6 });
    try {
      expect((await again.usage(T0 + 10, W)).windowUsed).toBe(3);
      // A row written as the version before writes it (its own INSERT, no code of ours) is counted.
      const older = new DatabaseSync(path);
      older
        .prepare('INSERT INTO slots (ks, id, pending, expires_at) VALUES (?, ?, 1, ?)')
        .run(ks, 'x.1', T0 + 60_000);
      older.close();
      expect((await again.usage(T0 + 10, W)).windowUsed).toBe(4);
      expect((await again.acquire({ now: T0 + 10, window: W, leaseMs: 60_000 })).granted).toBe(false);
      // Expired rows leave the count, whether a write has pruned them yet or not.
      expect((await again.usage(T0 + 60_000, W)).windowUsed).toBe(2);
      expect((await again.acquire({ now: T0 + 60_000, window: W, leaseMs: 60_000 })).granted).toBe(true);
      expect((await again.usage(T0 + 60_000, W)).windowUsed).toBe(3);
    } finally {
      await again.close();
    }
  });

  it('refuses a file of a newer schema, saying which', () => {
    const path = join(t.dir, 'v9.db');
    const db = new DatabaseSync(path);
    db.exec(
      `CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID; INSERT INTO meta VALUES ('schema', '9');`,
    );
    db.close();
    expect(() => openSqliteStore({ path, keyspace: 'k', cacheMaxBytes: 1e6 })).toThrow(
      /has state schema 9, this version reads 3/,
    );
  });

  it("hides Node's SQLite experimental warning and no other warning", () => {
    // A child process of the Node running the tests (22 prints the warning, 24 does not): loads the
    // store's driver as the server does, then emits a warning of its own.
    const sqliteModule = pathToFileURL(join(process.cwd(), 'dist', 'vt', 'state', 'sqlite.js')).href;
    const script = `
      const { loadNodeSqlite } = await import(${JSON.stringify(sqliteModule)});
      const { DatabaseSync } = loadNodeSqlite();
      new DatabaseSync(':memory:').close();
      process.emitWarning('a warning of our own', 'ExperimentalWarning');
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/SQLite is an experimental feature/);
    expect(r.stderr).toMatch(/ExperimentalWarning: a warning of our own/);
  });
});

function walSize(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}
