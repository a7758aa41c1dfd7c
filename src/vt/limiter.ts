/**
 * Keeps upstream requests within the key's allowance: a sliding window (e.g. 4 per 60 s), a daily
 * cap that resets at 00:00 UTC, and a cap on concurrent requests. Waiters are served in order;
 * a waiter learns its place and expected wait, and can give up (cancellation) at any time.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { VtError } from './errors.js';

export interface LimiterOptions {
  /** Requests per window; undefined for no window. */
  window?: { requests: number; seconds: number };
  /** Upstream requests per UTC day; undefined for no cap. */
  dailyQuota?: number;
  maxConcurrency: number;
  /** A waiter whose expected wait exceeds this is refused at once rather than left hanging. */
  maxWaitMs: number;
  now?: () => number;
}

export interface WaitInfo {
  /** 1 = next in line. */
  position: number;
  /** Expected wait in ms before this request is sent. */
  etaMs: number;
}

export interface AcquireOptions {
  signal?: AbortSignal | undefined;
  onWait?: ((w: WaitInfo) => void) | undefined;
  /** Retries go to the front of the line: they were already waited for once. */
  front?: boolean;
  /** A point in time (ms since epoch) after which the request must not be sent, e.g. the end of a batch. */
  deadline?: number;
}

interface Slot {
  t: number;
}

interface Waiter {
  resolve: (slot: Slot) => void;
  reject: (e: Error) => void;
  opts: AcquireOptions;
}

export interface LimiterStats {
  window?: { requests: number; seconds: number; used: number; next_slot_in_ms: number };
  daily?: { quota: number; used: number; resets_at: string };
  day_used: number;
  queued: number;
  in_flight: number;
  max_concurrency: number;
  paused_until?: string;
}

const DAY_MS = 86_400_000;

export function nextUtcMidnight(now: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
}

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class RateLimiter {
  readonly #o: LimiterOptions;
  readonly #now: () => number;
  /**
   * When each request of the current window went out, moved to when its answer came back: VirusTotal
   * counts a request when it receives it, somewhere in between, so the later time is the safe one.
   */
  readonly #sent: Slot[] = [];
  readonly #queue: Waiter[] = [];
  readonly #pool: LimitFunction;
  #day = -1;
  #dayUsed = 0;
  #pausedUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  // A little slack so that our window and VT's (or the stand-in's) never disagree by a few ms.
  readonly #marginMs: number;

  constructor(opts: LimiterOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#pool = pLimit(opts.maxConcurrency);
    this.#marginMs = opts.window ? Math.min(250, Math.max(10, opts.window.seconds * 5)) : 0;
  }

  /**
   * Runs fn within the concurrency cap once the window grants a slot. The slot is taken only when
   * the request is about to leave, so our count matches what VirusTotal sees.
   */
  run<T>(fn: () => Promise<T>, opts: AcquireOptions = {}): Promise<T> {
    const task = this.#pool(async () => {
      const slot = await this.#acquireSlot(opts);
      try {
        return await fn();
      } finally {
        slot.t = Math.max(slot.t, this.#now());
        this.#sent.sort((a, b) => a.t - b.t);
      }
    });
    const signal = opts.signal;
    if (!signal) return task;
    // A caller that gives up while queued behind the concurrency cap is answered at once.
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(cancelled());
      signal.addEventListener('abort', onAbort, { once: true });
      task.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /** Waits for permission to send one request (counted against window and day once granted). */
  async acquire(opts: AcquireOptions = {}): Promise<void> {
    await this.#acquireSlot(opts);
  }

  #acquireSlot(opts: AcquireOptions): Promise<Slot> {
    if (opts.signal?.aborted) return Promise.reject(cancelled());
    const daily = this.#dailyRefusal();
    if (daily) return Promise.reject(daily);
    return new Promise<Slot>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, opts };
      if (opts.front) this.#queue.unshift(waiter);
      else this.#queue.push(waiter);
      const eta = this.#etaFor(this.#queue.indexOf(waiter));
      // Measured when the request reaches the line, not when it was made: a batch's later items wait longer.
      const maxWait = Math.min(this.#o.maxWaitMs, (opts.deadline ?? Number.POSITIVE_INFINITY) - this.#now());
      if (eta > maxWait) {
        this.#remove(waiter);
        reject(this.#tooLong(eta, maxWait));
        return;
      }
      opts.signal?.addEventListener(
        'abort',
        () => {
          if (this.#remove(waiter)) reject(cancelled());
        },
        { once: true },
      );
      this.#pump();
      if (this.#queue.includes(waiter))
        opts.onWait?.({ position: this.#queue.indexOf(waiter) + 1, etaMs: eta });
    });
  }

  /** Upstream said "too many requests": nobody is sent before `ms` from now. */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + ms);
    this.#pump();
  }

  stats(): LimiterStats {
    const now = this.#now();
    this.#rollDay(now);
    const w = this.#o.window;
    this.#prune(now);
    return {
      ...(w
        ? {
            window: {
              requests: w.requests,
              seconds: w.seconds,
              used: this.#sent.length,
              next_slot_in_ms: Math.max(0, this.#etaFor(0)),
            },
          }
        : {}),
      ...(this.#o.dailyQuota !== undefined
        ? {
            daily: {
              quota: this.#o.dailyQuota,
              used: this.#dayUsed,
              resets_at: isoSeconds(nextUtcMidnight(now)),
            },
          }
        : {}),
      day_used: this.#dayUsed,
      queued: this.#queue.length + this.#pool.pendingCount,
      // Pool slots held by requests already sent (the others are waiting for the window).
      in_flight: Math.max(0, this.#pool.activeCount - this.#queue.length),
      max_concurrency: this.#o.maxConcurrency,
      ...(this.#pausedUntil > now ? { paused_until: isoSeconds(this.#pausedUntil) } : {}),
    };
  }

  /** Expected ms until the waiter at `index` may be sent, by replaying the window forward. */
  #etaFor(index: number): number {
    const now = this.#now();
    const start = Math.max(now, this.#pausedUntil);
    const w = this.#o.window;
    if (!w) return start - now;
    const windowMs = w.seconds * 1000 + this.#marginMs;
    this.#prune(now);
    const times = this.#sent.map((s) => s.t);
    let t = start;
    for (let i = 0; i <= index; i++) {
      // The slot frees when the oldest of the last `requests` sends leaves the window.
      const oldest = times.length >= w.requests ? (times[times.length - w.requests] as number) : -Infinity;
      t = Math.max(t, oldest + windowMs);
      times.push(t);
    }
    return t - now;
  }

  #prune(now: number): void {
    const w = this.#o.window;
    if (!w) return;
    const cutoff = now - (w.seconds * 1000 + this.#marginMs);
    while (this.#sent.length > 0 && (this.#sent[0] as Slot).t <= cutoff) this.#sent.shift();
  }

  #rollDay(now: number): void {
    const day = Math.floor(now / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      this.#dayUsed = 0;
    }
  }

  #dailyRefusal(): VtError | undefined {
    const now = this.#now();
    this.#rollDay(now);
    const q = this.#o.dailyQuota;
    if (q === undefined || this.#dayUsed < q) return undefined;
    const reset = nextUtcMidnight(now);
    return new VtError(
      'quota',
      `The daily cap of ${q} VirusTotal ${q === 1 ? 'lookup' : 'lookups'} (VT_DAILY_QUOTA) is spent. It resets at ${isoSeconds(reset)} (00:00 UTC).`,
      { retryAfterSeconds: Math.ceil((reset - now) / 1000), resetAt: new Date(reset), quotaScope: 'daily' },
    );
  }

  #tooLong(etaMs: number, maxWaitMs: number): VtError {
    const at = this.#now() + etaMs;
    const w = this.#o.window;
    const rate = w
      ? `All ${w.requests} ${w.requests === 1 ? 'lookup' : 'lookups'} allowed per ${w.seconds} s (VT_RATE_LIMIT) are in use`
      : 'VirusTotal asked us to slow down';
    return new VtError(
      'quota',
      `${rate}: this request would wait about ${Math.ceil(etaMs / 1000)} s, more than the ` +
        `${Math.max(0, Math.round(maxWaitMs / 1000))} s this call may still wait. ` +
        `A slot is free again at about ${isoSeconds(at)}.`,
      { retryAfterSeconds: Math.ceil(etaMs / 1000), resetAt: new Date(at), quotaScope: 'rate' },
    );
  }

  #remove(w: Waiter): boolean {
    const i = this.#queue.indexOf(w);
    if (i === -1) return false;
    this.#queue.splice(i, 1);
    return true;
  }

  #pump(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#queue.length > 0) {
      const refusal = this.#dailyRefusal();
      if (refusal) {
        for (const w of this.#queue.splice(0)) w.reject(refusal);
        return;
      }
      const eta = this.#etaFor(0);
      if (eta > 0) {
        this.#timer = setTimeout(() => this.#pump(), eta);
        this.#timer.unref?.();
        this.#queue.forEach((w, i) => {
          w.opts.onWait?.({ position: i + 1, etaMs: this.#etaFor(i) });
        });
        return;
      }
      const w = this.#queue.shift() as Waiter;
      const slot: Slot = { t: this.#now() };
      this.#sent.push(slot);
      this.#dayUsed++;
      w.resolve(slot);
    }
  }
}

function cancelled(): VtError {
  return new VtError('cancelled', 'The request was cancelled before it was sent.');
}
