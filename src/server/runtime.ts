/**
 * Builds the VirusTotal side of the server from the configuration: HTTP client, rate limiter, cache
 * and the mediated gateway that tools call. index.ts and the tests build it the same way.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { ResponseCache } from '../vt/cache.js';
import { VtClient } from '../vt/client.js';
import { MediatedGateway } from '../vt/gateway.js';
import { RateLimiter } from '../vt/limiter.js';
import { MemoryStore } from '../vt/state/memory.js';
import type { StateStore } from '../vt/state/store.js';
import { createTriageService, type TriageService } from './triage-service.js';

export interface Runtime {
  gateway: MediatedGateway;
  limiter: RateLimiter;
  cache: ResponseCache;
  /** The key's shared state (memory when nothing is shared). */
  store: StateStore;
  /** Triage jobs, worked in the background by this process (and any other on the same store). */
  triage: TriageService;
  close(): Promise<void>;
}

/** Not-found answers are kept briefly: a hash unknown now may be submitted in a minute. */
const NOT_FOUND_TTL_MS = 5 * 60_000;

/**
 * `store` is the key's state store, opened by the caller (index.ts opens what VT_STATE names); without
 * one, the counts and the cache are this process's, in memory.
 */
export function createRuntime(
  config: Config,
  log: Logger,
  opts: { store?: StateStore; jobs?: { leaseMs?: number; scanEveryMs?: number } } = {},
): Runtime {
  const cacheMaxBytes = config.cacheMaxMb * 1024 * 1024;
  const store = opts.store ?? new MemoryStore({ cacheMaxBytes });
  const client = new VtClient({
    baseUrl: config.apiUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    userAgent: `vtbrief/${VERSION}`,
    // As many connections as requests the limiter lets out at once, so none waits unseen in the pool.
    connections: Math.max(16, config.maxConcurrency),
  });
  const limiter = new RateLimiter({
    ...(config.rateLimit ? { window: config.rateLimit } : {}),
    ...(config.dailyQuota !== undefined ? { dailyQuota: config.dailyQuota } : {}),
    maxConcurrency: config.maxConcurrency,
    maxWaitMs: config.maxWaitMs,
    store,
    // A slot of a process that dies before its answer frees itself after the request's timeout.
    leaseMs: config.timeoutMs + 5_000,
    onStoreError: (err: unknown) =>
      log.debug(`state store: ${err instanceof Error ? err.message : String(err)}`),
  });
  const cache = new ResponseCache({
    ttlMs: config.cacheTtlMs,
    notFoundTtlMs: Math.min(config.cacheTtlMs, NOT_FOUND_TTL_MS),
    maxEntries: 5_000,
    maxBytes: cacheMaxBytes,
  });
  const gateway = new MediatedGateway({ client, limiter, cache, log, maxWaitMs: config.maxWaitMs, store });
  const triage = createTriageService(gateway, store, config, log, opts.jobs);
  triage.runner.start();
  return {
    gateway,
    limiter,
    cache,
    store,
    triage,
    close: async () => {
      // Lookups in flight are let finish and be written, and the jobs' leases freed for another process.
      await triage.runner.stop();
      await client.close();
      await store.close();
    },
  };
}
