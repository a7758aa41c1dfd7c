/**
 * VT_STATE: parsing, the default file's place per platform (computed with a fake env, nothing
 * created), opening each backend, and the fallback to memory with a stated reason when SQLite cannot
 * be opened. Files go to temp directories only, never to the user's cache directory.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultStatePath, openStateStore, parseStateSpec, StateSpecError } from '../src/vt/state/open.js';
import { ResilientStore } from '../src/vt/state/resilient.js';
import {
  cleanRedis,
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
    const { store, fellBack } = await openStateStore('memory', {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
    });
    expect(fellBack).toBeUndefined();
    expect(store.health()).toEqual({ kind: 'memory', location: 'memory', shared: false });
    await store.close();
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
    expect((await store.acquire({ now: Date.now(), leaseMs: 1000 })).granted).toBe(true);
    await store.close();
    if (process.platform !== 'win32') {
      expect(statSync(join(xdg, 'vtbrief')).mode & 0o777).toBe(0o700);
      expect(statSync(join(xdg, 'vtbrief', 'state.db')).mode & 0o777).toBe(0o600);
    }
  });

  it('falls back to memory, saying why, on a Node without node:sqlite', async () => {
    const logs: string[] = [];
    const { store, fellBack } = await openStateStore(`sqlite:${join(t.dir, 'nodriver.db')}`, {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
      log: (m) => logs.push(m),
      sqlite: { driver: null },
    });
    expect(fellBack).toMatch(
      /^this Node \(v[\d.]+\) has no built-in SQLite \(node:sqlite, Node 22\.13 or later\)$/,
    );
    expect(store.kind).toBe('memory');
    expect(store.health().reason).toBe(fellBack);
    expect(logs.join('\n')).toContain(fellBack);
    expect((await store.acquire({ now: Date.now(), leaseMs: 1000 })).granted).toBe(true);
    await store.close();
  });

  it('falls back to memory when the file is not a database', async () => {
    const path = join(t.dir, 'corrupt.db');
    writeFileSync(path, 'this is not a SQLite database, not at all, not even close'.repeat(100));
    const { store, fellBack } = await openStateStore(`sqlite:${path}`, {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
    });
    expect(fellBack).toMatch(/could not be opened/);
    expect(fellBack).toContain(path);
    expect(store.kind).toBe('memory');
    await store.close();
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
