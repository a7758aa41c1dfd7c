/**
 * Progress notifications, sent only when the client asked for them (a progressToken in the request).
 * `progress` must strictly increase, so every notification takes the next number.
 */
import type { WaitInfo } from '../vt/limiter.js';
import type { Extra } from './define.js';

interface Progress {
  /** For the gateway: tells the client where its request stands in the rate-limit queue. */
  onWait: (w: WaitInfo) => void;
  /** Reports a finished step of a batch. */
  step(done: number, total: number, message: string): void;
}

export function progressFor(extra: Extra): Progress {
  const token = extra.mcpReq._meta?.progressToken;
  let last = 0;
  let lastWaitNote = '';
  const send = (progress: number, total: number | undefined, message: string) => {
    if (token === undefined) return;
    last = Math.max(last + 1e-3, progress);
    extra.mcpReq
      .notify({
        method: 'notifications/progress',
        params: { progressToken: token, progress: last, ...(total !== undefined ? { total } : {}), message },
      })
      .catch(() => {});
  };
  let stepsDone = 0;
  let stepsTotal: number | undefined;
  return {
    onWait: (w) => {
      const note = `Waiting for the VirusTotal rate limit: position ${w.position} in line, about ${Math.max(1, Math.ceil(w.etaMs / 1000))} s.`;
      if (note === lastWaitNote) return;
      lastWaitNote = note;
      send(stepsDone, stepsTotal, note);
    },
    step: (done, total, message) => {
      stepsDone = done;
      stepsTotal = total;
      send(done, total, message);
    },
  };
}
