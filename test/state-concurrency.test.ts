/**
 * Several processes on one store never grant more than the window allows in total: 4 child processes
 * × 50 acquire attempts in tight loops, started together, against one SQLite file and against one
 * Redis database, with a window of 10 per hour. Loopback only; each child stops after its attempts.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStore } from '../src/vt/state/redis.js';
import { keyspace } from '../src/vt/state/store.js';
import {
  cleanRedis,
  compileStateModules,
  REDIS_NAMESPACE,
  REDIS_URL,
  randomApiKey,
  tellRedisSkipped,
  tempDir,
} from './helpers/state-backends.js';

tellRedisSkipped();

const PROCESSES = 4;
const ATTEMPTS = 50;
const WINDOW = { requests: 10, seconds: 3600 };

// The child: opens the store, waits for the common start time, then tries ATTEMPTS times as fast as it
// can, settling each granted slot at once; prints how many it was granted.
const CHILD = `
import { openSqliteStore } from './vt/state/sqlite.js';
import { openRedisStore } from './vt/state/redis.js';
const [backend, where, ks, startAt, attempts, requests, seconds, namespace] = process.argv.slice(2);
const window = { requests: Number(requests), seconds: Number(seconds) };
const store = backend === 'sqlite'
  ? openSqliteStore({ path: where, keyspace: ks, cacheMaxBytes: 1e6 })
  : await openRedisStore({ url: where, keyspace: ks, cacheMaxBytes: 1e6, namespace, timeoutMs: 5000, connectWaitMs: 5000 });
while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 1));
let granted = 0, refused = 0;
for (let i = 0; i < Number(attempts); i++) {
  const now = Date.now();
  const a = await store.acquire({ now, window, leaseMs: 600000 });
  if (a.granted) { granted++; await store.settle(a.slot, Date.now(), window); } else refused++;
}
await store.close();
process.stdout.write(JSON.stringify({ granted, refused }));
`;

let compiled: { dir: string; remove: () => void };
beforeAll(async () => {
  compiled = await compileStateModules();
  writeFileSync(join(compiled.dir, 'child.mjs'), CHILD);
});
afterAll(() => compiled?.remove());

function runChildren(args: (i: number) => string[]): Promise<Array<{ granted: number; refused: number }>> {
  return Promise.all(
    Array.from(
      { length: PROCESSES },
      (_, i) =>
        new Promise<{ granted: number; refused: number }>((resolve, reject) => {
          execFile(
            process.execPath,
            [join(compiled.dir, 'child.mjs'), ...args(i)],
            { timeout: 30_000 },
            (err, stdout, stderr) => {
              if (err) reject(new Error(`child ${i} failed: ${err.message} ${stderr}`));
              else resolve(JSON.parse(stdout) as { granted: number; refused: number });
            },
          );
        }),
    ),
  );
}

describe('concurrency across processes', () => {
  it(`SQLite: ${PROCESSES} processes × ${ATTEMPTS} attempts on one file grant exactly the window`, async () => {
    const t = tempDir('sqlite-conc');
    try {
      const path = join(t.dir, 'state.db');
      const ks = keyspace(randomApiKey());
      // Processes take a while to start: all begin at the same moment, well after spawning.
      const startAt = Date.now() + 1_500;
      const results = await runChildren(() => [
        'sqlite',
        path,
        ks,
        String(startAt),
        String(ATTEMPTS),
        String(WINDOW.requests),
        String(WINDOW.seconds),
        '',
      ]);
      const granted = results.reduce((n, r) => n + r.granted, 0);
      const refused = results.reduce((n, r) => n + r.refused, 0);
      expect(granted).toBe(WINDOW.requests);
      expect(granted + refused).toBe(PROCESSES * ATTEMPTS);
    } finally {
      t.remove();
    }
  });

  describe.skipIf(!REDIS_URL)('Redis', () => {
    afterAll(async () => {
      if (REDIS_URL) await cleanRedis(REDIS_URL, REDIS_NAMESPACE);
    });

    it(`${PROCESSES} processes × ${ATTEMPTS} attempts on one database grant exactly the window`, async () => {
      const url = REDIS_URL as string;
      const ks = keyspace(randomApiKey());
      const startAt = Date.now() + 1_500;
      const results = await runChildren(() => [
        'redis',
        url,
        ks,
        String(startAt),
        String(ATTEMPTS),
        String(WINDOW.requests),
        String(WINDOW.seconds),
        REDIS_NAMESPACE,
      ]);
      const granted = results.reduce((n, r) => n + r.granted, 0);
      expect(granted).toBe(WINDOW.requests);
      expect(results.reduce((n, r) => n + r.granted + r.refused, 0)).toBe(PROCESSES * ATTEMPTS);
    });

    it(`${PROCESSES} clients in one process, all attempts at once, grant exactly the window`, async () => {
      const url = REDIS_URL as string;
      const ks = keyspace(randomApiKey());
      const stores = await Promise.all(
        Array.from({ length: PROCESSES }, () =>
          openRedisStore({
            url,
            keyspace: ks,
            cacheMaxBytes: 1e6,
            namespace: REDIS_NAMESPACE,
            timeoutMs: 5000,
          }),
        ),
      );
      try {
        const counts = await Promise.all(
          stores.map(async (s) => {
            const all = await Promise.all(
              Array.from({ length: ATTEMPTS }, () =>
                s.acquire({ now: Date.now(), window: WINDOW, leaseMs: 600_000 }),
              ),
            );
            return all.filter((a) => a.granted).length;
          }),
        );
        expect(counts.reduce((a, b) => a + b, 0)).toBe(WINDOW.requests);
        expect((await stores[0]?.usage(Date.now(), WINDOW))?.windowUsed).toBe(WINDOW.requests);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });
});
