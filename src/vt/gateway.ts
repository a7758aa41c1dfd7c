/**
 * What tools call to reach VirusTotal. The mediated gateway puts, in front of every upstream request:
 * the cache (one entry per object, whatever id it was asked by), de-duplication of identical requests
 * in flight, the rate limiter and daily cap, and retries (429 with backoff within the maximum wait;
 * 5xx and connection errors a few times with jittered exponential backoff). Tools never see a raw 429.
 */

import type { FormData } from 'undici';
import type { Logger } from '../log.js';
import type { CacheStats, ResponseCache } from './cache.js';
import type { QueryValue, VtClient } from './client.js';
import { notConfigured, VtError } from './errors.js';
import { isoSeconds, type LimiterStats, type RateLimiter, type WaitInfo } from './limiter.js';

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
}

export interface Fetched<T> {
  body: T;
  fetchedAt: Date;
  fromCache: boolean;
}

export interface UpstreamStats {
  requests: number;
  rate_limited: number;
  retries: number;
  failures: number;
}

export interface GatewayStats {
  limiter: LimiterStats;
  cache: CacheStats;
  upstream: UpstreamStats;
}

export interface SubmitRequest {
  /** An API path, or the upload URL VirusTotal handed out for a large file. */
  path: string;
  body: string | FormData;
  contentType?: string;
  signal?: AbortSignal;
  onWait?: (w: WaitInfo) => void;
}

export interface VtGateway {
  readonly hasKey: boolean;
  fetch<T = unknown>(req: FetchRequest): Promise<Fetched<T>>;
  /** A POST that publishes something to VirusTotal: counted by the limits, never cached, never retried. */
  submit<T = unknown>(req: SubmitRequest): Promise<Fetched<T>>;
  /** Spending, limits and cache figures; undefined where nothing is mediated. */
  stats(): GatewayStats | undefined;
}

function opts(req: SubmitRequest) {
  return {
    body: req.body,
    ...(req.contentType ? { contentType: req.contentType } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
  };
}

export interface MediatedOptions {
  client: VtClient;
  limiter: RateLimiter;
  cache: ResponseCache;
  log: Logger;
  /** Longest total wait for upstream 429 backoff, and the default for the limiter. */
  maxWaitMs: number;
  /** Retries of 5xx / connection errors. */
  transientRetries?: number;
  /** Base of the exponential backoff for transient errors, in ms. */
  backoffBaseMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface Flight {
  promise: Promise<{ body: unknown; fetchedAt: Date }>;
  /** Callers still waiting; when the last one cancels, the upstream request is cancelled too. */
  waiters: number;
  abort: AbortController;
}

export class MediatedGateway implements VtGateway {
  readonly #o: Required<Omit<MediatedOptions, 'sleep'>> & { sleep: NonNullable<MediatedOptions['sleep']> };
  readonly #inFlight = new Map<string, Flight>();
  readonly upstream: UpstreamStats = { requests: 0, rate_limited: 0, retries: 0, failures: 0 };

  constructor(opts: MediatedOptions) {
    this.#o = { transientRetries: 2, backoffBaseMs: 500, sleep: abortableSleep, ...opts };
  }

  get hasKey(): boolean {
    return this.#o.client.hasKey;
  }

  async submit<T = unknown>(req: SubmitRequest): Promise<Fetched<T>> {
    if (!this.hasKey) throw notConfigured();
    // No retry of any kind: a submission sent twice is two submissions.
    const res = await this.#o.limiter.run(
      () => {
        this.upstream.requests++;
        return this.#o.client.send<T>('POST', req.path, opts(req));
      },
      { signal: req.signal, onWait: req.onWait },
    );
    return { body: res.body, fetchedAt: new Date(), fromCache: false };
  }

  stats(): GatewayStats {
    return { limiter: this.#o.limiter.stats(), cache: this.#o.cache.stats(), upstream: { ...this.upstream } };
  }

  async fetch<T = unknown>(req: FetchRequest): Promise<Fetched<T>> {
    if (!this.hasKey) throw notConfigured();
    const key = cacheKey(req.path, req.query);
    if (!req.fresh) {
      const hit = this.#o.cache.get(key);
      if (hit) {
        if (hit.notFound)
          throw new VtError('not_found', 'VirusTotal has no record of this item (cached answer).');
        return { body: hit.body as T, fetchedAt: hit.fetchedAt, fromCache: true };
      }
    }
    let flight = this.#inFlight.get(key);
    if (!flight) {
      const abort = new AbortController();
      const created: Flight = { waiters: 0, abort, promise: this.#load(key, req, abort.signal) };
      flight = created;
      this.#inFlight.set(key, created);
      const done = () => {
        if (this.#inFlight.get(key) === created) this.#inFlight.delete(key);
      };
      created.promise.then(done, done);
    }
    const res = await this.#join(key, flight, req.signal);
    return { body: res.body as T, fetchedAt: res.fetchedAt, fromCache: false };
  }

  /**
   * Waits for a shared flight; a caller that cancels leaves, and the last one out cancels the request
   * (and takes the flight off the table, so a caller arriving next starts afresh).
   */
  #join(
    key: string,
    flight: Flight,
    signal: AbortSignal | undefined,
  ): Promise<{ body: unknown; fetchedAt: Date }> {
    flight.waiters++;
    return new Promise((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return false;
        left = true;
        flight.waiters--;
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const onAbort = () => {
        if (!leave()) return;
        if (flight.waiters === 0) {
          flight.abort.abort();
          if (this.#inFlight.get(key) === flight) this.#inFlight.delete(key);
        }
        reject(new VtError('cancelled', 'The request was cancelled.'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (v) => {
          if (leave()) resolve(v);
        },
        (e: unknown) => {
          if (leave()) reject(e);
        },
      );
    });
  }

  async #load(
    key: string,
    req: FetchRequest,
    signal: AbortSignal,
  ): Promise<{ body: unknown; fetchedAt: Date }> {
    // Never wait past VT_MAX_WAIT_SECONDS from now, nor past the caller's own deadline.
    const deadline = Math.min(Date.now() + this.#o.maxWaitMs, req.deadline ?? Number.POSITIVE_INFINITY);
    let transientLeft = this.#o.transientRetries;
    let attempt = 0;
    for (;;) {
      try {
        const res = await this.#o.limiter.run(
          () => {
            this.upstream.requests++;
            return this.#o.client.send('GET', req.path, { query: req.query, signal });
          },
          {
            signal,
            onWait: req.onWait,
            front: attempt > 0,
            deadline,
          },
        );
        const fetchedAt = new Date();
        this.#o.cache.set(key, res.body, res.bytes, fetchedAt);
        return { body: res.body, fetchedAt };
      } catch (err) {
        attempt++;
        if (!(err instanceof VtError)) throw err;
        if (err.kind === 'not_found') {
          this.#o.cache.setNotFound(key, new Date());
          throw err;
        }
        if (err.kind === 'quota' && err.quotaScope === undefined) {
          // VirusTotal itself said 429: everyone waits, then this request goes first.
          this.upstream.rate_limited++;
          const backoff = this.#quotaBackoff(err, attempt);
          const left = deadline - Date.now();
          if (backoff > left) throw this.#upstreamQuota(err, backoff);
          this.#o.limiter.pause(backoff);
          this.upstream.retries++;
          this.#o.log.info(`VirusTotal answered 429; retrying in ${Math.round(backoff / 1000)} s`);
          continue;
        }
        if (err.retryable && transientLeft > 0) {
          transientLeft--;
          this.upstream.retries++;
          const base = this.#o.backoffBaseMs * 2 ** (this.#o.transientRetries - transientLeft - 1);
          await this.#o.sleep(base / 2 + Math.random() * base, signal);
          continue;
        }
        if (err.kind === 'transient') this.upstream.failures++;
        throw err;
      }
    }
  }

  /** VT's Retry-After when given; otherwise a fair share of the window, doubling each time. */
  #quotaBackoff(err: VtError, attempt: number): number {
    if (err.retryAfterSeconds !== undefined) return err.retryAfterSeconds * 1000;
    const w = this.#o.limiter.stats().window;
    const slot = w ? (w.seconds * 1000) / w.requests : 15_000;
    return Math.min(slot * 2 ** (attempt - 1), 120_000);
  }

  #upstreamQuota(err: VtError, backoffMs: number): VtError {
    const at = Date.now() + backoffMs;
    return new VtError(
      'quota',
      `VirusTotal is refusing requests for this key (${err.vtCode ?? 'HTTP 429'}), and waiting for it would take longer ` +
        `than VT_MAX_WAIT_SECONDS (${Math.round(this.#o.maxWaitMs / 1000)} s). Try again after about ${isoSeconds(at)}. ` +
        "If it persists, the key's daily quota is spent (it resets at 00:00 UTC).",
      { ...(err.vtCode ? { vtCode: err.vtCode } : {}), resetAt: new Date(at), quotaScope: 'upstream' },
    );
  }
}

/** One key per distinct request: the path plus its query in a stable order. */
export function cacheKey(path: string, query?: Record<string, QueryValue>): string {
  const q = Object.entries(query ?? {})
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return q ? `${path}?${q}` : path;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new VtError('cancelled', 'The request was cancelled.'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new VtError('cancelled', 'The request was cancelled.'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
