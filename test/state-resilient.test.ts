/**
 * ResilientStore: when the shared store fails or hangs, calls are answered from memory within a
 * bound (a small multiple of the call time limit), the store says since when it is degraded, logs it
 * once, and goes back when the shared store answers again. The shared stores are real: a SQLite file
 * behind a switch, Redis at a closed port, and a redis-server of our own that is killed and restarted.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/vt/state/memory.js';
import { openStateStore } from '../src/vt/state/open.js';
import { openRedisStore } from '../src/vt/state/redis.js';
import { ResilientStore } from '../src/vt/state/resilient.js';
import { openSqliteStore } from '../src/vt/state/sqlite.js';
import { keyspace, type StateStore, type WindowSpec } from '../src/vt/state/store.js';
import {
  closedPort,
  killAndWait,
  randomApiKey,
  redisServerPath,
  startRedisServer,
  tempDir,
} from './helpers/state-backends.js';
import { SwitchedStore } from './helpers/state-switch.js';

const TIMEOUT = 200;
const PROBE = 100;
const W: WindowSpec = { requests: 3, seconds: 60 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(25);
  }
}

/** Holds this thread for `ms`, as a long synchronous task or a garbage collection would. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

/** The port a redis-server of ours was started on. */
function portOf(server: ChildProcess): number {
  return Number(server.spawnargs[server.spawnargs.indexOf('--port') + 1]);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

const toClose: StateStore[] = [];
afterEach(async () => {
  await Promise.all(toClose.splice(0).map((s) => s.close()));
});

describe('ResilientStore around a real SQLite store behind a switch', () => {
  const t = tempDir('resilient');
  afterAll(() => t.remove());

  function make(mode: 'hang' | 'throw') {
    const inner = openSqliteStore({
      path: join(t.dir, `${mode}.db`),
      keyspace: keyspace(randomApiKey()),
      cacheMaxBytes: 1e6,
    });
    const sw = new SwitchedStore(inner);
    const logs: string[] = [];
    const r = new ResilientStore(sw, {
      cacheMaxBytes: 1e6,
      timeoutMs: TIMEOUT,
      probeEveryMs: PROBE,
      log: (m) => logs.push(m),
    });
    toClose.push(r);
    return { inner, sw, r, logs };
  }

  for (const mode of ['hang', 'throw'] as const) {
    it(`answers from memory when the store ${mode === 'hang' ? 'hangs' : 'fails'}, then goes back`, async () => {
      const { inner, sw, r, logs } = make(mode);
      const now = Date.now();
      // Healthy: the shared store answers.
      const a = await r.acquire({ now, window: W, leaseMs: 60_000 });
      const b = await r.acquire({ now, window: W, leaseMs: 60_000 });
      if (!a.granted || !b.granted) throw new Error('not granted');
      expect(a.slot.startsWith('p:')).toBe(true);
      await r.cacheSet(['/files/x'], { body: '{"x":1}', fetchedAt: now }, 60_000, now);
      expect(await inner.cacheGet('/files/x', now)).toBeDefined();
      expect(r.health().degradedSince).toBeUndefined();

      sw.mode = mode;
      // The first call waits at most about its time limit, then memory answers.
      const first = await timed(() => r.acquire({ now: now + 1, window: W, leaseMs: 60_000 }));
      expect(first.ms).toBeLessThan(TIMEOUT * 5);
      expect(r.degradedSince).toBeTypeOf('number');
      expect(r.health()).toMatchObject({ kind: 'sqlite', shared: true, degradedSince: r.degradedSince });
      expect(r.health().reason).toMatch(mode === 'hang' ? /no answer within/ : /switched off/);
      // The fallback started from what this process knew: two slots of the window were taken, so
      // the first degraded call got the third and nothing more is granted.
      expect(first.value.granted).toBe(true);
      expect(first.value.granted && first.value.slot.startsWith('m:')).toBe(true);
      const next = await timed(async () => {
        const out = [];
        for (let i = 0; i < 20; i++) {
          out.push(await r.acquire({ now: now + 2, window: W, leaseMs: 60_000 }));
          await r.cacheGet('/files/x', now + 2);
          await r.usage(now + 2, W);
        }
        return out;
      });
      expect(next.value.every((x) => !x.granted)).toBe(true);
      // Degraded calls do not wait for the store: 60 of them take less than one time limit.
      expect(next.ms).toBeLessThan(TIMEOUT);
      expect(logs.filter((l) => l.includes('unavailable'))).toHaveLength(1);
      // Work done meanwhile: a settle of a shared slot (queued), a pause (mirrored), a document.
      await r.settle(a.slot, now + 3, W);
      await r.refund(b.slot, now + 3);
      await r.pause(now + 5_000, now + 3);
      expect(await r.acquire({ now: now + 4, leaseMs: 60_000 })).toMatchObject({ reason: 'paused' });
      await r.docPut('job:1', 'while degraded', undefined, now + 4);

      sw.mode = 'ok';
      await until(() => r.degradedSince === undefined, 5_000);
      expect(
        logs.filter((l) => l.includes('answers again')),
        logs.join('\n'),
      ).toHaveLength(1);
      // The queued settle and refund reached the shared store: one slot left, freeing a window after
      // its answer, and the day's count given back.
      expect(await inner.usage(now + 10, { requests: 1, seconds: 60 })).toMatchObject({
        windowUsed: 1,
        nextFreeAt: now + 3 + 60_000,
        dayUsed: 1,
      });
      const passed = sw.passed;
      const back = await r.acquire({ now: now + 10, leaseMs: 60_000 });
      expect(back.granted && back.slot.startsWith('p:')).toBe(true);
      expect(sw.passed).toBe(passed + 1);
      // The document written while degraded is still found.
      expect(await r.docGet('job:1', now + 10)).toBe('while degraded');
      expect(await r.docList('job:', now + 10)).toEqual(['job:1']);
    });
  }

  it('a SQLite file locked by another connection: memory answers, then the store is used again', async () => {
    const path = join(t.dir, 'locked.db');
    const logs: string[] = [];
    const { store } = await openStateStore(`sqlite:${path}`, {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
      log: (m) => logs.push(m),
      resilient: { timeoutMs: TIMEOUT, probeEveryMs: PROBE },
      sqlite: { busyTimeoutMs: 50 },
    });
    toClose.push(store);
    const r = store as ResilientStore;
    const now = Date.now();
    expect((await r.acquire({ now, window: W, leaseMs: 60_000 })).granted).toBe(true);
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const a = await r.acquire({ now, window: W, leaseMs: 60_000 });
      expect(a.granted && a.slot.startsWith('m:')).toBe(true);
      expect(r.health().reason).toMatch(/locked|busy/i);
      // The probe also needs the write lock: still degraded while it is held.
      await sleep(PROBE * 3);
      await r.probe();
      expect(r.degradedSince).toBeTypeOf('number');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await until(() => r.degradedSince === undefined, 5_000);
    const back = await r.acquire({ now, window: W, leaseMs: 60_000 });
    expect(back.granted && back.slot.startsWith('p:')).toBe(true);
    expect(logs.filter((l) => l.includes('unavailable'))).toHaveLength(1);
  });

  it('can start degraded (initialFailure) and recovers at the first probe that answers', async () => {
    const inner = new MemoryStore({ cacheMaxBytes: 1e6 });
    const sw = new SwitchedStore(inner);
    sw.mode = 'throw';
    const r = new ResilientStore(sw, {
      cacheMaxBytes: 1e6,
      timeoutMs: TIMEOUT,
      probeEveryMs: PROBE,
      initialFailure: 'not reachable at start',
    });
    toClose.push(r);
    expect(r.health().reason).toBe('not reachable at start');
    expect((await r.acquire({ now: Date.now(), leaseMs: 1 })).granted).toBe(true);
    expect(sw.passed).toBe(0);
    sw.mode = 'ok';
    await until(() => r.degradedSince === undefined, 5_000);
    await r.cacheSet(['k'], { body: '1', fetchedAt: 1 }, 1000, Date.now());
    expect(sw.passed).toBeGreaterThan(0);
  });
});

describe('ResilientStore logging', () => {
  it('a store that fails and answers again over and over logs each cause once, not every flip', async () => {
    const inner = new MemoryStore({ cacheMaxBytes: 1e6 });
    const sw = new SwitchedStore(inner);
    const logs: string[] = [];
    let clock = Date.UTC(2031, 0, 1);
    const r = new ResilientStore(sw, {
      cacheMaxBytes: 1e6,
      timeoutMs: TIMEOUT,
      probeEveryMs: PROBE,
      log: (m) => logs.push(m),
      clock: () => clock,
    });
    toClose.push(r);
    for (let flip = 0; flip < 6; flip++) {
      sw.mode = 'throw';
      await r.acquire({ now: Date.now(), leaseMs: 1 });
      expect(r.degradedSince).toBeTypeOf('number');
      sw.mode = 'ok';
      clock += 5_000;
      await r.probe();
      expect(r.degradedSince).toBeUndefined();
    }
    expect(logs.filter((l) => l.includes('unavailable'))).toHaveLength(1);
    expect(logs.filter((l) => l.includes('answers again'))).toHaveLength(1);
    // Ten minutes on, the same cause is logged again, with how often it came back unlogged.
    clock += 10 * 60_000;
    sw.mode = 'throw';
    await r.acquire({ now: Date.now(), leaseMs: 1 });
    const last = logs.filter((l) => l.includes('unavailable')).at(-1) ?? '';
    expect(logs.filter((l) => l.includes('unavailable'))).toHaveLength(2);
    expect(last).toMatch(/\(5 more times since 2031-01-01T00:00:00\.000Z, not logged\)/);
  });
});

describe('ResilientStore logging, two causes', () => {
  const t = tempDir('resilient-causes');
  afterAll(() => t.remove());

  it('a lock held by another connection and a store switched off: each cause once per period, with how often it came back', async () => {
    const path = join(t.dir, 'causes.db');
    const inner = openSqliteStore({
      path,
      keyspace: keyspace(randomApiKey()),
      cacheMaxBytes: 1e6,
      busyTimeoutMs: 30,
    });
    const sw = new SwitchedStore(inner);
    const logs: string[] = [];
    let clock = Date.UTC(2031, 0, 1);
    const r = new ResilientStore(sw, {
      cacheMaxBytes: 1e6,
      timeoutMs: 2_000,
      probeEveryMs: 3_600_000,
      log: (m) => logs.push(m),
      clock: () => clock,
    });
    toClose.push(r);
    const other = new DatabaseSync(path);
    const outage = async (cause: 'locked' | 'off') => {
      if (cause === 'locked') other.exec('BEGIN IMMEDIATE');
      else sw.mode = 'throw';
      try {
        await r.acquire({ now: Date.now(), leaseMs: 1 });
        expect(r.health().reason).toMatch(cause === 'locked' ? /database is locked/ : /switched off/);
      } finally {
        if (cause === 'locked') other.exec('ROLLBACK');
        else sw.mode = 'ok';
      }
      clock += 5_000;
      await r.probe();
      expect(r.degradedSince).toBeUndefined();
    };
    const unavailable = (why: RegExp) => logs.filter((l) => l.includes('unavailable') && why.test(l));
    try {
      for (let i = 0; i < 4; i++) {
        await outage('locked');
        await outage('off');
      }
      expect(unavailable(/database is locked/)).toHaveLength(1);
      expect(unavailable(/switched off/)).toHaveLength(1);
      expect(logs.filter((l) => l.includes('unavailable'))).toHaveLength(2);
      // Ten minutes after each was logged, each is logged again, with how often it came back unlogged.
      clock += 10 * 60_000;
      await outage('locked');
      await outage('off');
      expect(unavailable(/database is locked/)).toHaveLength(2);
      expect(unavailable(/switched off/)).toHaveLength(2);
      expect(unavailable(/database is locked/)[1]).toMatch(
        /\(3 more times since 2031-01-01T00:00:00\.000Z, not logged\)/,
      );
      expect(unavailable(/switched off/)[1]).toMatch(
        /\(3 more times since 2031-01-01T00:00:05\.000Z, not logged\)/,
      );
    } finally {
      other.close();
    }
  });
});

describe('ResilientStore and Redis', () => {
  it('Redis at a closed port: every call answers from memory, quickly, and the store says so', async () => {
    const port = await closedPort();
    const logs: string[] = [];
    const { store, fellBack } = await openStateStore(`redis://127.0.0.1:${port}/0`, {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
      log: (m) => logs.push(m),
      resilient: { timeoutMs: TIMEOUT, probeEveryMs: PROBE },
      redis: { timeoutMs: TIMEOUT, connectWaitMs: TIMEOUT },
    });
    toClose.push(store);
    expect(fellBack).toBeUndefined();
    expect(store.kind).toBe('redis');
    expect(store.health().degradedSince).toBeTypeOf('number');
    // The real cause, not just "not reachable"; the caller's start line reports it (no line of its own).
    expect(store.health().reason).toBe(`not reachable: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(logs).toEqual([]);
    const now = Date.now();
    const run = await timed(async () => {
      for (let i = 0; i < 10; i++) {
        await store.acquire({ now, window: W, leaseMs: 1000 });
        await store.cacheSet([`/k/${i}`], { body: '{}', fetchedAt: now }, 1000, now);
        await store.cacheGet(`/k/${i}`, now);
        await store.lease(`L${i}`, 'me', 1000, now);
        await store.usage(now, W);
      }
    });
    expect(run.ms).toBeLessThan(TIMEOUT * 5);
    expect((await store.usage(now, W)).windowUsed).toBe(3);
    expect(await store.cacheGet('/k/3', now)).toEqual({ body: '{}', fetchedAt: now });
    // A probe that fails keeps naming the connection's error, not the client's "The client is offline".
    await (store as ResilientStore).probe();
    expect(store.health().reason).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(logs.join('\n')).not.toMatch(/password/);
  });

  it('a bare RedisStore at a closed port fails fast instead of hanging', async () => {
    const port = await closedPort();
    const s = await openRedisStore({
      url: `redis://127.0.0.1:${port}/0`,
      keyspace: 'k',
      cacheMaxBytes: 1e6,
      timeoutMs: TIMEOUT,
      connectWaitMs: TIMEOUT,
    });
    toClose.push(s);
    expect(s.connected).toBe(false);
    const r = await timed(() =>
      s.acquire({ now: Date.now(), leaseMs: 1 }).then(
        () => 'answered',
        () => 'failed',
      ),
    );
    expect(r.value).toBe('failed');
    expect(r.ms).toBeLessThan(TIMEOUT * 3);
  });

  const bin = redisServerPath();
  if (!bin) console.log('redis-server is not on PATH: the stop-and-restart test is skipped.');
  describe.skipIf(!bin)('a redis-server of our own, stopped mid-run and started again', () => {
    let server: ChildProcess | undefined;
    afterAll(async () => {
      if (server) await killAndWait(server);
    });
    /** The server left running by an earlier test, or a new one when a test failed without it. */
    async function running(): Promise<ChildProcess> {
      server ??= await startRedisServer(bin as string, await closedPort());
      return server;
    }

    it('answers throughout, shows degraded mode, and resumes shared accounting', {
      timeout: 40_000,
    }, async () => {
      const port = await closedPort();
      const url = `redis://127.0.0.1:${port}/0`;
      server = await startRedisServer(bin as string, port);
      const apiKey = randomApiKey();
      const logs: string[] = [];
      const { store } = await openStateStore(url, {
        apiKey,
        env: {},
        cacheMaxBytes: 1e6,
        log: (m) => logs.push(m),
        resilient: { timeoutMs: 500, probeEveryMs: PROBE },
        redis: { timeoutMs: 500, connectWaitMs: 3_000 },
      });
      toClose.push(store);
      const r = store as ResilientStore;
      const w: WindowSpec = { requests: 100, seconds: 60 };
      const first = await r.acquire({ now: Date.now(), window: w, leaseMs: 30_000 });
      expect(first.granted && first.slot.startsWith('p:')).toBe(true);
      expect(r.degradedSince).toBeUndefined();

      await killAndWait(server);
      server = undefined;
      const down = await timed(async () => {
        const out = [];
        for (let i = 0; i < 5; i++)
          out.push(await r.acquire({ now: Date.now(), window: w, leaseMs: 30_000 }));
        return out;
      });
      expect(down.value.every((a) => a.granted)).toBe(true);
      expect(down.ms).toBeLessThan(500 * 5);
      expect(r.degradedSince).toBeTypeOf('number');
      expect(r.health().degradedSince).toBe(r.degradedSince);

      server = await startRedisServer(bin as string, port);
      await until(() => r.degradedSince === undefined, 20_000);
      const back = await r.acquire({ now: Date.now(), window: w, leaseMs: 30_000 });
      expect(back.granted && back.slot.startsWith('p:')).toBe(true);
      // Another client on the key sees the slot taken after the restart: accounting is shared again.
      const other = await openRedisStore({ url, keyspace: keyspace(apiKey), cacheMaxBytes: 1e6 });
      toClose.push(other);
      expect((await other.usage(Date.now(), w)).windowUsed).toBe(1);
      expect(logs.some((l) => l.includes('unavailable'))).toBe(true);
      expect(logs.some((l) => l.includes('answers again'))).toBe(true);
    });

    it('a stall of this process longer than the time limit is not taken for a dead store', {
      timeout: 40_000,
    }, async () => {
      const url = `redis://127.0.0.1:${portOf(await running())}/2`;
      const logs: string[] = [];
      const { store } = await openStateStore(url, {
        apiKey: randomApiKey(),
        env: {},
        cacheMaxBytes: 1e6,
        log: (m) => logs.push(m),
        resilient: { timeoutMs: 200, probeEveryMs: 60_000 },
        redis: { timeoutMs: 200, connectWaitMs: 3_000 },
      });
      toClose.push(store);
      const r = store as ResilientStore;
      const bare = await openRedisStore({
        url,
        keyspace: keyspace(randomApiKey()),
        cacheMaxBytes: 1e6,
        timeoutMs: 200,
      });
      toClose.push(bare);
      expect((await r.acquire({ now: Date.now(), leaseMs: 1_000 })).granted).toBe(true);
      // Both calls are sent, then this process is held for three time limits, as a long synchronous
      // task or a collection would hold it; Redis answers meanwhile.
      const calls = [r.usage(Date.now()), bare.usage(Date.now())];
      stall(600);
      const [viaResilient, viaBare] = await Promise.allSettled(calls);
      expect(viaResilient?.status).toBe('fulfilled');
      expect(viaBare?.status).toBe('fulfilled');
      expect(r.degradedSince).toBeUndefined();
      expect(logs).toEqual([]);
    });

    it('a stall while the first connection is made does not start the store degraded', {
      timeout: 40_000,
    }, async () => {
      const port = portOf(await running());
      // The stall starts once the connection attempt is under way (after open's own awaits).
      setTimeout(() => stall(600), 0);
      const bare = await openRedisStore({
        url: `redis://127.0.0.1:${port}/2`,
        keyspace: keyspace(randomApiKey()),
        cacheMaxBytes: 1e6,
        timeoutMs: 200,
        connectWaitMs: 200,
      });
      toClose.push(bare);
      expect(bare.connected).toBe(true);
    });

    it('the Redis store alone gives up on a server that stops answering within its time limit', {
      timeout: 40_000,
    }, async () => {
      const stopped = await running();
      const bare = await openRedisStore({
        url: `redis://127.0.0.1:${portOf(stopped)}/2`,
        keyspace: keyspace(randomApiKey()),
        cacheMaxBytes: 1e6,
        timeoutMs: 300,
      });
      toClose.push(bare);
      expect((await bare.usage(Date.now())).windowUsed).toBe(0);
      stopped.kill('SIGSTOP');
      try {
        const hung = await timed(() =>
          bare.usage(Date.now()).then(
            () => 'answered',
            (e: Error) => e.name,
          ),
        );
        expect(hung.value).toBe('TimeoutError');
        expect(hung.ms).toBeLessThan(300 * 5);
      } finally {
        stopped.kill('SIGCONT');
      }
    });

    it('a server that stops answering (SIGSTOP) costs one time limit, then memory answers', {
      timeout: 40_000,
    }, async () => {
      const stopped = await running();
      const { store } = await openStateStore(`redis://127.0.0.1:${portOf(stopped)}/1`, {
        apiKey: randomApiKey(),
        env: {},
        cacheMaxBytes: 1e6,
        resilient: { timeoutMs: 300, probeEveryMs: PROBE },
        redis: { timeoutMs: 1_000, connectWaitMs: 3_000 },
      });
      toClose.push(store);
      const r = store as ResilientStore;
      expect((await r.acquire({ now: Date.now(), leaseMs: 1_000 })).granted).toBe(true);
      stopped.kill('SIGSTOP');
      try {
        const hung = await timed(() => r.acquire({ now: Date.now(), leaseMs: 1_000 }));
        expect(hung.value.granted).toBe(true);
        expect(hung.ms).toBeLessThan(300 * 5);
        expect(r.degradedSince).toBeTypeOf('number');
        const fast = await timed(() => r.cacheGet('/x', Date.now()));
        expect(fast.ms).toBeLessThan(300);
      } finally {
        stopped.kill('SIGCONT');
      }
      await until(() => r.degradedSince === undefined, 20_000);
      const back = await r.acquire({ now: Date.now(), leaseMs: 1_000 });
      expect(back.granted && back.slot.startsWith('p:')).toBe(true);
    });
  });
});
