/**
 * What the limiter answers when a request cannot go: the day's cap is spent, or the wait is longer than
 * the call may wait. Facts only: answers/wording.ts words them for the model.
 */
import { nextUtcMidnight } from '../util/time.js';
import { DailyCapError, WaitTooLongError } from './errors.js';

export function dailyCapSpent(now: number, quota: number): DailyCapError {
  return new DailyCapError(quota, nextUtcMidnight(now), now);
}

export function waitTooLong(
  now: number,
  etaMs: number,
  maxWaitMs: number,
  window: { requests: number; seconds: number } | undefined,
  pausedUntil: number,
): WaitTooLongError {
  return new WaitTooLongError({
    resetAt: now + etaMs,
    waitMs: etaMs,
    ...(window ? { window } : {}),
    // Whose wait it is: VirusTotal's pause (after a 429) when that is what holds the request back.
    pausedByUpstream: !window || pausedUntil - now >= etaMs,
    maxWaitSeconds: Math.max(0, Math.round(maxWaitMs / 1000)),
  });
}
