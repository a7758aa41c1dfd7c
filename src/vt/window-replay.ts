/**
 * When the places in the limiter's line may go: the window replayed forward, one place at a time,
 * from the completion times kept, the requests still open (as if answered now) and the waiters ahead.
 * O(places asked for), whatever the number of requests served.
 */
import type { TimeRing } from './time-ring.js';

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
  /** Nothing goes before this (a pause, the shared store's refusal). */
  start: number;
  window: { requests: number; seconds: number } | undefined;
  marginMs: number;
  /** Completion times within the window, oldest first (pruned by the caller). */
  done: TimeRing | undefined;
  /** Requests granted whose answer has not come back. */
  open: number;
}): WindowReplay {
  const { now, window: w, done } = o;
  if (!w || !done) return { peek: () => o.start - now, take: () => {} };
  const windowMs = w.seconds * 1000 + o.marginMs;
  const kept = done.length;
  const known = kept + o.open;
  const ahead: number[] = [];
  // Only places already taken are read (j < known + ahead.length); NaN is what a read past them would be.
  const at = (j: number): number =>
    j < kept ? done.at(j) : j < known ? now : (ahead[j - known] ?? Number.NaN);
  let t = o.start;
  return {
    peek: () => {
      // The place frees when the oldest of the last `requests` sends leaves the window.
      const len = known + ahead.length;
      const oldest = len >= w.requests ? at(len - w.requests) : Number.NEGATIVE_INFINITY;
      return Math.max(t, oldest + windowMs) - now;
    },
    take: (eta: number) => {
      t = now + eta;
      ahead.push(t);
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
