/**
 * What tools call to reach VirusTotal. The mediated gateway puts, in front of every upstream request:
 * the cache (one entry per object, whatever id it was asked by), de-duplication of identical requests
 * in flight, the rate limiter and daily cap, and retries (429 with backoff within the maximum wait;
 * 5xx and connection errors a few times with jittered exponential backoff). Tools never see a raw 429.
 *
 * A 429 pauses every request: for VirusTotal's Retry-After when it gives a usable one, never less
 * than a floor (1 s, or the window's share per request when that is longer), doubling while 429s
 * keep coming, and each request is retried after a 429 at most a few times. A request that never
 * reached VirusTotal (connection refused, no DNS answer) costs no quota: the limiter refunds it.
 *
 * With a shared state store (SQLite or Redis) the cache has two levels: this process's (fast, in
 * memory) in front of the store's, which every process on the key reads and fills. Two processes
 * asking for the same object make one request: the first takes a lease on it, the second waits,
 * bounded, for the answer to appear in the store, then falls back to its own request.
 */

import type { Logger } from '../log.js';
import type { ResponseCache } from './cache.js';
import type { QueryValue, VtClient } from './client.js';
import {
  BadAnswerError,
  CancelledError,
  isTooManyRequests,
  KnownMissingError,
  NotConfiguredError,
  VtAnswerError,
  VtError,
} from './errors.js';
import type {
  Fetched,
  FetchRequest,
  GatewayStats,
  SharedStats,
  SubmitRequest,
  UpstreamStats,
  VtGateway,
} from './gateway-contract.js';
import { keptAnswer } from './kept-answer.js';
import type { RateLimiter } from './limiter.js';
import { unchecked } from './narrow.js';
import { type Loaded, SharedAnswers } from './shared-answers.js';
import type { StateStore } from './state/store.js';
import { UpstreamBackoff } from './upstream-backoff.js';

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
  /** Retries of one request after upstream 429s (default 3). */
  rateLimitRetries?: number;
  /** Least pause after an upstream 429, in ms (default 1,000); the window's share per request if longer. */
  rateLimitFloorMs?: number;
  /** Longest pause our own doubling reaches, in ms (default 60,000); VT's Retry-After may ask for more. */
  rateLimitCapMs?: number;
  /** Base of the exponential backoff for transient errors, in ms. */
  backoffBaseMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * The key's shared state. Its cache is the second level (not used for a memory store, which would
   * only hold a second copy of this process's own cache); its leases de-duplicate across processes.
   */
  store?: StateStore;
  /** Longest a request waits for another process's identical request before sending its own. */
  claimWaitMs?: number;
  /** How often it looks for that answer meanwhile. */
  claimPollMs?: number;
}

interface Flight {
  promise: Promise<Loaded>;
  /** Callers still waiting; when the last one cancels, the upstream request is cancelled too. */
  waiters: number;
  abort: AbortController;
}

export class MediatedGateway implements VtGateway {
  readonly #o: Required<Omit<MediatedOptions, 'sleep' | 'store'>> & {
    sleep: NonNullable<MediatedOptions['sleep']>;
  };
  /** The shared second-level cache and claims; undefined with a memory store or none. */
  readonly #shared: SharedAnswers | undefined;
  readonly #store: StateStore | undefined;
  readonly #inFlight = new Map<string, Flight>();
  readonly upstream: UpstreamStats = {
    requests: 0,
    rate_limited: 0,
    retries: 0,
    failures: 0,
    unreachable: 0,
  };
  readonly #backoff: UpstreamBackoff;

  constructor(opts: MediatedOptions) {
    this.#o = {
      transientRetries: 2,
      backoffBaseMs: 500,
      rateLimitRetries: 3,
      rateLimitFloorMs: 1000,
      rateLimitCapMs: 60_000,
      sleep: abortableSleep,
      claimWaitMs: 15_000,
      claimPollMs: 100,
      ...opts,
    };
    this.#store = opts.store;
    this.#backoff = new UpstreamBackoff({
      floorMs: this.#o.rateLimitFloorMs,
      capMs: this.#o.rateLimitCapMs,
      maxWaitMs: this.#o.maxWaitMs,
      window: () => this.#o.limiter.window,
    });
    this.#shared =
      opts.store && opts.store.kind !== 'memory'
        ? new SharedAnswers(opts.store, {
            cache: this.#o.cache,
            log: this.#o.log,
            claimWaitMs: this.#o.claimWaitMs,
            claimPollMs: this.#o.claimPollMs,
            sleep: this.#o.sleep,
          })
        : undefined;
  }

  /** Sends one request through the limiter, keeping the upstream figures. */
  #send<T>(
    method: 'GET' | 'POST',
    path: string,
    sendOpts: Parameters<VtClient['send']>[2],
    acquire: Parameters<RateLimiter['run']>[1],
    onSent?: (at: number) => void,
  ) {
    return this.#o.limiter.run(async () => {
      this.upstream.requests++;
      onSent?.(Date.now());
      try {
        const res = await this.#o.client.send<T>(method, path, sendOpts);
        this.#backoff.answered();
        return res;
      } catch (err) {
        this.#count(err);
        throw err;
      }
    }, acquire);
  }

  #count(err: unknown): void {
    if (err instanceof VtError) {
      if (err.notSent) {
        this.upstream.requests--;
        this.upstream.unreachable++;
        return;
      }
      if (isTooManyRequests(err)) {
        this.upstream.rate_limited++;
        return;
      }
      // Any other answer means VirusTotal took the request: a run of 429s is over.
      if (err instanceof VtAnswerError || (err instanceof BadAnswerError && err.httpStatus !== undefined)) {
        this.#backoff.answered();
      }
      // A 404 is an answer; a cancellation is ours.
      if (err.kind === 'not_found' || err.kind === 'cancelled') return;
    }
    this.upstream.failures++;
  }

  get hasKey(): boolean {
    return this.#o.client.hasKey;
  }

  async submit<T = unknown>(req: SubmitRequest): Promise<Fetched<T>> {
    if (!this.hasKey) throw new NotConfiguredError();
    // No retry of any kind: a submission sent twice is two submissions.
    const res = await this.#send<T>('POST', req.path, opts(req), {
      signal: req.signal,
      onWait: req.onWait,
      ...(req.client !== undefined ? { client: req.client } : {}),
    });
    return { body: res.body, fetchedAt: new Date(), fromCache: false };
  }

  stats(): GatewayStats {
    return { limiter: this.#o.limiter.stats(), cache: this.#o.cache.stats(), upstream: { ...this.upstream } };
  }

  async sharedStats(): Promise<SharedStats | undefined> {
    const store = this.#store;
    if (!store) return undefined;
    const now = Date.now();
    const [usage, cache] = await Promise.all([
      store.usage(now, this.#o.limiter.window),
      this.#shared ? store.cacheStats() : Promise.resolve(undefined),
    ]);
    const local = this.#o.cache.stats();
    return { health: store.health(), usage, cache: cache ?? { entries: local.entries, bytes: local.bytes } };
  }

  async fetch<T = unknown>(req: FetchRequest): Promise<Fetched<T>> {
    if (!this.hasKey) throw new NotConfiguredError();
    // A key-user request is shared while in flight under a name that holds no key, and never cached.
    const key = req.asKeyUser ? `(key user)${cacheKey(req.path, req.query)}` : cacheKey(req.path, req.query);
    if (!req.fresh && !req.asKeyUser) {
      const hit = this.#o.cache.get(key);
      if (hit) {
        if (hit.notFound) throw new KnownMissingError('cache');
        return { body: unchecked<T>(hit.body), fetchedAt: hit.fetchedAt, fromCache: true };
      }
      const shared = await this.#shared?.hit(key);
      if (shared) return { body: unchecked<T>(shared.body), fetchedAt: shared.fetchedAt, fromCache: true };
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
    return { body: unchecked<T>(res.body), fetchedAt: res.fetchedAt, fromCache: res.fromCache };
  }

  /**
   * Waits for a shared flight; a caller that cancels leaves, and the last one out cancels the request
   * (and takes the flight off the table, so a caller arriving next starts afresh).
   */
  #join(key: string, flight: Flight, signal: AbortSignal | undefined): Promise<Loaded> {
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
        reject(new CancelledError());
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

  async #load(key: string, req: FetchRequest, signal: AbortSignal): Promise<Loaded> {
    // Never wait past VT_MAX_WAIT_SECONDS from now, nor past the caller's own deadline.
    const deadline = Math.min(Date.now() + this.#o.maxWaitMs, req.deadline ?? Number.POSITIVE_INFINITY);
    // Another process may be fetching the same object: one request between them (not for `fresh`,
    // which asks for a request of its own).
    const shared = this.#shared;
    if (!shared || req.asKeyUser || req.fresh) return this.#request(key, req, signal, deadline);
    const claimed = await shared.claim(key, deadline, signal);
    if (!('held' in claimed)) return claimed;
    try {
      return await this.#request(key, req, signal, deadline);
    } finally {
      if (claimed.held) shared.release(key);
    }
  }

  async #request(key: string, req: FetchRequest, signal: AbortSignal, deadline: number): Promise<Loaded> {
    let transientLeft = this.#o.transientRetries;
    let rateLimitRetries = 0;
    let attempt = 0;
    const cached = !req.asKeyUser;
    const started = Date.now();
    for (;;) {
      let sentAt = Date.now();
      try {
        const res = await this.#send(
          'GET',
          req.path,
          { query: req.query, signal, ...(req.asKeyUser ? { asKeyUser: true } : {}) },
          {
            signal,
            onWait: req.onWait,
            front: attempt > 0,
            deadline,
            ...(req.client !== undefined ? { client: req.client } : {}),
          },
          (at) => {
            sentAt = at;
          },
        );
        const fetchedAt = new Date();
        if (!cached) return { body: res.body, fetchedAt, fromCache: false };
        // What every cache keeps, and what this caller gets too: a fresh answer and a cached one agree.
        const body = keptAnswer(res.body);
        const raw = body === res.body ? res.raw : JSON.stringify(body);
        this.#o.cache.set(key, raw, fetchedAt, body);
        this.#shared?.share(key, raw, body, fetchedAt);
        return { body, fetchedAt, fromCache: false };
      } catch (err) {
        attempt++;
        if (!(err instanceof VtError)) throw err;
        if (err.kind === 'not_found') {
          if (cached) {
            const at = new Date();
            this.#o.cache.setNotFound(key, at);
            this.#shared?.shareNotFound(key, at);
          }
          throw err;
        }
        if (isTooManyRequests(err)) {
          // VirusTotal itself said 429: everyone waits, then this request goes first.
          const backoff = this.#backoff.after429(err, sentAt);
          // The pause holds whether or not this request waits it out: the next one must not go
          // straight back to a VirusTotal that is refusing.
          this.#o.limiter.pause(backoff);
          if (rateLimitRetries >= this.#o.rateLimitRetries) {
            throw this.#backoff.refusal(err, backoff, {
              retries: rateLimitRetries,
              sinceMs: Date.now() - started,
            });
          }
          if (backoff > deadline - Date.now()) throw this.#backoff.refusal(err, backoff);
          rateLimitRetries++;
          this.upstream.retries++;
          this.#o.log.info(`VirusTotal answered 429; retrying in ${(backoff / 1000).toFixed(1)} s`);
          continue;
        }
        if (err.retryable && transientLeft > 0) {
          transientLeft--;
          this.upstream.retries++;
          const base = this.#o.backoffBaseMs * 2 ** (this.#o.transientRetries - transientLeft - 1);
          await this.#o.sleep(base / 2 + Math.random() * base, signal);
          continue;
        }
        throw err;
      }
    }
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

/**
 * On the global setTimeout, not node:timers/promises: the tests' virtual clock drives the global timers
 * (test/helpers/virtual-time.ts), and a wait on the other would stall them.
 */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new CancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
