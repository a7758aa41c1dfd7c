/**
 * One upstream request between processes for the same object: a process that finds another's claim
 * waits for its answer in the shared cache. The holder can file its answer and let go of the claim
 * between the waiter's last look and its next try for the claim; the waiter then holds a free claim
 * and must look once more before sending (it sent a second request: CI saw 2 for 10 identical calls
 * across three replicas).
 *
 * Two gateways on two connections to one real SQLite file stand for two processes; the upstream is a
 * client whose answer the test releases.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { ResponseCache } from '../src/vt/cache.js';
import type { VtClient, VtResponse } from '../src/vt/client.js';
import { MediatedGateway } from '../src/vt/gateway.js';
import { RateLimiter } from '../src/vt/limiter.js';
import type { StateStore } from '../src/vt/state/store.js';
import { sqliteConnections } from './helpers/state-backends.js';

const files = sqliteConnections('claims', 'claims-key');
afterAll(() => files.close());
const connection = files.connection;

/** An upstream that holds each request until the test says to answer, and answers at once after that. */
function heldUpstream() {
  const sent: string[] = [];
  const waiting: Array<() => void> = [];
  let open = false;
  const client = {
    hasKey: true,
    async send(_method: string, path: string): Promise<VtResponse> {
      sent.push(path);
      if (!open) await new Promise<void>((r) => waiting.push(r));
      const raw = Buffer.from(JSON.stringify({ data: { id: path.split('/').pop(), type: 'domain' } }));
      return { status: 200, body: JSON.parse(raw.toString()), bytes: raw.length, raw };
    },
  } as unknown as VtClient;
  const answer = () => {
    open = true;
    for (const r of waiting.splice(0)) r();
  };
  return { client, sent, answer };
}

function gateway(client: VtClient, store: StateStore) {
  return new MediatedGateway({
    client,
    limiter: new RateLimiter({ maxConcurrency: 4, maxWaitMs: 10_000 }),
    cache: new ResponseCache({ ttlMs: 60_000, notFoundTtlMs: 60_000, maxEntries: 100, maxBytes: 1e6 }),
    log: createLogger({ level: 'error', write: () => {} }),
    maxWaitMs: 10_000,
    store,
    claimWaitMs: 5_000,
    claimPollMs: 10,
  });
}

describe('claims on a shared store', () => {
  it('a waiter whose next claim succeeds after the holder answered takes the answer, not a second request', async () => {
    const up = heldUpstream();
    const storeA = connection('race.db');
    let released!: () => void;
    const holderLetGo = new Promise<void>((r) => {
      released = r;
    });
    // The holder's connection says when its claim has been let go.
    const watchedA = new Proxy(storeA, {
      get(target, name, receiver) {
        const v = Reflect.get(target, name, receiver);
        if (name !== 'releaseLease') return typeof v === 'function' ? v.bind(target) : v;
        return async (...args: Parameters<StateStore['releaseLease']>) => {
          await target.releaseLease(...args);
          released();
        };
      },
    }) as StateStore;
    const storeB = connection('race.db');
    // On the waiter's first look (a miss), the holder gets its answer, files it and lets go; the miss
    // reaches the waiter only then, so its next try for the claim finds it free.
    let looks = 0;
    const staggeredB = new Proxy(storeB, {
      get(target, name, receiver) {
        const v = Reflect.get(target, name, receiver);
        if (name !== 'cacheGet') return typeof v === 'function' ? v.bind(target) : v;
        return async (...args: Parameters<StateStore['cacheGet']>) => {
          const got = await target.cacheGet(...args);
          if (++looks === 2) {
            up.answer();
            await holderLetGo;
          }
          return got;
        };
      },
    }) as StateStore;
    const a = gateway(up.client, watchedA);
    const b = gateway(up.client, staggeredB);

    const first = a.fetch({ path: '/domains/race.example' });
    await expect.poll(() => up.sent.length).toBe(1);
    // Look 1 is b's cache check before it claims; look 2 is its first look while waiting.
    const second = b.fetch({ path: '/domains/race.example' });
    await expect(first).resolves.toMatchObject({ fromCache: false });
    const got = await second;
    expect(up.sent).toHaveLength(1);
    expect(got).toMatchObject({ fromCache: true, body: { data: { id: 'race.example' } } });
    expect(looks).toBeGreaterThanOrEqual(3);
  });

  it('a waiter that takes over a lapsed claim with nothing filed sends its own request', async () => {
    const up = heldUpstream();
    const a = gateway(up.client, connection('lapse.db'));
    // The holder's request never answers within the waiter's wait: the waiter sends its own.
    const first = a.fetch({ path: '/domains/lapse.example' }).catch(() => undefined);
    await expect.poll(() => up.sent.length).toBe(1);
    const waiter = new MediatedGateway({
      client: up.client,
      limiter: new RateLimiter({ maxConcurrency: 4, maxWaitMs: 10_000 }),
      cache: new ResponseCache({ ttlMs: 60_000, notFoundTtlMs: 60_000, maxEntries: 100, maxBytes: 1e6 }),
      log: createLogger({ level: 'error', write: () => {} }),
      maxWaitMs: 10_000,
      store: connection('lapse.db'),
      claimWaitMs: 50,
      claimPollMs: 10,
    });
    const second = waiter.fetch({ path: '/domains/lapse.example' });
    await expect.poll(() => up.sent.length).toBe(2);
    up.answer();
    await expect(second).resolves.toMatchObject({ fromCache: false });
    await first;
  });
});
