/**
 * Virtual time for end-to-end tests whose subject is waiting: the limiter's window, VirusTotal's 429
 * pauses, retry back-off, timeouts, polling. Everything that tells or waits for time in this process
 * (setTimeout and setInterval, Date, performance.now, AbortSignal.timeout) runs on vitest's fake clock,
 * and a real timer moves that clock on by `step` ms every real millisecond or so while the work runs:
 * a wait of seconds passes in tens of milliseconds, and the stand-in, the limiter, the gateway, the
 * client's timeouts and the test's own stopwatch all read the same clock.
 *
 * The clock moves only when the event loop is free to run the real timer, so a busy CPU (another
 * test file, a collection) does not make virtual time pass; real I/O (the loopback HTTP exchange with
 * the stand-in) takes a few real milliseconds and so a few steps of virtual time, which is why timing
 * checks keep comparing with an ideal plus a latency measured on the same clock. Never assert an
 * absolute time against it.
 *
 * Why the global clock rather than the `now` and `sleep` the limiter and the gateway accept: these
 * tests drive the server as index.ts builds it (createRuntime passes neither), through the stand-in
 * and the HTTP client, whose waits and timeouts must move with the same clock.
 *
 * Whatever captures `Date.now` when it is built (the limiter does) must be built inside, and closed
 * inside: run the whole life of the servers under test within `inVirtualTime` (or the hooks below).
 */
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';

/**
 * undici's coarse timers (headers and body timeouts, keep-alive) tick on one module-level timer; made
 * while the clock was fake, it would be dropped with the fake clock and never tick again in this
 * worker. Its reset() (exported for tests) lets the next request start a real one.
 */
const undiciTimers = createRequire(import.meta.url)('undici/lib/util/timers.js') as { reset(): void };

const real = {
  setTimeout: globalThis.setTimeout,
  abortTimeout: AbortSignal.timeout.bind(AbortSignal),
};

export interface VirtualTimeOptions {
  /** Virtual milliseconds per real tick (about a millisecond). */
  step?: number;
}

/** AbortSignal.timeout on the (fake) setTimeout: Node's own reads the real clock. */
function fakeAbortTimeout(ms: number): AbortSignal {
  const ac = new AbortController();
  const t = setTimeout(
    () => ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    ms,
  );
  (t as { unref?: () => void }).unref?.();
  return ac.signal;
}

let active = false;

/** Starts virtual time; the function returned stops it (after the servers built inside are closed). */
export function startVirtualTime(opts: VirtualTimeOptions = {}): () => Promise<void> {
  if (active) throw new Error('virtual time is already running');
  const step = opts.step ?? 20;
  active = true;
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    now: Date.now(),
  });
  AbortSignal.timeout = fakeAbortTimeout;
  let running = true;
  const ticking = (async () => {
    while (running) {
      await new Promise((r) => real.setTimeout(r, 1));
      if (running) await vi.advanceTimersByTimeAsync(step);
    }
  })();
  return async () => {
    running = false;
    await ticking;
    AbortSignal.timeout = real.abortTimeout;
    vi.useRealTimers();
    undiciTimers.reset();
    active = false;
  };
}

/** Runs `work` in virtual time and returns its result. */
export async function inVirtualTime<T>(work: () => Promise<T>, opts: VirtualTimeOptions = {}): Promise<T> {
  const stop = startVirtualTime(opts);
  try {
    return await work();
  } finally {
    await stop();
  }
}

/** Virtual time started by one hook and stopped, after `closeFirst`, by its partner. */
function virtualTimeBetween(
  start: (fn: () => void) => void,
  end: (fn: () => Promise<void>) => void,
  opts: VirtualTimeOptions & { closeFirst?: () => Promise<void> },
): void {
  let stop: (() => Promise<void>) | undefined;
  start(() => {
    stop = startVirtualTime(opts);
  });
  end(async () => {
    try {
      await opts.closeFirst?.();
    } finally {
      await stop?.();
      stop = undefined;
    }
  });
}

/**
 * Every test of the file (or describe block) in virtual time. `closeFirst` closes what the test built
 * before the clock stops (or register this before the afterEach that closes the servers: after-hooks
 * of one block run in reverse order).
 */
export function virtualTimeForEachTest(
  opts: VirtualTimeOptions & { closeFirst?: () => Promise<void> } = {},
): void {
  virtualTimeBetween(beforeEach, afterEach, opts);
}

/**
 * One virtual clock for every test of a block, concurrent ones included: it starts before the first
 * test and stops after the last, once `closeFirst` has closed what the tests built.
 */
export function virtualTimeForAllTests(
  opts: VirtualTimeOptions & { closeFirst?: () => Promise<void> } = {},
): void {
  virtualTimeBetween(beforeAll, afterAll, opts);
}
