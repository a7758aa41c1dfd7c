/**
 * What the key's state store said last about its allowance, as the limiter (limiter.ts) sees it: the
 * live slots of the window and when the earliest free, today's count and VirusTotal's pause. The
 * limiter's estimates of its line and its figures start from it; the store decides every grant.
 */
import type { Accounting } from './limiter-contract.js';
import { type Usage, utcDay } from './state/store.js';

export class StoreView {
  readonly #store: Accounting;
  readonly #window: { requests: number; seconds: number } | undefined;
  readonly #now: () => number;
  readonly #onError: ((err: unknown) => void) | undefined;
  #seen: Required<Pick<Usage, 'frees' | 'pausedUntil'>> & Pick<Usage, 'windowUsed' | 'day' | 'dayUsed'> = {
    windowUsed: 0,
    frees: [],
    day: '',
    dayUsed: 0,
    pausedUntil: 0,
  };
  /** The read under way, if any. */
  #reading: Promise<void> = Promise.resolve();
  /** The next read, not started yet: every call made before it starts waits for it. */
  #next: Promise<void> | undefined;

  constructor(o: {
    store: Accounting;
    window: { requests: number; seconds: number } | undefined;
    now: () => number;
    onError: ((err: unknown) => void) | undefined;
  }) {
    this.#store = o.store;
    this.#window = o.window;
    this.#now = o.now;
    this.#onError = o.onError;
  }

  /**
   * Reads the store's figures again. Resolves once a read that started after this call has ended, so
   * what the caller changed before it is in the view; calls made while that read has not started share
   * it. A caller waits for two reads at most, however busy the store is.
   */
  refresh(): Promise<void> {
    this.#next ??= (async () => {
      await this.#reading;
      this.#next = undefined;
      this.#reading = this.#read();
      await this.#reading;
    })();
    return this.#next;
  }

  async #read(): Promise<void> {
    try {
      const u = await this.#store.usage(this.#now(), this.#window);
      this.#seen = {
        windowUsed: u.windowUsed,
        frees: u.frees ?? [],
        day: u.day,
        dayUsed: u.dayUsed,
        pausedUntil: u.pausedUntil ?? 0,
      };
    } catch (err) {
      this.#onError?.(err);
    }
  }

  /** A pause this process asked the store for: honoured at once, before the store is read again. */
  notePause(until: number): void {
    this.#seen.pausedUntil = Math.max(this.#seen.pausedUntil, until);
  }

  /** 0 when no pause is known. */
  get pausedUntil(): number {
    return this.#seen.pausedUntil;
  }

  /** Today's count as the store last said it (0 on a new day). */
  dayUsed(now: number): number {
    return this.#seen.day === utcDay(now) ? this.#seen.dayUsed : 0;
  }

  /** Live slots now: those read, less the listed ones that have freed since. */
  live(now: number): number {
    return this.window(now).live;
  }

  /**
   * The window now: its live slots, and when the earliest of them free, in order (the store lists at
   * most FREES_LISTED).
   */
  window(now: number): { live: number; frees: readonly number[] } {
    const gone = this.#freed(now);
    return {
      live: Math.max(0, this.#seen.windowUsed - gone),
      frees: gone === 0 ? this.#seen.frees : this.#seen.frees.slice(gone),
    };
  }

  /** Free times listed (for the limiter's size figures). */
  get listed(): number {
    return this.#seen.frees.length;
  }

  #freed(now: number): number {
    const f = this.#seen.frees;
    let gone = 0;
    while (gone < f.length && (f[gone] ?? now) <= now) gone++;
    return gone;
  }
}
