/**
 * When the places in the limiter's line may go: the window replayed forward, one place at a time, from
 * the store's estimates of when its live slots free and the waiters ahead. O(places asked for), whatever
 * the number of requests served.
 */

export interface WindowReplay {
  /** When the next place may go, in ms from now. */
  peek(): number;
  /** Gives that place to a waiter (eta: what peek() said). */
  take(eta: number): void;
}

/** Places of the line replayed one by one for an estimate; past them the window's pace is assumed. */
const REPLAYED_PLACES = 64;

export function replayWindow(o: {
  now: number;
  /** Nothing goes before this (a pause, the store's refusal). */
  start: number;
  window: { requests: number; seconds: number } | undefined;
  marginMs: number;
  /** Live slots in the window. */
  live: number;
  /** When the earliest of them free, in order (the store's `frees`; it may list fewer than `live`). */
  frees: readonly number[];
}): WindowReplay {
  const { now, window: w, frees, live } = o;
  if (!w) return { peek: () => o.start - now, take: () => {} };
  // A place taken here is answered at its send at the earliest, and counted from then, as the store does.
  const windowMs = w.seconds * 1000 + o.marginMs;
  const ahead: number[] = [];
  // A slot past those listed frees no sooner than the last listed one (a window full of them is read
  // again when the store answers).
  const listedLast = frees.at(-1) ?? now;
  // Only places already taken are read (j < live + ahead.length); NaN is what a read past them would be.
  const freeAt = (j: number): number =>
    j < live ? (frees[j] ?? listedLast) : (ahead[j - live] ?? Number.NaN);
  let t = o.start;
  return {
    peek: () => {
      // A place frees when the earliest of the last `requests` slots leaves the window.
      const len = live + ahead.length;
      const oldest = len >= w.requests ? freeAt(len - w.requests) : Number.NEGATIVE_INFINITY;
      return Math.max(t, oldest) - now;
    },
    take: (eta: number) => {
      t = now + eta;
      ahead.push(t + windowMs);
    },
  };
}

/** Expected ms until the place at `index` may go; the replay is used up. */
export function etaAt(
  r: WindowReplay,
  index: number,
  window: { requests: number; seconds: number } | undefined,
  marginMs: number,
): number {
  const exact = Math.min(index, REPLAYED_PLACES);
  for (let i = 0; i < exact; i++) r.take(r.peek());
  const eta = r.peek();
  if (index === exact || !window) return eta;
  // Far down a long line the window lets `requests` go per window: replaying each place there would
  // make every join cost the length of the line.
  return eta + ((index - exact) * (window.seconds * 1000 + marginMs)) / window.requests;
}
