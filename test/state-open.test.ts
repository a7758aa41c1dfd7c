/**
 * VT_STATE: parsing, the default file's place per platform (computed with a fake env, nothing
 * created), opening each backend, the fallback to memory with its real cause in plain words when
 * SQLite cannot be opened, the one start line for each case, and VT_STATE=redis://… in an
 * installation without the Redis client (an error, not a fallback). Files go to temp directories
 * only, never to the user's cache directory.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultStatePath,
  openStateStore,
  parseStateSpec,
  redisClientMissingMessage,
  StateSpecError,
  stateStartLine,
} from '../src/vt/state/open.js';
import { ResilientStore } from '../src/vt/state/resilient.js';
import { openSqliteStore, type SqliteDriver } from '../src/vt/state/sqlite.js';
import { keyspace } from '../src/vt/state/store.js';
import {
  cleanRedis,
  closedPort,
  REDIS_NAMESPACE,
  REDIS_URL,
  randomApiKey,
  tellRedisSkipped,
  tempDir,
} from './helpers/state-backends.js';

tellRedisSkipped();

const FAKE_HOME = '/nonexistent-home/alice';

describe('the default state file', () => {
  it('Linux: $XDG_CACHE_HOME when absolute, else ~/.cache', () => {
    expect(
      defaultStatePath({ env: { XDG_CACHE_HOME: '/xdg/cache' }, platform: 'linux', homedir: FAKE_HOME }),
    ).toBe('/xdg/cache/vtbrief/state.db');
    expect(defaultStatePath({ env: {}, platform: 'linux', homedir: FAKE_HOME })).toBe(
      '/nonexistent-home/alice/.cache/vtbrief/state.db',
    );
    expect(
      defaultStatePath({ env: { XDG_CACHE_HOME: 'relative/cache' }, platform: 'linux', homedir: FAKE_HOME }),
    ).toBe('/nonexistent-home/alice/.cache/vtbrief/state.db');
    expect(defaultStatePath({ env: {}, platform: 'freebsd', homedir: FAKE_HOME })).toBe(
      '/nonexistent-home/alice/.cache/vtbrief/state.db',
    );
  });

  it('macOS: ~/Library/Caches; Windows: %LOCALAPPDATA%', () => {
    expect(
      defaultStatePath({ env: { XDG_CACHE_HOME: '/xdg' }, platform: 'darwin', homedir: '/Users/alice' }),
    ).toBe('/Users/alice/Library/Caches/vtbrief/state.db');
    expect(
      defaultStatePath({
        env: { LOCALAPPDATA: 'C:\\Users\\alice\\AppData\\Local' },
        platform: 'win32',
        homedir: 'C:\\Users\\alice',
      }),
    ).toBe('C:\\Users\\alice\\AppData\\Local\\vtbrief\\state.db');
    expect(defaultStatePath({ env: {}, platform: 'win32', homedir: 'C:\\Users\\alice' })).toBe(
      'C:\\Users\\alice\\AppData\\Local\\vtbrief\\state.db',
    );
  });

  it('is undefined without a home directory, and then the spec asks for a path', () => {
    expect(defaultStatePath({ env: {}, platform: 'linux', homedir: '' })).toBeUndefined();
    expect(() => parseStateSpec(undefined, { env: {}, platform: 'linux', homedir: '' })).toThrow(
      /sqlite:\/path/,
    );
  });

  it('computing it creates nothing', () => {
    const ctx = { env: {}, platform: 'linux' as const, homedir: FAKE_HOME };
    parseStateSpec(undefined, ctx);
    expect(existsSync(FAKE_HOME)).toBe(false);
  });
});

describe('parseStateSpec', () => {
  const ctx = { env: { XDG_CACHE_HOME: '/xdg' }, platform: 'linux' as const, homedir: FAKE_HOME };

  it('reads every accepted form', () => {
    expect(parseStateSpec(undefined, ctx)).toEqual({
      kind: 'sqlite',
      path: '/xdg/vtbrief/state.db',
      isDefault: true,
    });
    expect(parseStateSpec('  ', ctx)).toEqual({
      kind: 'sqlite',
      path: '/xdg/vtbrief/state.db',
      isDefault: true,
    });
    expect(parseStateSpec('SQLite', ctx)).toMatchObject({ kind: 'sqlite', isDefault: true });
    expect(parseStateSpec('sqlite:/srv/vt/state.db', ctx)).toEqual({
      kind: 'sqlite',
      path: '/srv/vt/state.db',
      isDefault: false,
    });
    expect(parseStateSpec('sqlite:~/vt.db', ctx)).toMatchObject({ path: `${FAKE_HOME}/vt.db` });
    expect(parseStateSpec('sqlite:C:\\vt\\state.db', { ...ctx, platform: 'win32' })).toMatchObject({
      path: 'C:\\vt\\state.db',
    });
    expect(parseStateSpec('memory', ctx)).toEqual({ kind: 'memory' });
    expect(parseStateSpec('redis://10.0.0.5:6379/2', ctx)).toEqual({
      kind: 'redis',
      url: 'redis://10.0.0.5:6379/2',
    });
    expect(parseStateSpec('rediss://:pw@cache.example:6380', ctx)).toMatchObject({ kind: 'redis' });
  });

  it('refuses anything else with a message naming what is accepted, never echoing a password', () => {
    for (const bad of [
      'postgres://x',
      'sqlite:',
      'sqlite:relative/state.db',
      'sqlite:/tmp/dir/',
      'redis://',
      'mem',
    ]) {
      expect(() => parseStateSpec(bad, ctx), bad).toThrow(StateSpecError);
      expect(() => parseStateSpec(bad, ctx), bad).toThrow(/VT_STATE must be "sqlite"/);
    }
    let msg = '';
    try {
      parseStateSpec('redis://user:s3cr3t-pw@host:6379/db', ctx);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/database number/);
    expect(msg).not.toContain('s3cr3t');
  });
});

describe('openStateStore', () => {
  const t = tempDir('open');
  afterAll(async () => {
    t.remove();
    if (REDIS_URL) await cleanRedis(REDIS_URL, REDIS_NAMESPACE);
  });

  it('memory', async () => {
    const opened = await openStateStore('memory', {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
    });
    expect(opened.fellBack).toBeUndefined();
    expect(opened.store.health()).toEqual({ kind: 'memory', location: 'memory', shared: false });
    expect(stateStartLine(opened)).toBe(
      'state: memory, this process only: the quota counts, the cache and triage jobs are not shared, and a restart loses them.',
    );
    await opened.store.close();
  });

  it('the default file under $XDG_CACHE_HOME (a temp dir here), created 0700/0600, wrapped to be resilient', async () => {
    const xdg = join(t.dir, 'xdg');
    const { store, fellBack } = await openStateStore(undefined, {
      apiKey: randomApiKey(),
      env: { XDG_CACHE_HOME: xdg },
      platform: process.platform,
      homedir: FAKE_HOME,
      cacheMaxBytes: 1e6,
    });
    expect(fellBack).toBeUndefined();
    expect(store).toBeInstanceOf(ResilientStore);
    expect(store.health()).toEqual({
      kind: 'sqlite',
      location: join(xdg, 'vtbrief', 'state.db'),
      shared: true,
    });
    expect(stateStartLine({ store, requested: 'sqlite' })).toBe(
      `state: sqlite at ${join(xdg, 'vtbrief', 'state.db')}, shared by every process on this key.`,
    );
    expect((await store.acquire({ now: Date.now(), leaseMs: 1000 })).granted).toBe(true);
    await store.close();
    if (process.platform !== 'win32') {
      expect(statSync(join(xdg, 'vtbrief')).mode & 0o777).toBe(0o700);
      expect(statSync(join(xdg, 'vtbrief', 'state.db')).mode & 0o777).toBe(0o600);
    }
  });

  it('falls back to memory, saying why and since when, on a Node without node:sqlite; one start line says so', async () => {
    const logs: string[] = [];
    const before = Date.now();
    const opened = await openStateStore(`sqlite:${join(t.dir, 'nodriver.db')}`, {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
      log: (m) => logs.push(m),
      sqlite: { driver: null },
    });
    const { store, fellBack } = opened;
    expect(fellBack).toMatch(
      /^this Node \(v[\d.]+\) has no built-in SQLite \(node:sqlite, Node 22\.13 or later\)$/,
    );
    expect(store.kind).toBe('memory');
    expect(store.health()).toMatchObject({ kind: 'memory', shared: false, reason: fellBack });
    expect(store.health().degradedSince).toBeGreaterThanOrEqual(before);
    // The caller logs the one start line; the opener adds none of its own.
    expect(logs).toEqual([]);
    expect(stateStartLine(opened)).toBe(
      `state: memory, this process only: ${fellBack}. The quota counts, the cache and triage jobs are not ` +
        'shared with other processes and a restart loses them; not retried: once that is fixed, a restart uses the SQLite file.',
    );
    expect((await store.acquire({ now: Date.now(), leaseMs: 1000 })).granted).toBe(true);
    await store.close();
  });

  /** What opening `path` falls back with (the store is closed). */
  async function fallBackReason(path: string, sqlite?: { busyTimeoutMs?: number; driver?: SqliteDriver }) {
    const { store, fellBack } = await openStateStore(`sqlite:${path}`, {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
      ...(sqlite ? { sqlite } : {}),
    });
    expect(store.kind).toBe('memory');
    await store.close();
    return fellBack;
  }

  it('falls back to memory when the file is not a database, and says so in plain words', async () => {
    const path = join(t.dir, 'corrupt.db');
    writeFileSync(path, 'this is not a SQLite database, not at all, not even close'.repeat(100));
    expect(await fallBackReason(path)).toBe(
      `the SQLite state file ${path} could not be opened: it is not a SQLite database (file is not a database)`,
    );
  });

  it('names each cause of a file that cannot be opened: a directory, a file in the path, a newer schema, a lock, permission', async () => {
    const dir = join(t.dir, 'is-a-dir.db');
    mkdirSync(dir);
    expect(await fallBackReason(dir)).toBe(
      `the SQLite state file ${dir} could not be opened: that path is a directory`,
    );

    const underFile = join(t.dir, 'plain-file', 'state.db');
    writeFileSync(join(t.dir, 'plain-file'), 'x');
    expect(await fallBackReason(underFile)).toBe(
      `the SQLite state file ${underFile} could not be opened: a part of its path is a file, not a directory`,
    );

    const newer = join(t.dir, 'newer.db');
    await openSqliteStore({ path: newer, keyspace: keyspace(randomApiKey()), cacheMaxBytes: 1e6 }).close();
    const raw = new DatabaseSync(newer);
    raw.exec(`UPDATE meta SET v = '99' WHERE k = 'schema'`);
    raw.close();
    expect(await fallBackReason(newer)).toMatch(
      new RegExp(
        `^the SQLite state file ${newer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} could not be opened: a newer vtbrief wrote it ` +
          '\\(state schema 99; this version reads \\d+\\): update vtbrief, or give this one another file$',
      ),
    );

    const locked = join(t.dir, 'locked.db');
    await openSqliteStore({ path: locked, keyspace: keyspace(randomApiKey()), cacheMaxBytes: 1e6 }).close();
    const holder = new DatabaseSync(locked);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      expect(await fallBackReason(locked, { busyTimeoutMs: 50 })).toBe(
        `the SQLite state file ${locked} could not be opened: another process holds its lock (database is locked)`,
      );
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }

    // Tests may run as root, whom no file mode stops: the driver fails as SQLite does for another user.
    const denied = {
      DatabaseSync: class {
        constructor(path: string) {
          throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
        }
      },
    } as unknown as SqliteDriver;
    const path = join(t.dir, 'denied.db');
    expect(await fallBackReason(path, { driver: denied })).toBe(
      `the SQLite state file ${path} could not be opened: permission denied: this user may not read and write it, or create it in its directory`,
    );
  });

  it('VT_STATE=redis://… without the Redis client installed is an error naming what to run, never a fallback', async () => {
    // What Node throws when the `redis` package is missing from node_modules (the Claude Desktop bundle).
    const missing = () =>
      Promise.reject(
        Object.assign(
          new Error("Cannot find package 'redis' imported from /opt/vtbrief/dist/vt/state/redis.js"),
          { code: 'ERR_MODULE_NOT_FOUND' },
        ),
      );
    const err = await openStateStore('redis://alice:s3cr3t-pw@cache.example:6380/3', {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
      redis: { load: missing },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StateSpecError);
    const msg = (err as Error).message;
    expect(msg).toBe(
      'VT_STATE=redis://cache.example:6380/3 needs the Redis client, which this installation does not include ' +
        "(the Claude Desktop bundle runs one user's server on SQLite: leave VT_STATE unset); to run replicas " +
        'on Redis, run the npm package: npx -y vtbrief',
    );
    expect(msg).toMatch(/npx -y vtbrief/);
    expect(msg).not.toMatch(/s3cr3t|alice/);
    expect(msg).not.toContain('\n');
    // The Redis store's own module missing (a pruned copy) is the same installation problem.
    const ourModule = () =>
      Promise.reject(
        Object.assign(
          new Error(
            "Cannot find module '/opt/vtbrief/dist/vt/state/redis.js' imported from /opt/vtbrief/dist/vt/state/open.js",
          ),
          { code: 'ERR_MODULE_NOT_FOUND' },
        ),
      );
    await expect(
      openStateStore('rediss://h:6379', {
        apiKey: 'k',
        env: {},
        cacheMaxBytes: 1,
        redis: { load: ourModule },
      }),
    ).rejects.toThrow(redisClientMissingMessage('rediss://h:6379'));
    expect(redisClientMissingMessage('rediss://h')).toMatch(/^VT_STATE=rediss:\/\/h:6379\/0 needs/);
  });

  it('a Redis client that is installed but fails to load falls back to memory, naming the failure', async () => {
    const broken = () => Promise.reject(new SyntaxError('Unexpected token in redis/dist/index.js'));
    const opened = await openStateStore('redis://127.0.0.1:6379/0', {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
      redis: { load: broken },
    });
    expect(opened.fellBack).toBe(
      'the Redis client could not be loaded: SyntaxError: Unexpected token in redis/dist/index.js',
    );
    expect(opened.store.health()).toMatchObject({ kind: 'memory', reason: opened.fellBack });
    expect(stateStartLine(opened)).toMatch(
      /^state: memory, this process only: the Redis client could not be loaded: .*a restart uses Redis\.$/,
    );
    await opened.store.close();
  });

  it('Redis not reachable at start: degraded, not a fallback; one start line names the connection error', async () => {
    const port = await closedPort();
    const logs: string[] = [];
    const opened = await openStateStore(`redis://127.0.0.1:${port}/0`, {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
      log: (m) => logs.push(m),
      resilient: { timeoutMs: 200, probeEveryMs: 60_000 },
      redis: { timeoutMs: 200, connectWaitMs: 200 },
    });
    try {
      expect(opened.fellBack).toBeUndefined();
      expect(opened.store.health()).toMatchObject({
        kind: 'redis',
        shared: true,
        reason: `not reachable: connect ECONNREFUSED 127.0.0.1:${port}`,
      });
      expect(logs).toEqual([]);
      expect(stateStartLine(opened)).toBe(
        `state: redis at redis://127.0.0.1:${port}/0 is unavailable (not reachable: connect ECONNREFUSED 127.0.0.1:${port}): ` +
          "this process counts on its own, in memory, until it answers (retried in the background), so other processes' " +
          'lookups on this key are not in its counts.',
      );
    } finally {
      await opened.store.close();
    }
  });

  it('a bad spec is an error for the config layer', async () => {
    await expect(openStateStore('etcd://x', { apiKey: 'k', env: {}, cacheMaxBytes: 1 })).rejects.toThrow(
      StateSpecError,
    );
  });

  it.skipIf(!REDIS_URL)('redis: the URL of VT_TEST_REDIS_URL, location without credentials', async () => {
    const { store, fellBack } = await openStateStore(REDIS_URL, {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
      redis: { namespace: REDIS_NAMESPACE },
    });
    try {
      expect(fellBack).toBeUndefined();
      expect(store.kind).toBe('redis');
      expect(store.health().degradedSince).toBeUndefined();
      expect(store.location).toMatch(/^redis:\/\/[^@]+:\d+\/\d+$/);
      expect((await store.acquire({ now: Date.now(), leaseMs: 1000 })).granted).toBe(true);
    } finally {
      await store.close();
    }
  });
});
