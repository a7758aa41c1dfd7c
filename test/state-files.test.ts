/**
 * What the stores leave behind: the SQLite file is 0600 in a 0700 directory, in WAL mode (and what it
 * did not create keeps its mode: test/state-safe-files.test.ts has the refusals); the API key
 * (a canary) appears in no byte of the database, its -wal or -shm files, nor in any Redis key or value.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { openRedisStore } from '../src/vt/state/redis.js';
import { openSqliteStore } from '../src/vt/state/sqlite.js';
import { keyspace, type StateStore } from '../src/vt/state/store.js';
import {
  cleanRedis,
  REDIS_NAMESPACE,
  REDIS_URL,
  randomApiKey,
  tellRedisSkipped,
  tempDir,
} from './helpers/state-backends.js';

tellRedisSkipped();

const posix = process.platform !== 'win32';
const T0 = Date.now();

/** Touches every kind of state, with the key itself nowhere in the arguments (it is only hashed). */
async function exercise(s: StateStore): Promise<void> {
  const w = { requests: 4, seconds: 60 };
  for (let i = 0; i < 3; i++) {
    const a = await s.acquire({ now: T0 + i, window: w, dailyQuota: 100, leaseMs: 30_000 });
    if (a.granted) {
      if (i === 1) await s.refund(a.slot, T0 + i);
      else await s.settle(a.slot, T0 + i + 5, w);
    }
  }
  await s.pause(T0 + 10_000, T0);
  await s.cacheSet(
    [`/files/${'a'.repeat(64)}`, `/files/${'b'.repeat(32)}`],
    { body: JSON.stringify({ data: { type: 'file', id: 'a'.repeat(64) } }), fetchedAt: T0 },
    60_000,
    T0,
  );
  await s.cacheSet(['/domains/example.com'], { body: '', fetchedAt: T0, notFound: true }, 60_000, T0);
  await s.lease('fetch:/domains/example.com', 'owner-1', 10_000, T0);
  await s.docPut('job:1', '{"items":3}', 60_000, T0);
  await s.usage(T0 + 100, w);
}

/** Every form of the key a careless store could write: as is, hex, base64, UTF-16. */
function forms(key: string): Buffer[] {
  return [
    Buffer.from(key, 'utf8'),
    Buffer.from(Buffer.from(key).toString('hex')),
    Buffer.from(Buffer.from(key).toString('base64').slice(0, 40)),
    Buffer.from(key, 'utf16le'),
    Buffer.from(key.slice(-24), 'utf8'),
  ];
}

describe('SQLite file', () => {
  it('is created 0600 in a directory created 0700, in WAL mode', async () => {
    const t = tempDir('files');
    try {
      const path = join(t.dir, 'nested', 'deeper', 'state.db');
      const s = openSqliteStore({ path, keyspace: keyspace(randomApiKey()), cacheMaxBytes: 1e6 });
      await exercise(s);
      if (posix) {
        expect(statSync(path).mode & 0o777).toBe(0o600);
        expect(statSync(join(t.dir, 'nested', 'deeper')).mode & 0o777).toBe(0o700);
        expect(statSync(join(t.dir, 'nested')).mode & 0o777).toBe(0o700);
        for (const side of ['-wal', '-shm']) {
          if (existsSync(path + side)) expect(statSync(path + side).mode & 0o777).toBe(0o600);
        }
      }
      expect(existsSync(`${path}-wal`)).toBe(true);
      await s.close();
      const db = new DatabaseSync(path, { readOnly: true });
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
      db.close();
    } finally {
      t.remove();
    }
  });

  it.skipIf(!posix)(
    'never changes the mode of what it did not create: a 0755 directory and a 0644 file are used as they are',
    async () => {
      const t = tempDir('files-loose');
      try {
        const own = join(t.dir, 'own');
        mkdirSync(own, { mode: 0o755 });
        chmodSync(own, 0o755);
        const path = join(own, 'state.db');
        writeFileSync(path, '', { mode: 0o644 });
        chmodSync(path, 0o644);
        const a = openSqliteStore({ path, keyspace: 'k', cacheMaxBytes: 1e6, ownDirectory: true });
        await a.close();
        expect(statSync(own).mode & 0o777).toBe(0o755);
        expect(statSync(path).mode & 0o777).toBe(0o644);
        // What it creates in a directory the user named is 0600 there too.
        const shared = join(t.dir, 'shared');
        mkdirSync(shared, { mode: 0o755 });
        chmodSync(shared, 0o755);
        const b = openSqliteStore({ path: join(shared, 's.db'), keyspace: 'k', cacheMaxBytes: 1e6 });
        await b.close();
        expect(statSync(shared).mode & 0o777).toBe(0o755);
        expect(statSync(join(shared, 's.db')).mode & 0o777).toBe(0o600);
      } finally {
        t.remove();
      }
    },
  );

  it('never holds the API key: not in the database, nor its -wal or -shm files', async () => {
    const t = tempDir('canary');
    try {
      const canary = randomApiKey('canary');
      const path = join(t.dir, 'state.db');
      const s = openSqliteStore({ path, keyspace: keyspace(canary), cacheMaxBytes: 1e6 });
      await exercise(s);
      const check = (atLeast: number) => {
        const files = [path, `${path}-wal`, `${path}-shm`].filter((p) => existsSync(p));
        expect(files.length).toBeGreaterThanOrEqual(atLeast);
        const all = Buffer.concat(files.map((p) => readFileSync(p)));
        // The store did write (its keyspace is there), but never the key.
        expect(all.includes(Buffer.from(keyspace(canary)))).toBe(true);
        for (const f of forms(canary)) expect(all.includes(f)).toBe(false);
      };
      // Open: the database, its -wal and -shm files; closed: the checkpointed database.
      check(3);
      await s.close();
      check(1);
    } finally {
      t.remove();
    }
  });
});

describe.skipIf(!REDIS_URL)('Redis keys and values', () => {
  afterAll(async () => {
    if (REDIS_URL) await cleanRedis(REDIS_URL, REDIS_NAMESPACE);
  });

  it('never hold the API key, and all sit under the store’s prefix', async () => {
    const url = REDIS_URL as string;
    const canary = randomApiKey('canary');
    const s = await openRedisStore({
      url,
      keyspace: keyspace(canary),
      cacheMaxBytes: 1e6,
      namespace: REDIS_NAMESPACE,
    });
    await exercise(s);
    await s.close();
    const c = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
    c.on('error', () => {});
    await c.connect();
    try {
      const prefix = `${REDIS_NAMESPACE}:${keyspace(canary)}:`;
      const seen: string[] = [];
      const chunks: string[] = [];
      // The whole database, not only our prefix: nothing anywhere may hold the key.
      for await (const keys of c.scanIterator({ MATCH: '*', COUNT: 500 })) {
        for (const k of keys) {
          chunks.push(k);
          if (k.startsWith(prefix)) seen.push(k);
          const type = await c.type(k);
          if (type === 'string') chunks.push(String(await c.get(k)));
          else if (type === 'hash') chunks.push(JSON.stringify(await c.hGetAll(k)));
          else if (type === 'zset') chunks.push(JSON.stringify(await c.zRangeWithScores(k, 0, -1)));
          else if (type === 'set') chunks.push(JSON.stringify(await c.sMembers(k)));
          else if (type === 'list') chunks.push(JSON.stringify(await c.lRange(k, 0, -1)));
        }
      }
      expect(seen.length).toBeGreaterThanOrEqual(8);
      const all = Buffer.from(chunks.join('\n'));
      for (const f of forms(canary)) expect(all.includes(f)).toBe(false);
      // Every key of ours carries an expiry (a safety net), except the document index and documents
      // without a TTL (none here).
      for (const k of seen) {
        const ttl = await c.pTTL(k);
        if (!k.endsWith(':didx')) expect(ttl, k).toBeGreaterThan(0);
      }
    } finally {
      c.destroy();
    }
  });
});
