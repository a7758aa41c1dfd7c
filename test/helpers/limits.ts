/** Stand-in behaviours for tests of the mediation: VT's own rate limit, slow answers, in-flight counting. */
import type { ServerResponse } from 'node:http';
import { RecordedApi, type RequestHook, send } from '../../src/demo/recorded-api.js';

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

/**
 * One round trip to a stand-in of its own (so a rate-limited one never sees it), measured in this run:
 * the median of 5 requests for `path`. Timing tests compare with an ideal plus this.
 */
export async function roundTripMs(key: string, path: string): Promise<number> {
  const api = await new RecordedApi({ apiKey: key }).start();
  try {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await (await fetch(`${api.url}${path}`, { headers: { 'x-apikey': key } })).text();
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[2] as number;
  } finally {
    await api.close();
  }
}
