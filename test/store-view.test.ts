/** What the limiter sees of the store: a refresh sees what was done before it, and ends however busy the store is. */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/vt/state/memory.js';
import { StoreView } from '../src/vt/store-view.js';

const W = { requests: 3, seconds: 60 };

/** A memory store whose usage() answers after `ms`, counting its reads. */
function slowStore(ms: number) {
  const store = new MemoryStore({ cacheMaxBytes: 0 });
  let reads = 0;
  const usage = store.usage.bind(store);
  const slow = Object.assign(store, {
    usage: async (now: number, w?: typeof W) => {
      reads++;
      const u = await usage(now, w);
      await new Promise((r) => setTimeout(r, ms));
      return u;
    },
  });
  return { store: slow, reads: () => reads };
}

describe('StoreView', () => {
  it('a refresh asked after a grant sees it, even while an earlier read is under way', async () => {
    const { store } = slowStore(20);
    const view = new StoreView({ store, window: W, now: Date.now, onError: undefined });
    const early = view.refresh();
    await store.acquire({ now: Date.now(), window: W, leaseMs: 30_000 });
    await view.refresh();
    expect(view.live(Date.now())).toBe(1);
    expect(view.dayUsed(Date.now())).toBe(1);
    expect(view.window(Date.now()).frees).toHaveLength(1);
    await early;
  });

  it('ends within two reads while others keep asking for more', async () => {
    const { store, reads } = slowStore(5);
    const view = new StoreView({ store, window: W, now: Date.now, onError: undefined });
    let stop = false;
    // Someone asks for a fresh view every millisecond, for as long as this test runs.
    const churn = (async () => {
      while (!stop) {
        void view.refresh();
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await new Promise((r) => setTimeout(r, 12));
    const before = reads();
    await view.refresh();
    stop = true;
    await churn;
    expect(reads() - before).toBeLessThanOrEqual(2);
  });

  it('calls made before a read starts share it', async () => {
    const { store, reads } = slowStore(5);
    const view = new StoreView({ store, window: W, now: Date.now, onError: undefined });
    await Promise.all([view.refresh(), view.refresh(), view.refresh()]);
    expect(reads()).toBe(1);
  });

  it('a store that fails leaves the view as it was and is reported', async () => {
    const store = new MemoryStore({ cacheMaxBytes: 0 });
    const errors: unknown[] = [];
    const view = new StoreView({ store, window: W, now: Date.now, onError: (e) => errors.push(e) });
    await store.acquire({ now: Date.now(), window: W, leaseMs: 30_000 });
    await view.refresh();
    await store.close();
    await view.refresh();
    expect(errors).toHaveLength(1);
    expect(view.dayUsed(Date.now())).toBe(1);
  });
});
