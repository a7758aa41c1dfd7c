/**
 * Keeps upstream requests within the key's allowance: a sliding window (e.g. 4 per 60 s), a daily
 * cap that resets at 00:00 UTC, VirusTotal's pause after a 429, and a cap on concurrent requests.
 * Waiters are served in order; a waiter learns its place and expected wait, and can give up
 * (cancellation) at any time.
 *
 * The allowance itself is the key's state store's (state/store.ts decides it): the limiter counts
 * nothing of its own. It asks the store for a slot for the request at the head of the line, settles
 * the slot when the answer comes back, gives it back when the request never left, and estimates the
 * line's waits from what the store last said (its view). In one process the store is a MemoryStore.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { isoSeconds, nextUtcMidnight } from '../util/time.js';
import { CancelledError, VtError } from './errors.js';
import { FairLine } from './fair-line.js';
import type {
  Accounting,
  AcquireOptions,
  LimiterInternals,
  LimiterOptions,
  LimiterStats,
  WaitInfo,
} from './limiter-contract.js';
import { dailyCapSpent, waitTooLong } from './limiter-refusals.js';
import { MemoryStore } from './state/memory.js';
import { StoreView } from './store-view.js';
import { etaAt, replayWindow, type WindowReplay } from './window-replay.js';

export type { Accounting, AcquireOptions, LimiterInternals, LimiterOptions, LimiterStats, WaitInfo };

/** A request granted by the limiter, until its answer comes back (or it turns out it was never sent). */
interface Grant {
  settled: boolean;
  /** Its slot in the store, when the allowance is counted. */
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
  readonly #store: Accounting;
  /**
   * Whether the store counts requests: with a window or a daily cap, and always in memory, where it
   * costs nothing and keeps today's count for vt_quota. A shared store is written per request only
   * when a limit needs it.
   */
  readonly #counted: boolean;
  /** What the store said last: the line's estimates and the figures start from it. */
  readonly #view: StoreView;
  /** Requests granted whose answer has not come back. */
  #open = 0;
  readonly #queue = new FairLine<Waiter>();
  readonly #pool: LimitFunction;
  /**
   * Something made the line's estimates grow (a pause, the store's refusal, a retry put first):
   * every waiter is checked against its wait at the next pump. Otherwise estimates only fall as time
   * passes, and a pump tells only the first few waiters where they stand (a full check of a long line
   * at every pump would cost the square of its length).
   */
  #recheck = false;
  /** The store refused a slot (another process holds the window, or VT's pause) until then. */
  #heldUntil = 0;
  /** A pump is waiting for the store; it pumps again when the store answers. */
  #asking = false;
  #timer: NodeJS.Timeout | undefined;
  // A little slack so that our window and VT's (or the stand-in's) never disagree by a few ms.
  readonly #marginMs: number;

  constructor(opts: LimiterOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#pool = pLimit(opts.maxConcurrency);
    this.#marginMs = opts.window ? Math.min(250, Math.max(10, opts.window.seconds * 5)) : 0;
    this.#store = opts.store ?? new MemoryStore({ cacheMaxBytes: 0 });
    this.#view = new StoreView({
      store: this.#store,
      window: opts.window,
      now: this.#now,
      onError: opts.onStoreError,
    });
    this.#counted =
      opts.window !== undefined || opts.dailyQuota !== undefined || this.#store.kind === 'memory';
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
   * back before its failure is answered.
   */
  run<T>(fn: () => Promise<T>, opts: AcquireOptions = {}): Promise<T> {
    const task = (async () => {
      const grant = await this.#acquireSlot(opts);
      try {
        const v = await this.#pool(() => {
          if (opts.signal?.aborted) throw new CancelledError({ notSent: true });
          return fn();
        });
        void this.#settle(grant, false);
        return v;
      } catch (err) {
        await this.#settle(grant, err instanceof VtError && err.notSent);
        throw err;
      }
    })();
    const signal = opts.signal;
    if (!signal) return task;
    // A caller that gives up while queued behind the concurrency cap is answered at once.
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new CancelledError());
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
    await this.#settle(await this.#acquireSlot(opts), false);
  }

  /**
   * The answer came back (or the request failed after it may have reached VirusTotal): the slot
   * stays in the window until a window after now. A refund (never sent) frees it and the day's count.
   * Resolves when the store has it and the view is read again.
   */
  async #settle(grant: Grant, refund: boolean): Promise<void> {
    if (grant.settled) return;
    grant.settled = true;
    this.#open--;
    if (grant.slot === undefined) return;
    if (refund) {
      await this.#giveBack(grant.slot);
    } else {
      try {
        // The same margin as the line's estimates: VT's clock and ours never disagree by a few ms.
        await this.#store.settle(grant.slot, this.#now() + this.#marginMs, this.#o.window);
      } catch (err) {
        this.#o.onStoreError?.(err);
      }
      // The slot now frees a window after its answer: the next request's estimate must start from
      // that, not from the pending slot's lease. Without a window an answer changes nothing the view holds.
      if (!this.#o.window) return;
      await this.#view.refresh();
    }
    // A slot and perhaps the day's last request may be free again: waiters may go now.
    if (this.#queue.length > 0) this.#pump();
  }

  #acquireSlot(opts: AcquireOptions): Promise<Grant> {
    if (opts.signal?.aborted) return Promise.reject(new CancelledError());
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
          if (this.#remove(waiter)) reject(new CancelledError());
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
    // Every process on the key honours it (they would meet the same 429); the line honours it at once.
    this.#view.notePause(now + ms);
    this.#recheck = true;
    this.#store
      .pause(now + ms, now)
      .then(() => this.#view.refresh())
      .catch((err: unknown) => this.#o.onStoreError?.(err));
    this.#pump();
  }

  stats(): LimiterStats {
    const now = this.#now();
    const w = this.#o.window;
    const dayUsed = this.#view.dayUsed(now);
    const paused = this.#view.pausedUntil;
    return {
      ...(w
        ? {
            window: {
              requests: w.requests,
              seconds: w.seconds,
              used: Math.min(w.requests, this.#view.live(now)),
              next_slot_in_ms: Math.max(0, this.#etaFor(0)),
            },
          }
        : {}),
      ...(this.#o.dailyQuota !== undefined
        ? {
            daily: {
              quota: this.#o.dailyQuota,
              used: dayUsed,
              resets_at: isoSeconds(nextUtcMidnight(now)),
            },
          }
        : {}),
      day_used: dayUsed,
      // Waiting for the window, or granted and waiting for the concurrency cap.
      queued: this.#queue.length + this.#pool.pendingCount,
      in_flight: this.#pool.activeCount,
      max_concurrency: this.#o.maxConcurrency,
      ...(paused > now ? { paused_until: isoSeconds(paused) } : {}),
    };
  }

  internals(): LimiterInternals {
    return { window_times: this.#view.listed, open: this.#open, waiters: this.#queue.length };
  }

  /** Expected ms until the waiter at `index` may be sent (see window-replay.ts). */
  #etaFor(index: number): number {
    return etaAt(this.#replay(), index, this.#o.window, this.#marginMs);
  }

  /** The window replayed forward from now, after the pauses (see window-replay.ts). */
  #replay(): WindowReplay {
    const now = this.#now();
    return replayWindow({
      now,
      start: Math.max(now, this.#view.pausedUntil, this.#heldUntil),
      window: this.#o.window,
      marginMs: this.#marginMs,
      ...this.#view.window(now),
    });
  }

  #dailyRefusal(): VtError | undefined {
    const now = this.#now();
    const q = this.#o.dailyQuota;
    return q === undefined || this.#view.dayUsed(now) < q ? undefined : dailyCapSpent(now, q);
  }

  #tooLong(etaMs: number, maxWaitMs: number): VtError {
    return waitTooLong(this.#now(), etaMs, maxWaitMs, this.#o.window, this.#view.pausedUntil);
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
    if (this.#asking) return;
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
      if (this.#counted) {
        // The store decides: ask it for as many slots as the view says are free, and carry on when it answers.
        this.#asking = true;
        void this.#ask(this.#placesNow());
        return;
      }
      const w = this.#queue.next();
      if (w === undefined) return;
      this.#grant(w);
    }
  }

  /** How many at the head of the line may go now, as the view has it (the head at least). */
  #placesNow(): number {
    const r = this.#replay();
    let n = 0;
    let most = Math.min(this.#queue.length, ASKED_AT_ONCE);
    const q = this.#o.dailyQuota;
    if (q !== undefined) most = Math.min(most, q - this.#view.dayUsed(this.#now()));
    while (n < most && r.peek() <= 0) {
      r.take(r.peek());
      n++;
    }
    return Math.max(1, n);
  }

  /**
   * Asks the store for `n` slots at once, then gives them to the line in its order. Asked together,
   * a burst goes out together, as it would on counts of our own; the store still decides each one.
   */
  async #ask(n: number): Promise<void> {
    const now = this.#now();
    const request = {
      now,
      ...(this.#o.window ? { window: this.#o.window } : {}),
      ...(this.#o.dailyQuota !== undefined ? { dailyQuota: this.#o.dailyQuota } : {}),
      leaseMs: this.#o.leaseMs ?? 60_000,
    };
    const answers = await Promise.all(
      Array.from({ length: n }, () =>
        this.#store.acquire(request).catch((err: unknown) => {
          // No call fails because of the store: a request it could not count goes uncounted.
          this.#o.onStoreError?.(err);
          return undefined;
        }),
      ),
    );
    // What the store holds now: the line's estimates and vt_quota's figures start from it.
    await this.#view.refresh();
    this.#asking = false;
    for (const answer of answers) {
      if (answer && !answer.granted) {
        if (answer.reason !== 'daily') {
          // Never sooner than a moment from now: a store whose estimate is already past must not be asked in a loop.
          this.#heldUntil = Math.max(this.#heldUntil, answer.retryAt, now + 25);
          this.#recheck = true;
        }
        continue;
      }
      const w = this.#queue.next();
      // Everyone waiting left while the store answered: the slot goes back.
      if (!w) {
        if (answer) void this.#giveBack(answer.slot);
        continue;
      }
      this.#grant(w, answer?.slot);
    }
    this.#pump();
  }

  /** A slot that was never used goes back to the store, with its day's count, and the view is read again. */
  async #giveBack(slot: string): Promise<void> {
    try {
      await this.#store.refund(slot, this.#now());
    } catch (err) {
      this.#o.onStoreError?.(err);
    }
    await this.#view.refresh();
  }

  /** Lets a waiter go: its request may be sent now. */
  #grant(w: Waiter, slot?: string): void {
    if (w.onAbort) w.opts.signal?.removeEventListener('abort', w.onAbort);
    this.#open++;
    w.resolve({ settled: false, ...(slot !== undefined ? { slot } : {}) });
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
/** Slots asked of the store in one go, at most. */
const ASKED_AT_ONCE = 64;
