/**
 * What the Redis store does beyond the contract every backend keeps, on a real redis-server: bodies
 * are stored compressed (the bound counting what is stored) and read back exactly, an entry written
 * by a version that stored text is still read, and an answer's writes (settle, cache entry, lease
 * release) reach Redis in one write: one round trip.
 */
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { openRedisStore, type RedisStore } from '../src/vt/state/redis.js';
import { keyspace } from '../src/vt/state/store.js';
import {
  cleanRedis,
  REDIS_NAMESPACE,
  REDIS_URL,
  randomApiKey,
  tellRedisSkipped,
} from './helpers/state-backends.js';

tellRedisSkipped();

const T0 = Date.now();
const W = { requests: 4, seconds: 60 };
const REPORT = readFileSync('fixtures/vt/file_report_azul_too_many_feature_values.json', 'utf8');

async function open(url = REDIS_URL as string): Promise<RedisStore> {
  return openRedisStore({
    url,
    keyspace: keyspace(randomApiKey()),
    cacheMaxBytes: 64 * 1024 * 1024,
    namespace: REDIS_NAMESPACE,
  });
}

describe.skipIf(!REDIS_URL)('Redis store', () => {
  afterAll(async () => {
    if (REDIS_URL) await cleanRedis(REDIS_URL, REDIS_NAMESPACE);
  });

  it('stores a body compressed, counts the stored bytes, and reads it back exactly', async () => {
    const s = await open();
    const raw = createClient({ url: REDIS_URL });
    await raw.connect();
    try {
      await s.cacheSet(['/files/a', '/files/b'], { body: REPORT, fetchedAt: T0 }, 60_000, T0);
      expect((await s.cacheGet('/files/b', T0 + 1))?.body).toBe(REPORT);
      const stored = await raw.hStrLen(`${s.prefix}ce:/files/a`, 'b');
      expect(stored).toBeGreaterThan(0);
      expect(stored).toBeLessThan(REPORT.length / 5);
      expect((await s.cacheStats()).bytes).toBeLessThan(REPORT.length / 5);
      // Text that is not UTF-8 safe as bytes survives: the reply is read as bytes, not decoded.
      const odd = `{"name":"\u00e9\u4e2d\ud83d\ude00${'x'.repeat(600)}"}`;
      await s.cacheSet(['/files/c'], { body: odd, fetchedAt: T0 }, 60_000, T0);
      expect((await s.cacheGet('/files/c', T0 + 1))?.body).toBe(odd);
    } finally {
      await raw.close();
      await s.close();
    }
  });

  it('reads an entry stored as text by the previous version (no encoding field)', async () => {
    const s = await open();
    const raw = createClient({ url: REDIS_URL });
    await raw.connect();
    try {
      await s.cacheSet(['/domains/old.example'], { body: '{"old":true}', fetchedAt: T0 }, 60_000, T0);
      await raw.hDel(`${s.prefix}ce:/domains/old.example`, 'e');
      expect((await s.cacheGet('/domains/old.example', T0 + 1))?.body).toBe('{"old":true}');
    } finally {
      await raw.close();
      await s.close();
    }
  });

  it("an answer's settle, cache entry and lease release reach Redis in one write", async () => {
    // A loopback proxy in front of Redis counts the client's writes.
    const target = new URL(REDIS_URL as string);
    const writes: number[] = [];
    const sockets: Socket[] = [];
    const proxy = createServer((client) => {
      const upstream = createConnection(Number(target.port || 6379), target.hostname);
      sockets.push(client, upstream);
      client.on('data', (d: Buffer) => {
        writes.push(d.length);
        upstream.write(d);
      });
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    const s = await open(`redis://127.0.0.1:${port}${target.pathname}`);
    try {
      // Load the scripts first, so that no NOSCRIPT retry adds a write below.
      await s.cacheSet(['/warm'], { body: '{}', fetchedAt: T0 }, 60_000, T0);
      expect(await s.lease('fetch:/files/x', 'me', 10_000, T0)).toBe(true);
      const a = await s.acquire({ now: T0, window: W, leaseMs: 60_000 });
      if (!a.granted) throw new Error('not granted');
      await s.settle(a.slot, T0, W);
      await s.releaseLease('fetch:/files/x', 'me');
      await s.lease('fetch:/files/x', 'me', 10_000, T0);
      const b = await s.acquire({ now: T0, window: W, leaseMs: 60_000 });
      if (!b.granted) throw new Error('not granted');
      writes.length = 0;
      // As the gateway does when an answer arrives: three writes in one turn of the event loop (a
      // small body, so that the socket has no reason to split what the client writes at once).
      await Promise.all([
        s.settle(b.slot, T0 + 50, W),
        s.cacheSet(['/files/x'], { body: '{"small":true}', fetchedAt: T0 }, 60_000, T0),
        s.releaseLease('fetch:/files/x', 'me'),
      ]);
      expect(writes).toHaveLength(1);
      expect((await s.cacheGet('/files/x', T0 + 1))?.body).toBe('{"small":true}');
      expect(await s.lease('fetch:/files/x', 'someone else', 10_000, T0 + 1)).toBe(true);
      expect((await s.usage(T0 + 100, W)).windowUsed).toBe(2);
    } finally {
      await s.close();
      for (const x of sockets) x.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});
