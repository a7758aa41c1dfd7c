/**
 * Which clients are active, shared by the processes on one key through its state store: two FairShares
 * (two processes) on two stores opened on one real SQLite file, and on one real Redis db. A client
 * active on one process counts on the other; the activity expires with its quarter of an hour; it is
 * written at most once every few seconds per client and read at most once a second, only when a job
 * asks; when the store fails or hangs, the view is the process's own and a job does not wait long.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  ACTIVE_MS,
  ACTIVITY_PREFIX,
  ACTIVITY_READ_EVERY_MS,
  ACTIVITY_WRITE_EVERY_MS,
  FairShare,
} from '../src/vt/fair-share.js';
import type { StateStore } from '../src/vt/state/store.js';
import { type Backend, randomApiKey, redisBackend, sqliteBackend } from './helpers/state-backends.js';
import { SwitchedStore } from './helpers/state-switch.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A clock the test moves. */
function clock(start = Date.now()) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

/** The reads of the shared list in flight on each store, so that a test can wait for them. */
const reading = new WeakMap<object, Set<Promise<unknown>>>();

/** The store with its reads of the shared list followed (the store itself is not changed). */
function followed(store: StateStore): StateStore {
  const inFlight = new Set<Promise<unknown>>();
  const docList: StateStore['docList'] = (prefix, now) => {
    const p = store.docList(prefix, now);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => {});
    return p;
  };
  // A proxy, not a copy: the store's methods run on the store itself (its private fields).
  const view = new Proxy(store, {
    get(target, name) {
      if (name === 'docList') return docList;
      const v: unknown = Reflect.get(target, name, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  reading.set(view, inFlight);
  return view;
}

/** Asks, lets the read it started come back (however long the machine takes), and asks again. */
async function othersActive(f: FairShare, store: StateStore, client: string): Promise<number> {
  f.othersActive(client);
  const inFlight = reading.get(store);
  if (inFlight) while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  return f.othersActive(client);
}

/** Admits `owner`'s job lookups (each counted in the day) until one is refused; waits as told. */
async function runJob(f: FairShare, owner: string, day: { used: number }) {
  let admitted = 0;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = f.admitJob(owner);
    if (v === 'ok') {
      f.jobLookupDone();
      day.used++;
      admitted++;
    } else if (typeof v === 'number') {
      if (Date.now() > deadline) throw new Error('admission kept waiting');
      await sleep(v);
    } else {
      return { admitted, refused: v };
    }
  }
}

const backends: Backend[] = [sqliteBackend(), redisBackend()];
afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`FairShare across two processes on ${backend.name}`, () => {
    const opened: StateStore[] = [];
    afterAll(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });
    /** Two stores opened on the same state, as two processes would. */
    async function twoStores(): Promise<[StateStore, StateStore]> {
      const key = randomApiKey('fair');
      const pair = [await backend.open(key), await backend.open(key)] as const;
      opened.push(...pair);
      return [followed(pair[0]), followed(pair[1])];
    }

    it("a client active on one process counts on the other: a job there stops at its share, half the day's cap", async () => {
      const [s1, s2] = await twoStores();
      const day = { used: 0 };
      const figures = () => ({ quota: 20, used: day.used });
      const p1 = new FairShare(figures, { manyClients: true, callsPerMinute: 100, shared: s1 });
      const p2 = new FairShare(figures, { manyClients: true, callsPerMinute: 100, shared: s2 });
      p2.seen('b');
      // Read through p2's own store: the write is in (p1 has not read yet).
      expect(await s2.docList(ACTIVITY_PREFIX, Date.now())).toEqual([`${ACTIVITY_PREFIX}b`]);
      expect(await runJob(p1, 'a', day)).toEqual({ admitted: 10, refused: 'share' });
      expect(p1.othersActive('a')).toBe(1);
      // And the job's owner is active for p2's jobs.
      expect(await othersActive(p2, s2, 'b')).toBe(1);
    });

    it('a client that arrives later on the other process is counted within a read period', async () => {
      const [s1, s2] = await twoStores();
      const p1 = new FairShare(() => ({ quota: 20, used: 0 }), { manyClients: true, shared: s1 });
      const p2 = new FairShare(() => ({ quota: 20, used: 0 }), { manyClients: true, shared: s2 });
      expect(await othersActive(p1, s1, 'a')).toBe(0);
      p2.seen('c');
      const t0 = performance.now();
      await expect.poll(() => p1.othersActive('a'), { interval: 50, timeout: 5_000 }).toBe(1);
      expect(performance.now() - t0).toBeLessThan(ACTIVITY_READ_EVERY_MS + 1_000);
    });

    it('the activity expires with its quarter of an hour (and the write period it was kept past it)', async () => {
      const [s1, s2] = await twoStores();
      const c = clock();
      const p1 = new FairShare(() => ({ quota: 20, used: 0 }), { manyClients: true, now: c.now, shared: s1 });
      const p2 = new FairShare(() => ({ quota: 20, used: 0 }), { manyClients: true, now: c.now, shared: s2 });
      p2.seen('b');
      await s2.docList(ACTIVITY_PREFIX, c.now());
      expect(await othersActive(p1, s1, 'a')).toBe(1);
      c.advance(ACTIVE_MS);
      expect(await othersActive(p1, s1, 'a')).toBe(1);
      c.advance(ACTIVITY_WRITE_EVERY_MS);
      expect(await othersActive(p1, s1, 'a')).toBe(0);
    });
  });
}

describe('FairShare on a shared store: what it costs the store', () => {
  const sqlite = backends[0] as Backend;

  /** A real SQLite store, with its document calls counted. */
  async function counted() {
    const store = await sqlite.open(randomApiKey('fair-cost'));
    const n = { puts: 0, lists: 0 };
    const shared: Pick<StateStore, 'docPut' | 'docList'> = {
      docPut: (...a) => {
        n.puts++;
        return store.docPut(...a);
      },
      docList: (...a) => {
        n.lists++;
        return store.docList(...a);
      },
    };
    return { store, n, shared };
  }

  it("a client's calls are written once per write period, and calls alone never read", async () => {
    const { store, n, shared } = await counted();
    const c = clock();
    const f = new FairShare(() => ({ quota: 20, used: 0 }), { manyClients: true, now: c.now, shared });
    try {
      for (let i = 0; i < 1_000; i++) f.seen('a');
      f.seen('b');
      expect(n).toEqual({ puts: 2, lists: 0 });
      c.advance(ACTIVITY_WRITE_EVERY_MS - 1);
      for (let i = 0; i < 1_000; i++) f.seen('a');
      expect(n.puts).toBe(2);
      c.advance(1);
      for (let i = 0; i < 1_000; i++) f.seen('a');
      expect(n).toEqual({ puts: 3, lists: 0 });
    } finally {
      await store.close();
    }
  });

  it("a job's lookups read the shared set at most once a read period, however many", async () => {
    const { store, n, shared } = await counted();
    const c = clock();
    const f = new FairShare(() => ({ quota: 100_000, used: 0 }), { manyClients: true, now: c.now, shared });
    try {
      // The first lookup waits for the first read; then a thousand go on that one read.
      expect(f.admitJob('a')).toBeTypeOf('number');
      await sleep(30);
      for (let i = 0; i < 1_000; i++) {
        expect(f.admitJob('a')).toBe('ok');
        f.jobLookupDone();
      }
      expect(n.lists).toBe(1);
      c.advance(ACTIVITY_READ_EVERY_MS - 1);
      for (let i = 0; i < 100; i++) f.admitJob('a');
      expect(n.lists).toBe(1);
      c.advance(1);
      // One read starts; the lookups go on the view just read while it is in flight.
      for (let i = 0; i < 100; i++) expect(f.admitJob('a')).toBe('ok');
      expect(n.lists).toBe(2);
    } finally {
      await store.close();
    }
  });

  it('asking whether a paused job may carry on makes nobody active, in the store either', async () => {
    const { store, shared } = await counted();
    const f = new FairShare(() => ({ quota: 20, used: 0 }), { manyClients: true, callsPerMinute: 2, shared });
    try {
      f.dayAllows('a');
      await sleep(30);
      for (let i = 0; i < 50; i++) expect(f.dayAllows('a')).toBe(true);
      expect(await store.docList(ACTIVITY_PREFIX, Date.now())).toEqual([]);
      expect(f.othersActive('b')).toBe(0);
      expect(f.rates.take('a', 2)).toBe(0);
    } finally {
      await store.close();
    }
  });
});

describe('FairShare when the shared store fails: the process sees its own clients', () => {
  const sqlite = backends[0] as Backend;

  async function behindSwitch() {
    const key = randomApiKey('fair-fail');
    const s1 = new SwitchedStore(await sqlite.open(key));
    const s2 = await sqlite.open(key);
    return { s1, s2, close: () => Promise.all([s1.close(), s2.close()]) };
  }

  it("a store that fails: the other process's clients are no longer counted, this one's are", async () => {
    const { s1, s2, close } = await behindSwitch();
    const f1 = followed(s1);
    const c = clock();
    const p1 = new FairShare(() => ({ quota: 20, used: 0 }), { manyClients: true, now: c.now, shared: f1 });
    const p2 = new FairShare(() => ({ quota: 20, used: 0 }), { manyClients: true, now: c.now, shared: s2 });
    try {
      p2.seen('remote');
      await s2.docList(ACTIVITY_PREFIX, c.now());
      expect(await othersActive(p1, f1, 'a')).toBe(1);
      s1.mode = 'throw';
      c.advance(ACTIVITY_READ_EVERY_MS);
      expect(await othersActive(p1, f1, 'a')).toBe(0);
      p1.seen('local');
      expect(p1.othersActive('a')).toBe(1);
      // A job is not held up by it: the failed read is its view, this process's own.
      expect(p1.admitJob('a')).toBe('ok');
      p1.jobLookupDone();
    } finally {
      await close();
    }
  });

  it('a store that does not answer holds a job up for one read wait at most, then its own view decides', async () => {
    const { s1, close } = await behindSwitch();
    const c = clock();
    const day = { used: 0 };
    const p1 = new FairShare(() => ({ quota: 20, used: day.used }), {
      manyClients: true,
      now: c.now,
      shared: s1,
    });
    try {
      s1.mode = 'hang';
      p1.seen('local');
      expect(p1.admitJob('a')).toBeTypeOf('number');
      c.advance(999);
      expect(p1.admitJob('a')).toBeTypeOf('number');
      c.advance(1);
      // The job goes on, and keeps 'local' its part of the day: it stops at half.
      const run = await runJob(p1, 'a', day);
      expect(run).toEqual({ admitted: 10, refused: 'share' });
    } finally {
      s1.mode = 'ok';
      await close();
    }
  });
});
