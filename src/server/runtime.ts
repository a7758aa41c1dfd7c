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

export interface Runtime {
  gateway: MediatedGateway;
  client: VtClient;
  limiter: RateLimiter;
  cache: ResponseCache;
  close(): Promise<void>;
}

/** Not-found answers are kept briefly: a hash unknown now may be submitted in a minute. */
const NOT_FOUND_TTL_MS = 5 * 60_000;

export function createRuntime(config: Config, log: Logger): Runtime {
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
  });
  const cache = new ResponseCache({
    ttlMs: config.cacheTtlMs,
    notFoundTtlMs: Math.min(config.cacheTtlMs, NOT_FOUND_TTL_MS),
    maxEntries: 5_000,
    maxBytes: config.cacheMaxMb * 1024 * 1024,
  });
  const gateway = new MediatedGateway({ client, limiter, cache, log, maxWaitMs: config.maxWaitMs });
  return { gateway, client, limiter, cache, close: () => client.close() };
}
