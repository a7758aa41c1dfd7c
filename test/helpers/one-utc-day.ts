/**
 * Setup file for every test file (vitest.config.ts): a file runs within one UTC day.
 *
 * Some files count a day's lookups against the real clock, in processes of the bin whose clocks a test
 * cannot set (shared-state: "the daily count carries over", "counts across every replica"). If 00:00
 * UTC fell inside such a file, the count would start again half-way and the test would fail for no
 * fault of the code (seen: a run started at 23:59:39 UTC). No file takes near a minute, so a file that
 * would start in the day's last minute waits for the next day first; at any other time this costs
 * nothing. The rollover itself is tested on injected clocks (limiter-cache, state-contract).
 */
import { beforeAll } from 'vitest';
import { nextUtcMidnight } from '../../src/util/time.js';

/** Longer than any test file takes. */
const LAST_MINUTE_MS = 60_000;

beforeAll(async () => {
  const now = Date.now();
  const left = nextUtcMidnight(now) - now;
  if (left < LAST_MINUTE_MS) await new Promise((r) => setTimeout(r, left + 100));
}, LAST_MINUTE_MS + 10_000);
