/**
 * What the limiter answers when a request cannot go: the day's cap is spent, the wait is longer than
 * the call may wait, or the caller gave up. Facts only: answers/wording.ts words them for the model.
 */
import { isoSeconds, nextUtcMidnight } from '../util/time.js';
import { VtError } from './errors.js';

export function dailyCapSpent(now: number, quota: number): VtError {
  const reset = nextUtcMidnight(now);
  return new VtError('quota', `daily cap of ${quota} spent until ${isoSeconds(reset)}`, {
    retryAfterSeconds: Math.ceil((reset - now) / 1000),
    resetAt: new Date(reset),
    quotaScope: 'daily',
    dailyQuota: quota,
  });
}

export function waitTooLong(
  now: number,
  etaMs: number,
  maxWaitMs: number,
  window: { requests: number; seconds: number } | undefined,
  pausedUntil: number,
): VtError {
  // Whose wait it is: VirusTotal's pause (after a 429) when that is what holds the request back.
  const pausedByUpstream = !window || pausedUntil - now >= etaMs;
  return new VtError('quota', `a slot frees in ${Math.ceil(etaMs / 1000)} s, past this call's wait`, {
    retryAfterSeconds: Math.ceil(etaMs / 1000),
    resetAt: new Date(now + etaMs),
    quotaScope: 'rate',
    ...(window ? { window } : {}),
    pausedByUpstream,
    maxWaitSeconds: Math.max(0, Math.round(maxWaitMs / 1000)),
  });
}

/** notSent: the request had a slot but never left, so the slot and the day's count go back. */
export function cancelled(notSent = false): VtError {
  return new VtError(
    'cancelled',
    'The request was cancelled before it was sent.',
    notSent ? { notSent } : {},
  );
}
