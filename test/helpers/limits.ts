/** Stand-in behaviours for tests of the mediation: VT's own rate limit, slow answers, in-flight counting. */
import type { ServerResponse } from 'node:http';
import { type RequestHook, send } from '../../src/demo/recorded-api.js';

/** Answers 429 QuotaExceededError, as VirusTotal does, to any request beyond `requests` per `seconds`. */
export function vtWindow(requests: number, seconds: number) {
  const times: number[] = [];
  let rejected = 0;
  const hook: RequestHook = (_req, res: ServerResponse) => {
    const now = Date.now();
    while (times.length > 0 && (times[0] as number) <= now - seconds * 1000) times.shift();
    if (times.length >= requests) {
      rejected++;
      send(res, 429, { error: { code: 'QuotaExceededError', message: 'Quota exceeded' } });
      return true;
    }
    times.push(now);
    return false;
  };
  return { hook, rejected: () => rejected };
}

/** Holds every answer `ms` and records the most requests it ever had open at once. */
export function slowUpstream(ms: number) {
  let open = 0;
  let peak = 0;
  const hook: RequestHook = async () => {
    open++;
    peak = Math.max(peak, open);
    await new Promise((r) => setTimeout(r, ms));
    open--;
    return false;
  };
  return { hook, peak: () => peak };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
