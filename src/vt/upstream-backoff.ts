/**
 * How long everyone waits after VirusTotal answers 429, and what a request that cannot wait that long
 * is told. A pause is our floor (1 s, or the window's share per request if longer), doubled for each
 * further 429 in a row up to a cap, or VT's Retry-After if that is longer. 429s to requests that were
 * already out when the pause was decided belong to the same episode and do not double it again; any
 * other answer ends the run.
 */
import { UpstreamRefusedError, type VtAnswerError } from './errors.js';

export interface UpstreamBackoffOptions {
  /** Least pause after a 429, in ms. */
  floorMs: number;
  /** Longest pause our own doubling reaches, in ms; VT's Retry-After may ask for more. */
  capMs: number;
  /** The longest a call waits (VT_MAX_WAIT_SECONDS), said in the refusal. */
  maxWaitMs: number;
  /** The rate window, when there is one: its share per request raises the floor. */
  window: () => { requests: number; seconds: number } | undefined;
}

export class UpstreamBackoff {
  readonly #o: UpstreamBackoffOptions;
  /** 429s in a row (each counted once per pause), for the doubling. */
  #streak = 0;
  /** When the current pause was decided: a 429 to a request sent before it is the same episode. */
  #streakAt = Number.NEGATIVE_INFINITY;

  constructor(opts: UpstreamBackoffOptions) {
    this.#o = opts;
  }

  /** VirusTotal took a request (answered it, other than with 429): a run of 429s is over. */
  answered(): void {
    this.#streak = 0;
  }

  /** The pause, in ms, after a 429 to a request sent at `sentAt`. */
  after429(err: VtAnswerError, sentAt: number): number {
    if (sentAt > this.#streakAt) {
      this.#streak++;
      this.#streakAt = Date.now();
    }
    const w = this.#o.window();
    const floor = Math.max(this.#o.floorMs, w ? (w.seconds * 1000) / w.requests : 0);
    const ours = Math.min(floor * 2 ** (Math.min(Math.max(this.#streak, 1), 20) - 1), this.#o.capMs);
    // VirusTotal's own signal wins when it asks for longer; "0", garbage or none leaves ours.
    const theirs = (err.retryAfterSeconds ?? 0) * 1000;
    return Math.max(ours, floor, theirs);
  }

  /** What a request is told when it will not wait out the pause, or gave up after its retries. */
  refusal(
    err: VtAnswerError,
    backoffMs: number,
    gaveUp?: { retries: number; sinceMs: number },
  ): UpstreamRefusedError {
    // Facts only: answers/wording.ts words them for the model.
    return new UpstreamRefusedError({
      ...(err.vtCode ? { vtCode: err.vtCode } : {}),
      resetAt: Date.now() + backoffMs,
      maxWaitSeconds: Math.round(this.#o.maxWaitMs / 1000),
      ...(gaveUp
        ? { retries: gaveUp.retries, waitedSeconds: Math.max(1, Math.round(gaveUp.sinceMs / 1000)) }
        : {}),
    });
  }
}
