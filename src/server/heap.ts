/**
 * How far V8 lets its heap grow past what is live before the next full collection. Left to itself it
 * lets the old generation grow to several times the live size while collections are cheap, and every
 * report parsed (20 KB to over 1 MB of JSON each) leaves garbage there: over 20,000 lookups that was
 * about +90 MB of peak RSS on top of the cache, so VT_CACHE_MAX_MB=64 meant +160 MB. A fixed growth
 * keeps the peak near what the setting names (bench/memory.mjs measures it on the bin itself: see the
 * README's figures) for more work in the collector: about 1.2× the CPU in that measurement, 20,000
 * lookups back to back. At 50% the peak came to 1.27–1.47× the setting over six runs, too near the
 * 1.5× aimed at; 30% gave 1.35–1.36×, and 20% saved little more for more CPU.
 *
 * Set by the bin at start, before the load; V8 reads this flag at each collection, so setting it at run
 * time takes effect (heap sizes such as --max-semi-space-size would not). A user's own
 * --heap-growing-percent on node's command line wins (node refuses it in NODE_OPTIONS).
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 30;

const GIVEN = /^--heap[-_]growing[-_]percent\b/;

/** Fixes V8's heap growth unless the user chose one; returns the percent set, or undefined. */
export function fixHeapGrowth(execArgv: readonly string[] = process.execArgv): number | undefined {
  if (execArgv.some((a) => GIVEN.test(a))) return undefined;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return HEAP_GROWING_PERCENT;
}
