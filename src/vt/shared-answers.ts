/**
 * The key's shared store as the gateway's second level: answers another process on the key fetched
 * (its cache, under every id of the object), and claims, so that two processes asking for one object
 * make one request between them. Not used with a memory store, which would only hold a second copy of
 * this process's own cache. A store that fails costs sharing only: the gateway carries on alone.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { keysFor, type ResponseCache } from './cache.js';
import { KnownMissingError, VtError } from './errors.js';
import type { StateStore } from './state/store.js';

/** An answer as the gateway hands it on. */
export interface Loaded {
  body: unknown;
  fetchedAt: Date;
  /** Answered by another process's request, through the shared cache. */
  fromCache: boolean;
}

export interface SharedAnswersOptions {
  /** This process's cache, where an answer found in the shared one is filed too. */
  cache: ResponseCache;
  log: Logger;
  /** Longest a request waits for another process's identical request before sending its own. */
  claimWaitMs: number;
  /** How often it looks for that answer meanwhile. */
  claimPollMs: number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class SharedAnswers {
  readonly #store: StateStore;
  readonly #o: SharedAnswersOptions;
  /** Names this process in the leases it takes. */
  readonly #owner = randomUUID();

  constructor(store: StateStore, opts: SharedAnswersOptions) {
    this.#store = store;
    this.#o = opts;
  }

  /** The shared cache's answer, filed into this process's cache too; undefined on a miss or a store failure. */
  async hit(key: string): Promise<Loaded | undefined> {
    const now = Date.now();
    let hit: Awaited<ReturnType<StateStore['cacheGet']>>;
    try {
      hit = await this.#store.cacheGet(key, now);
    } catch (err) {
      this.#failed(err);
      return undefined;
    }
    if (!hit) return undefined;
    const cache = this.#o.cache;
    const fetchedAt = new Date(hit.fetchedAt);
    if (hit.notFound) {
      cache.setNotFound(key, fetchedAt, hit.fetchedAt + cache.notFoundTtlMs - now);
      throw new KnownMissingError('shared cache');
    }
    let body: unknown;
    try {
      body = JSON.parse(hit.body);
    } catch {
      return undefined;
    }
    cache.set(key, hit.body, fetchedAt, body, hit.fetchedAt + cache.ttlMs - now);
    return { body, fetchedAt, fromCache: true };
  }

  /** Files an answer (under every id of the object). */
  share(key: string, raw: Buffer | string, body: unknown, fetchedAt: Date): void {
    const ttl = this.#o.cache.ttlMs;
    if (ttl <= 0) return;
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    this.#store
      .cacheSet(keysFor(key, body), { body: text, fetchedAt: fetchedAt.getTime() }, ttl, Date.now())
      .catch((err: unknown) => this.#failed(err));
  }

  /** Files VirusTotal's "not found". */
  shareNotFound(key: string, fetchedAt: Date): void {
    const ttl = this.#o.cache.notFoundTtlMs;
    if (ttl <= 0) return;
    this.#store
      .cacheSet([key], { body: '', fetchedAt: fetchedAt.getTime(), notFound: true }, ttl, Date.now())
      .catch((err: unknown) => this.#failed(err));
  }

  /**
   * Before sending: if another process is fetching the same object (it holds the lease), wait for
   * its answer in the shared cache, bounded; then, or if its lease lapses, send our own. Returns the
   * other process's answer, or whether we hold the lease (to release when done).
   */
  async claim(key: string, deadline: number, signal: AbortSignal): Promise<Loaded | { held: boolean }> {
    const claim = `fetch:${key}`;
    const until = Math.min(deadline, Date.now() + this.#o.claimWaitMs);
    // The lease outlives a slow request a little; a process that dies frees it by expiry.
    const leaseMs = this.#o.claimWaitMs;
    for (let waited = false; ; waited = true) {
      try {
        if (await this.#store.lease(claim, this.#owner, leaseMs, Date.now())) {
          if (!waited) return { held: true };
          // The holder may have filed its answer and let go between our last look and this lease.
          const hit = await this.hit(key).catch((err: unknown) => {
            this.release(key);
            throw err;
          });
          if (!hit) return { held: true };
          this.release(key);
          return hit;
        }
      } catch (err) {
        if (err instanceof VtError) throw err;
        this.#failed(err);
        return { held: false };
      }
      if (Date.now() + this.#o.claimPollMs > until) return { held: false };
      await this.#o.sleep(this.#o.claimPollMs, signal);
      const hit = await this.hit(key);
      if (hit) return hit;
    }
  }

  /** Lets go of a claim once this process's answer is filed (queued after it, so never before it). */
  release(key: string): void {
    this.#store.releaseLease(`fetch:${key}`, this.#owner).catch((err: unknown) => this.#failed(err));
  }

  #failed(err: unknown): void {
    this.#o.log.debug(`state store: ${err instanceof Error ? err.message : String(err)}`);
  }
}
