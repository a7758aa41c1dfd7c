/**
 * What the gateway (gateway.ts) is asked and answers: the requests, what comes back and its figures. The
 * VT layer's callers (VtApi, the tools' context, the triage service) see the gateway through VtGateway.
 */
import type { FormData } from 'undici';
import type { CacheStats } from './cache.js';
import type { QueryValue } from './client.js';
import type { LimiterStats, WaitInfo } from './limiter-contract.js';
import type { StoreHealth, Usage } from './state/store.js';

export interface FetchRequest {
  path: string;
  query?: Record<string, QueryValue>;
  signal?: AbortSignal;
  /** Skip any cached answer (the fresh answer is cached). */
  fresh?: boolean;
  /** Told while the request waits for its turn; tools turn it into progress notifications. */
  onWait?: (w: WaitInfo) => void;
  /** Time (ms since epoch) after which this request must not be sent, e.g. the end of a batch's budget. */
  deadline?: number;
  /** Whom it is for: the limiter shares its line fairly between clients. */
  client?: string;
  /**
   * `path` is below the API key's own user (e.g. `/overall_quotas` for `/users/<key>/overall_quotas`);
   * the client puts the key in at the last moment. Such a request is never cached: the key must not
   * end up in a cache key, and these are live counters anyway.
   */
  asKeyUser?: boolean;
}

export interface Fetched<T> {
  body: T;
  fetchedAt: Date;
  fromCache: boolean;
}

export interface UpstreamStats {
  /** Requests that reached (or may have reached) VirusTotal. */
  requests: number;
  /** Of those, answered 429. */
  rate_limited: number;
  retries: number;
  /** Of those, failed otherwise: wrong key, forbidden, invalid, 5xx, timeout, bad body (not a 404). */
  failures: number;
  /** Attempts that never reached VirusTotal (refused, no DNS answer): not sent, not counted. */
  unreachable: number;
}

export interface GatewayStats {
  limiter: LimiterStats;
  cache: CacheStats;
  upstream: UpstreamStats;
}

/** The state every process on the key shares, as the store sees it now. */
export interface SharedStats {
  health: StoreHealth;
  /** The window and the day across every process on the key (this process's alone when not shared). */
  usage: Usage;
  cache: { entries: number; bytes: number };
}

export interface SubmitRequest {
  /** An API path, or the upload URL VirusTotal handed out for a large file. */
  path: string;
  body: string | FormData;
  contentType?: string;
  signal?: AbortSignal;
  onWait?: (w: WaitInfo) => void;
  client?: string;
}

export interface VtGateway {
  readonly hasKey: boolean;
  fetch<T = unknown>(req: FetchRequest): Promise<Fetched<T>>;
  /** A POST that publishes something to VirusTotal: counted by the limits, never cached, never retried. */
  submit<T = unknown>(req: SubmitRequest): Promise<Fetched<T>>;
  /** Spending, limits and cache figures; undefined where nothing is mediated. */
  stats(): GatewayStats | undefined;
  /** The shared state's backend and counts across processes; undefined where nothing is mediated. */
  sharedStats?(): Promise<SharedStats | undefined>;
}
