/**
 * The bounds on triage jobs (how many a client and the server run and keep, how many indicators and
 * bytes they hold), and the check a new job passes before it is stored: a refusal names the bound, the
 * figures, the caller's own jobs that hold it, and when stopped jobs will have expired to make room.
 */
import type { JobHeader } from './job-schemas.js';

/** How many jobs and how much of the store they may take; what a refusal names. */
export interface JobLimits {
  runningPerClient: number;
  storedPerClient: number;
  runningTotal: number;
  storedTotal: number;
  /** Indicators in every stored job together. */
  indicatorsTotal: number;
  /** Bytes of every stored job together (what their documents take in the store). */
  bytesTotal: number;
}

/** One job may take at most this part of bytesTotal, so that one list of long URLs cannot fill it. */
export const JOB_BYTES_SHARE = 16;

export type JobBound = keyof JobLimits | 'bytesPerJob';

/** A new job would pass a bound: which, the figures, and what frees room. */
export class JobLimitError extends Error {
  constructor(
    readonly bound: JobBound,
    readonly limit: number,
    readonly current: number,
    /** The caller's own jobs that hold the bound (running ones for a running bound), oldest first. */
    readonly holding: JobHeader[],
    /** When enough stopped jobs have expired to make room, for a stored bound (ms epoch). */
    readonly roomAt?: number,
    /** What the new job would add, for a bound on a sum (indicators, bytes). */
    readonly adding?: number,
    /** How many stopped jobs must expire, the last at roomAt, to make that room. */
    readonly roomJobs?: number,
  ) {
    super(`triage job bound ${bound} (${limit}) reached`);
    this.name = 'JobLimitError';
  }
}

/**
 * Throws JobLimitError when `next` would pass a bound beside the stored jobs `all`; `expiresAt` says
 * when a stored job goes.
 */
export function checkRoom(
  l: JobLimits,
  expiresAt: (h: JobHeader) => number,
  all: JobHeader[],
  next: JobHeader,
): void {
  const mine = all.filter((h) => h.owner === next.owner);
  const running = (hs: JobHeader[]) => hs.filter((h) => h.status === 'running');
  const byAge = (hs: JobHeader[]) => [...hs].sort((a, b) => a.createdAt - b.createdAt);
  /**
   * When the stopped jobs among `hs` have freed `need` of what `size` counts (one each for a count of
   * jobs): the expiry of the last one needed, soonest first. Undefined when they cannot free that much
   * (running jobs hold the rest).
   */
  const roomAt = (hs: JobHeader[], need: number, size: (h: JobHeader) => number = () => 1) => {
    const stopped = hs.filter((h) => h.status !== 'running').sort((a, b) => expiresAt(a) - expiresAt(b));
    let freed = 0;
    for (const [n, h] of stopped.entries()) {
      freed += size(h);
      if (freed >= need) return { at: expiresAt(h), jobs: n + 1 };
    }
    return undefined;
  };
  const refuse = (
    bound: JobBound,
    current: number,
    holding: JobHeader[],
    room?: { at: number; jobs: number },
    adding?: number,
  ) => {
    const limit = bound === 'bytesPerJob' ? Math.floor(l.bytesTotal / JOB_BYTES_SHARE) : l[bound];
    throw new JobLimitError(bound, limit, current, byAge(holding), room?.at, adding, room?.jobs);
  };
  if (next.bytes > Math.floor(l.bytesTotal / JOB_BYTES_SHARE)) refuse('bytesPerJob', next.bytes, []);
  if (running(mine).length + 1 > l.runningPerClient)
    refuse('runningPerClient', running(mine).length, running(mine));
  if (mine.length + 1 > l.storedPerClient)
    refuse('storedPerClient', mine.length, mine, roomAt(mine, mine.length + 1 - l.storedPerClient));
  if (running(all).length + 1 > l.runningTotal) refuse('runningTotal', running(all).length, running(mine));
  if (all.length + 1 > l.storedTotal)
    refuse('storedTotal', all.length, mine, roomAt(all, all.length + 1 - l.storedTotal));
  // A bound on a sum is passed by what the job would add; room comes when enough stopped jobs are gone.
  const sumBound = (bound: 'indicatorsTotal' | 'bytesTotal', size: (h: JobHeader) => number) => {
    const held = all.reduce((n, h) => n + size(h), 0);
    const adding = size(next);
    if (held + adding > l[bound])
      refuse(bound, held, mine, roomAt(all, held + adding - l[bound], size), adding);
  };
  sumBound('indicatorsTotal', (h) => h.total);
  sumBound('bytesTotal', (h) => h.bytes);
}
