/**
 * Keeps upstream requests within the key's allowance: a sliding window (e.g. 4 per 60 s), a daily
 * cap that resets at 00:00 UTC, and a cap on concurrent requests. Waiters are served in order;
 * a waiter learns its place and expected wait, and can give up (cancellation) at any time.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { DAY_MS, isoSeconds, nextUtcMidnight } from '../util/time.js';
import { VtError } from './errors.js';
import { FairLine } from './fair-line.js';
import type {
  AcquireOptions,
  LimiterInternals,
  LimiterOptions,
  LimiterStats,
  SharedAccounting,
  WaitInfo,
} from './limiter-contract.js';
import { cancelled, dailyCapSpent, waitTooLong } from './limiter-refusals.js';
import { TimeRing } from './time-ring.js';
import { etaAt, replayWindow, type WindowReplay } from './window-replay.js';

export type { AcquireOptions, LimiterInternals, LimiterOptions, LimiterStats, SharedAccounting, WaitInfo };

/** A request granted by the limiter, until its answer comes back (or it turns out it was never sent). */
interface Grant {
  /** The UTC day it was counted against. */
  day: number;
  settled: boolean;
  /** Its slot in the shared window, when the accounting is shared. */
  slot?: string;
}

interface Waiter {
  resolve: (grant: Grant) => void;
  reject: (e: Error) => void;
  opts: AcquireOptions;
  onAbort?: () => void;
  /** The latest time it may still be sent: its maximum wait from when it joined, or its deadline. */
  until: number;
  /** Its place in the fair order (see #join): the line is kept sorted by it. */
  tag: number;
}

export class RateLimiter {
  readonly #o: LimiterOptions;
  readonly #now: () => number;
  /**
   * When each answer of the current window came back: VirusTotal counts a request when it receives
   * it, somewhere between sending and the answer, so the later time is the safe one. Requests still
   * open count as "now". Only the last `requests` times can matter, so that is all the ring holds;
   * with no window nothing is kept at all.
   */
  readonly #done: TimeRing | undefined;
  #open = 0;
  readonly #queue = new FairLine<Waiter>();
  readonly #pool: LimitFunction;
  #day = -1;
  #dayUsed = 0;
  #pausedUntil = 0;
  /**
   * Something made the line's estimates grow (a pause, the shared store's refusal, a retry put first):
   * every waiter is checked against its wait at the next pump. Otherwise estimates only fall as time
   * passes, and a pump tells only the first few waiters where they stand (a full check of a long line
   * at every pump would cost the square of its length).
   */
  #recheck = false;
  /** The shared store refused a slot (another process holds the window, or VT's pause) until then. */
  #heldUntil = 0;
  /** A pump is waiting for the shared store; it pumps again when the store answers. */
  #pumping = false;
  #timer: NodeJS.Timeout | undefined;
  // A little slack so that our window and VT's (or the stand-in's) never disagree by a few ms.
  readonly #marginMs: number;

  constructor(opts: LimiterOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#pool = pLimit(opts.maxConcurrency);
    this.#marginMs = opts.window ? Math.min(250, Math.max(10, opts.window.seconds * 5)) : 0;
    this.#done = opts.window ? new TimeRing(opts.window.requests) : undefined;
  }

  /** The window, when there is one (for the gateway's backoff floor). */
  get window(): { requests: number; seconds: number } | undefined {
    return this.#o.window;
  }

  /**
   * Runs fn once the window grants a slot, within the concurrency cap. The window's line comes first:
   * it is the fair one (a request queued behind the concurrency cap first would wait behind every
   * request another client has queued). A request that fails with a VtError marked `notSent` (the
   * connection was never made, or it was cancelled before it left) gives its slot and its daily count
   * back.
   */
  run<T>(fn: () => Promise<T>, opts: AcquireOptions = {}): Promise<T> {
    const task = (async () => {
      const grant = await this.#acquireSlot(opts);
      try {
        const v = await this.#pool(() => {
          if (opts.signal?.aborted) throw cancelled(true);
          return fn();
        });
        this.#settle(grant, false);
        return v;
      } catch (err) {
        this.#settle(grant, err instanceof VtError && err.notSent);
        throw err;
      }
    })();
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
    this.#settle(await this.#acquireSlot(opts), false);
  }

  /**
   * The answer came back (or the request failed after it may have reached VirusTotal): the slot
   * stays in the window until a window after now. A refund (never sent) frees it and the day's count.
   */
  #settle(grant: Grant, refund: boolean): void {
    if (grant.settled) return;
    grant.settled = true;
    this.#open--;
    const shared = this.#o.shared;
    if (shared && grant.slot !== undefined) {
      const now = this.#now();
      const done = refund
        ? shared.refund(grant.slot, now)
        : // The same margin as our own window: VT's clock and ours never disagree by a few ms.
          shared.settle(grant.slot, now + this.#marginMs, this.#o.window);
      done.catch((err: unknown) => this.#o.onSharedError?.(err));
    }
    if (refund) {
      if (grant.day === this.#day) this.#dayUsed = Math.max(0, this.#dayUsed - 1);
      // A slot and perhaps the day's last request are free again: waiters may go now.
      if (this.#queue.length > 0) this.#pump();
      return;
    }
    // Non-decreasing even if the wall clock steps back, so the ring stays ordered.
    this.#done?.push(Math.max(this.#now(), this.#done.last()));
  }

  #acquireSlot(opts: AcquireOptions): Promise<Grant> {
    if (opts.signal?.aborted) return Promise.reject(cancelled());
    const daily = this.#dailyRefusal();
    if (daily) return Promise.reject(daily);
    return new Promise<Grant>((resolve, reject) => {
      const joined = this.#now();
      const waiter: Waiter = {
        resolve,
        reject,
        opts,
        until: Math.min(joined + this.#o.maxWaitMs, opts.deadline ?? Number.POSITIVE_INFINITY),
        tag: 0,
      };
      const eta = this.#etaFor(this.#join(waiter));
      // Measured when the request reaches the line, not when it was made: a batch's later items wait longer.
      const maxWait = Math.min(this.#o.maxWaitMs, (opts.deadline ?? Number.POSITIVE_INFINITY) - this.#now());
      if (eta > maxWait) {
        this.#remove(waiter);
        reject(this.#tooLong(eta, maxWait));
        return;
      }
      if (opts.signal) {
        waiter.onAbort = () => {
          if (this.#remove(waiter)) reject(cancelled());
        };
        opts.signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#pump();
      const i = this.#queue.indexOf(waiter);
      if (i !== -1) opts.onWait?.({ position: i + 1, etaMs: eta });
    });
  }

  /** Upstream said "too many requests": nobody is sent before `ms` from now. */
  pause(ms: number): void {
    const now = this.#now();
    this.#pausedUntil = Math.max(this.#pausedUntil, now + ms);
    this.#recheck = true;
    // Every process on the key honours it: they would meet the same 429.
    this.#o.shared?.pause(now + ms, now).catch((err: unknown) => this.#o.onSharedError?.(err));
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
              used: Math.min(w.requests, (this.#done?.length ?? 0) + this.#open),
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
      // Waiting for the window, or granted and waiting for the concurrency cap.
      queued: this.#queue.length + this.#pool.pendingCount,
      in_flight: this.#pool.activeCount,
      max_concurrency: this.#o.maxConcurrency,
      ...(this.#pausedUntil > now ? { paused_until: isoSeconds(this.#pausedUntil) } : {}),
    };
  }

  internals(): LimiterInternals {
    return { window_times: this.#done?.length ?? 0, open: this.#open, waiters: this.#queue.length };
  }

  /** Expected ms until the waiter at `index` may be sent (see window-replay.ts). */
  #etaFor(index: number): number {
    return etaAt(this.#replay(), index, this.#o.window, this.#marginMs);
  }

  /** The window replayed forward from now, after the pauses (see window-replay.ts). */
  #replay(): WindowReplay {
    const now = this.#now();
    this.#prune(now);
    return replayWindow({
      now,
      start: Math.max(now, this.#pausedUntil, this.#heldUntil),
      window: this.#o.window,
      marginMs: this.#marginMs,
      done: this.#done,
      open: this.#open,
    });
  }

  #prune(now: number): void {
    const w = this.#o.window;
    const done = this.#done;
    if (!w || !done) return;
    const cutoff = now - (w.seconds * 1000 + this.#marginMs);
    while (done.length > 0 && done.at(0) <= cutoff) done.shift();
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
    return q === undefined || this.#dayUsed < q ? undefined : dailyCapSpent(now, q);
  }

  #tooLong(etaMs: number, maxWaitMs: number): VtError {
    return waitTooLong(this.#now(), etaMs, maxWaitMs, this.#o.window, this.#pausedUntil);
  }

  /** Puts a waiter in its fair place (retries first); returns its index. */
  #join(w: Waiter): number {
    const front = w.opts.front === true;
    // A retry put first delays everyone behind it.
    if (front && this.#queue.length > 0) this.#recheck = true;
    return this.#queue.join(w, w.opts.client ?? '', front);
  }

  #remove(w: Waiter): boolean {
    if (!this.#queue.remove(w)) return false;
    if (w.onAbort) w.opts.signal?.removeEventListener('abort', w.onAbort);
    return true;
  }

  #pump(): void {
    if (this.#pumping) return;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#queue.length > 0) {
      const refusal = this.#dailyRefusal();
      if (refusal) {
        this.#rejectAll(refusal);
        return;
      }
      const eta = this.#etaFor(0);
      if (eta > 0) {
        this.#waitFor(eta);
        return;
      }
      const shared = this.#o.shared;
      if (shared && (this.#o.window || this.#o.dailyQuota !== undefined)) {
        // The store decides across processes: ask it, and carry on when it answers. With neither a
        // window nor a daily cap there is nothing to decide, and nothing is written per request.
        this.#pumping = true;
        void this.#pumpShared(shared);
        return;
      }
      const w = this.#queue.next();
      if (w === undefined) return;
      this.#grant(w);
    }
  }

  /** Asks the shared store for a slot for the waiter at the head of the line. */
  async #pumpShared(shared: SharedAccounting): Promise<void> {
    const now = this.#now();
    let answer: Awaited<ReturnType<SharedAccounting['acquire']>> | undefined;
    try {
      answer = await shared.acquire({
        now,
        ...(this.#o.window ? { window: this.#o.window } : {}),
        ...(this.#o.dailyQuota !== undefined ? { dailyQuota: this.#o.dailyQuota } : {}),
        leaseMs: this.#o.leaseMs ?? 60_000,
      });
    } catch (err) {
      // No call fails because of the store: this slot is granted on local counts alone.
      this.#o.onSharedError?.(err);
    }
    this.#pumping = false;
    if (answer && !answer.granted) {
      if (answer.reason === 'daily') {
        this.#dayUsed = Math.max(this.#dayUsed, this.#o.dailyQuota ?? 0);
      } else {
        // Never sooner than a moment from now: a store whose estimate is already past must not be asked in a loop.
        this.#heldUntil = Math.max(this.#heldUntil, answer.retryAt, now + 25);
        this.#recheck = true;
        if (answer.reason === 'paused') this.#pausedUntil = Math.max(this.#pausedUntil, answer.retryAt);
      }
      this.#pump();
      return;
    }
    const w = this.#queue.next();
    if (!w) {
      // Everyone waiting left while the store answered: the slot goes back.
      if (answer?.granted) {
        shared.refund(answer.slot, this.#now()).catch((err: unknown) => this.#o.onSharedError?.(err));
      }
    } else {
      if (answer?.granted) this.#dayUsed = Math.max(this.#dayUsed + 1, answer.dayUsed);
      this.#grant(w, answer?.granted ? answer.slot : undefined, !answer?.granted);
    }
    this.#pump();
  }

  /** Lets a waiter go: its request may be sent now. */
  #grant(w: Waiter, slot?: string, countLocally = true): void {
    if (w.onAbort) w.opts.signal?.removeEventListener('abort', w.onAbort);
    this.#open++;
    this.#rollDay(this.#now());
    if (countLocally) this.#dayUsed++;
    w.resolve({ day: this.#day, settled: false, ...(slot !== undefined ? { slot } : {}) });
  }

  #waitFor(eta: number): void {
    this.#timer = setTimeout(() => this.#pump(), eta);
    this.#timer.unref?.();
    const now = this.#now();
    // The estimate can grow after a waiter joined (other processes on the key took the window, or
    // VirusTotal paused us): one that can no longer go within its wait is answered now, not left hanging.
    // One replay for the whole line: a waiter answered now takes no place in it.
    const r = this.#replay();
    let position = 0;
    const line = this.#queue.first(this.#recheck ? undefined : TOLD_EACH_PUMP);
    this.#recheck = false;
    for (const w of line) {
      const etaMs = r.peek();
      if (now + etaMs > w.until) {
        this.#remove(w);
        w.reject(this.#tooLong(etaMs, Math.max(0, w.until - now)));
        continue;
      }
      r.take(etaMs);
      w.opts.onWait?.({ position: ++position, etaMs });
    }
  }

  #rejectAll(refusal: VtError): void {
    for (const w of this.#queue.clear()) {
      if (w.onAbort) w.opts.signal?.removeEventListener('abort', w.onAbort);
      w.reject(refusal);
    }
  }
}

/** Waiters told their place at each pump when nothing made the estimates grow. */
const TOLD_EACH_PUMP = 32;
