/**
 * Words about triage jobs, beside wording.ts: a job id the server does not find (what that means where
 * jobs are kept), and a new job refused at one of the bounds on jobs (JobLimitError's facts).
 */
import { JOB_BYTES_SHARE, type JobBound, type JobLimitError } from '../jobs/job-bounds.js';
import { fmtInt } from '../summaries/common.js';
import { stripUnsafe } from '../util/sanitize.js';
import { isoSeconds } from '../util/time.js';
import type { StoreHealth } from '../vt/state/store.js';

/**
 * A triage job id the server does not find. What that means depends on where jobs are kept: in a
 * shared store it is gone or never was; in this process's memory a restart of the server loses it;
 * in a shared store that is unavailable now it may well be there, unreadable until the store answers.
 * Starting the job again spends every lookup again, so the model is told which of these it is first.
 */
/**
 * The store that keeps the jobs cannot be read now: a shared store that is unavailable (this process's
 * memory always answers). A job not found there may well be there.
 */
export function jobsUnreadableNow(
  state: StoreHealth | undefined,
): state is StoreHealth & { degradedSince: number } {
  return state !== undefined && state.kind !== 'memory' && state.degradedSince !== undefined;
}

export function jobNotFoundText(id: string, keepHours: number, state: StoreHealth | undefined): string {
  const why = state?.reason ? stripUnsafe(state.reason).slice(0, 300) : undefined;
  const again =
    'Starting it again with `indicators` looks every indicator up again, spending those lookups again.';
  if (state?.kind === 'memory') {
    return (
      `No triage job ${id} in this server. It keeps triage jobs in this process's memory` +
      `${why ? `, because ${why}` : ''}, so a restart of the server loses them: the job may have been lost ` +
      `with a restart, or it finished more than ${keepHours} h ago and was removed, or it never existed. ${again}`
    );
  }
  if (jobsUnreadableNow(state)) {
    return (
      `No triage job ${id} can be read now: the shared state (${state.kind} at ${stripUnsafe(state.location)}) is ` +
      `unavailable since ${isoSeconds(state.degradedSince)}${why ? ` (${why})` : ''}, and jobs kept there cannot be ` +
      'read until it answers again (it is retried every few seconds). Ask for this job again in a minute. ' +
      again
    );
  }
  return (
    `No triage job ${id}: it never existed, or it finished more than ${keepHours} h ago and was removed. ` +
    'Start it again with `indicators`.'
  );
}

const JOB_BOUNDS: Record<JobBound, { what: string; option: string; mb?: true }> = {
  runningPerClient: { what: 'triage jobs of yours are running', option: 'VT_TRIAGE_RUNNING_PER_CLIENT' },
  storedPerClient: {
    what: 'triage jobs of yours are kept (stopped ones included)',
    option: 'VT_TRIAGE_KEPT_PER_CLIENT',
  },
  runningTotal: {
    what: 'triage jobs are running on this server, every client together',
    option: 'VT_TRIAGE_RUNNING_MAX',
  },
  storedTotal: { what: 'triage jobs are kept on this server', option: 'VT_TRIAGE_KEPT_MAX' },
  indicatorsTotal: {
    what: 'indicators are in the triage jobs kept on this server',
    option: 'VT_TRIAGE_INDICATORS_MAX',
  },
  bytesTotal: {
    what: 'MB of the state store are taken by triage jobs',
    option: 'VT_TRIAGE_STORE_MB',
    mb: true,
  },
  bytesPerJob: {
    what: 'MB of the state store would be taken by this job with its results',
    option: `one job: a ${JOB_BYTES_SHARE}th of VT_TRIAGE_STORE_MB, in MB`,
    mb: true,
  },
};

/** Why a new job was refused: which bound, and what frees room (and when, where that is known). */
export function jobLimitText(err: JobLimitError, keepMs: number): string {
  const b = JOB_BOUNDS[err.bound];
  const shown = (n: number) => (b.mb ? (n / 1024 / 1024).toFixed(1) : fmtInt(n));
  // A bound on a sum is passed by what the job would add, not reached by what is there.
  const added =
    err.adding !== undefined ? `, and this job would add ${shown(err.adding)}${b.mb ? ' MB' : ''}` : '';
  const head =
    err.bound === 'bytesPerJob' || added
      ? `No new triage job: ${shown(err.current)} ${b.what}${added}, more than this server allows (${b.option}: ${shown(err.limit)}).`
      : `No new triage job: ${shown(err.current)} ${b.what}, the most this server allows (${b.option}: ${shown(err.limit)}).`;
  const list = err.holding
    .slice(0, 3)
    .map((h) => `${h.id} (${h.status}, ${fmtInt(h.done + h.failed)}/${fmtInt(h.total)} checked)`)
    .join(', ')
    .concat(err.holding.length > 3 ? ` (+${err.holding.length - 3} more)` : '');
  const yours = list
    ? ` Yours: ${list}; follow one with {"job":"…"} or stop it with {"job":"…","cancel":true}.`
    : '';
  const running = err.bound === 'runningPerClient' || err.bound === 'runningTotal';
  if (err.bound === 'bytesPerJob') {
    return `${head} Split the list into smaller jobs (the inputs are kept as given: very long URLs take room).`;
  }
  if (running) {
    return `${head} There is room again when one of them finishes or is cancelled.${yours}`;
  }
  const kept = `jobs are kept ${Math.round(keepMs / 3_600_000)} h after they stop`;
  const when =
    err.roomAt === undefined
      ? ' There is room again when a job stops and its keeping time runs out.'
      : (err.roomJobs ?? 1) > 1
        ? ` The stopped jobs that make room are removed one after the other, the last of the ${fmtInt(err.roomJobs ?? 1)} at ${isoSeconds(err.roomAt)} (${kept}).`
        : ` The next stopped job is removed at ${isoSeconds(err.roomAt)} (${kept}), which makes room.`;
  return `${head}${when}${yours}`;
}
