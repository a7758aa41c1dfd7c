/**
 * vt_triage: many indicators in, one line each out, most dangerous first, as a job that finishes.
 * Starting one stores the indicators as a job in the key's state store; this process's runner (or
 * another's, over HTTP or after a restart) looks them up in the background under the shared limiter
 * and daily cap. Every call answers within the call budget with what is done, and the model follows
 * the job with `{job}` alone: nothing is sent twice.
 */
import { z } from 'zod';
import type { ToolContext } from '../answers/context.js';
import { respond } from '../answers/respond.js';
import { answerFor, jobAbsence, triageOutput } from '../answers/triage.js';
import { invalidInput, jobLimitText } from '../answers/wording.js';
import {
  type CancelOutcome,
  cancelJob,
  MAX_TRIAGE,
  NothingToLookUpError,
  type ResumeOutcome,
  resumeJob,
  startJob,
} from '../jobs/control.js';
import { JobLimitError } from '../jobs/job-bounds.js';
import { isJobId } from '../jobs/job-schemas.js';
import { clean, fmtInt } from '../summaries/common.js';
import { q } from '../summaries/text.js';
import { defineTool, type Extra, outputSchemaOf } from './define.js';
import { progressFor } from './progress.js';
import { declaresTasks, type TriageTaskOps, taskOf } from './triage-tasks.js';

/** Indicators in one job: jobs/control.ts keeps the number (the cap on what is mined from a text too). */
export { MAX_TRIAGE };

const MAX_ENTRY_CHARS = 8192;
const MAX_TEXT_CHARS = 200_000;

/**
 * A call answers within this many seconds (or VT_MAX_WAIT_SECONDS if lower): Claude's hosts cancel a
 * call after about 60 s, and the job goes on whether or not the call waits.
 */
const CALL_BUDGET_MS = 50_000;
/** How often a waiting call looks at the store for results another process recorded. */
const POLL_MS = 1_000;

type Triage = NonNullable<ToolContext['triage']>;

export const triageTool = defineTool({
  name: 'vt_triage',
  title: 'VirusTotal batch triage',
  description:
    `Check up to ${fmtInt(MAX_TRIAGE)} indicators (hashes, URLs, domains, IPs; a list, or pasted text to extract ` +
    'them from, defanged too) as a job that runs in the background under the rate limit. One line each, most ' +
    'dangerous first: verdict, engines flagging it, threat label, first seen. Each call answers within about ' +
    '50 s with what is done and a job id; follow it with {job} alone (never re-send the list) until status ' +
    'is done; {job, cancel: true} stops it. A public key does 4 new lookups a minute; cached ones are free.',
  inputSchema: {
    indicators: z
      .union(
        [
          z
            .array(z.string().max(MAX_ENTRY_CHARS, { error: (iss) => indicatorsError([iss.input]) }))
            .max(MAX_TRIAGE, { error: (iss) => indicatorsError(iss.input) }),
          z.string().max(MAX_TEXT_CHARS, { error: (iss) => indicatorsError(iss.input) }),
        ],
        // zod's own words are "Invalid input" or "Too big": say which limit was hit, and what to do.
        { error: (iss) => indicatorsError(iss.input) },
      )
      .optional()
      .describe('Starts a job: a list of indicators, or free text to extract them from.'),
    job: z
      .string()
      .regex(/^[a-z0-9]{12}$/, {
        error: 'A job id is the 12 letters and digits an earlier vt_triage answer gave.',
      })
      .optional()
      .describe('A job id from an earlier answer: its progress and results.'),
    cancel: z.boolean().optional().describe('With job: stop it.'),
    resume: z
      .boolean()
      .optional()
      .describe("With job: carry on a job paused at the daily cap, on the new day's quota."),
    cursor: z
      .string()
      .regex(/^r:\d{1,5}$/, { error: 'Pass next_cursor from an earlier answer as it is.' })
      .optional()
      .describe('With job: the next page of results (next_cursor).'),
  },
  outputSchema: triageOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, extra) {
    const service = ctx.triage;
    if (!service) throw invalidInput('Triage jobs are not available in this server.');
    const given = startOrFollow(args);
    if ('indicators' in given && (args.cancel || args.cursor || args.resume)) {
      throw invalidInput('`cancel`, `resume` and `cursor` go with `job`.');
    }
    let jobId: string;
    if ('indicators' in given) {
      jobId = await start(ctx, service, given.indicators);
      // A client that follows tasks gets one at once (tasks/get shows progress and, when done, this answer).
      if (declaresTasks(extra)) {
        const started = await service.jobs.headerFor(jobId, ctx.caller);
        if (started) return { protocolAnswer: { resultType: 'task', ...taskOf(ctx, started) } };
      }
    } else {
      const { job } = given;
      jobId = job;
      await fromStore(ctx, job, () => service.jobs.headerFor(job, ctx.caller));
    }
    let acknowledged: string | undefined;
    if (args.cancel) {
      const c = await fromStore(ctx, jobId, () => cancelJob(service, jobId, ctx.caller));
      acknowledged = cancelledText(jobId, c);
    } else {
      if (args.resume) {
        const r = await fromStore(ctx, jobId, () => resumeJob(service, jobId, ctx.caller));
        acknowledged = resumedText(jobId, r);
      }
      await waitForProgress(ctx, service, jobId, extra);
    }
    // Read after the wait: a store that stopped answering meanwhile is said so, as it is above.
    const snap = await fromStore(ctx, jobId, () => service.jobs.snapshot(jobId, ctx.caller));
    const offset = args.cursor ? Number(args.cursor.slice(2)) : 0;
    return answerFor(ctx, snap, offset, acknowledged);
  },
});

/** What a call names: the indicators to start a job with, or the job to follow; exactly one of them. */
function startOrFollow(args: {
  indicators?: string[] | string | undefined;
  job?: string | undefined;
}): { indicators: string[] | string } | { job: string } {
  if (args.indicators !== undefined && args.job === undefined) return { indicators: args.indicators };
  if (args.job !== undefined && args.indicators === undefined) return { job: args.job };
  throw invalidInput(
    'Give either `indicators` (to start a job) or `job` (to follow one), not both and not neither.',
  );
}

/**
 * What the store gives back for a job of the caller's. Nothing, or a store that fails, is worded by
 * where jobs are kept and whether that store answers now (jobAbsence): a job in a store that cannot
 * be read now is never told that it does not exist, nor to be started again.
 */
async function fromStore<T>(ctx: ToolContext, id: string, read: () => Promise<T | undefined>): Promise<T> {
  let failure: unknown;
  try {
    const found = await read();
    if (found !== undefined) return found;
  } catch (err) {
    failure = err;
  }
  throw invalidInput(jobAbsence(ctx, id, failure).text);
}

/** Starts a job (jobs/control.ts) and words what stopped one from starting. */
async function start(ctx: ToolContext, service: Triage, input: string[] | string): Promise<string> {
  try {
    return await startJob(service, ctx, input);
  } catch (err) {
    if (err instanceof NothingToLookUpError) throw invalidInput(nothingToLookUpText(err));
    if (err instanceof JobLimitError) throw invalidInput(jobLimitText(err, service.jobs.keepMs));
    throw err;
  }
}

function nothingToLookUpText({ rejected, notLookedUp }: NothingToLookUpError): string {
  const why = [
    rejected.length &&
      `not recognised: ${rejected
        .slice(0, 5)
        .map((r) => q(clean(r, 60) ?? ''))
        .join(', ')}`,
    notLookedUp.length &&
      `nothing to look up: ${notLookedUp
        .slice(0, 5)
        .map((x) => clean(x))
        .join(', ')}`,
  ].filter(Boolean);
  return (
    `No indicator to look up in the input${why.length ? ` (${why.join('; ')})` : ''}. ` +
    'Give file hashes, URLs, domains or public IP addresses, as a list or as text.'
  );
}

/** The line that acknowledges a cancel (jobs/control.ts#cancelJob). */
function cancelledText(id: string, c: CancelOutcome): string {
  if (c.outcome === 'gone') return `Job ${id} is gone.`;
  if (c.outcome === 'over') {
    return `Nothing to cancel: job ${id} was already ${c.status === 'done' ? 'done' : 'cancelled'}.`;
  }
  return (
    `Cancelled: ${fmtInt(c.checked)} of ${fmtInt(c.total)} were checked; the other ${fmtInt(c.total - c.checked)} ` +
    'will not be looked up (a lookup already in flight may still add its row).'
  );
}

/** The line that acknowledges a resume (jobs/control.ts#resumeJob). */
function resumedText(id: string, r: ResumeOutcome): string {
  return r.resumed
    ? `Resumed: job ${id} carries on from where it paused.`
    : `Nothing to resume: job ${id} is ${r.status ?? 'gone'}.`;
}

/**
 * Waits, within the call budget, while the job runs: until it is done, held by the daily cap, or the
 * budget is spent, with progress notifications as results come in (from this process or another).
 */
async function waitForProgress(ctx: ToolContext, service: Triage, id: string, extra: Extra): Promise<void> {
  const { jobs, runner } = service;
  const deadline = Date.now() + Math.min(ctx.config.maxWaitMs, CALL_BUDGET_MS);
  const progress = progressFor(extra);
  let wake: (() => void) | undefined;
  const off = runner.onProgress((jobId) => {
    if (jobId === id) wake?.();
  });
  try {
    for (;;) {
      // A store that fails stops the wait; the read after it says what the answer can be.
      const h = await jobs.headerFor(id, ctx.caller).catch(() => undefined);
      if (!h) return;
      // Reported before the status is looked at: the last result (n/n) is progress too.
      progress.step(h.done + h.failed, h.total, `${fmtInt(h.done + h.failed)}/${fmtInt(h.total)} checked`);
      if (h.status !== 'running') return;
      const left = deadline - Date.now();
      if (left <= 0 || extra.mcpReq.signal.aborted) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, POLL_MS));
        const onAbort = () => done();
        extra.mcpReq.signal.addEventListener('abort', onAbort, { once: true });
        wake = done;
        function done() {
          clearTimeout(t);
          extra.mcpReq.signal.removeEventListener('abort', onAbort);
          wake = undefined;
          resolve();
        }
      });
    }
  } finally {
    off();
  }
}

/** A caller's triage jobs as MCP tasks: what tasks/get and tasks/cancel need (triage-tasks.ts). */
export function triageTaskOps(ctx: ToolContext): TriageTaskOps {
  const service = ctx.triage;
  return {
    header: async (id) => (service && isJobId(id) ? service.jobs.headerFor(id, ctx.caller) : undefined),
    result: async (id) => {
      const snap = isJobId(id) ? await service?.jobs.snapshot(id, ctx.caller) : undefined;
      return snap ? respond(ctx, answerFor(ctx, snap, 0), outputSchemaOf(triageTool)) : undefined;
    },
    cancel: async (id) => {
      if (service) await cancelJob(service, id, ctx.caller);
    },
  };
}

/**
 * What the model reads when `indicators` breaks the input schema. The SDK sends it as
 * "MCP error -32602: Input validation error: Invalid arguments for tool vt_triage: <this> at indicators".
 */
function indicatorsError(input: unknown): string {
  if (Array.isArray(input)) {
    if (input.length > MAX_TRIAGE) {
      return (
        `The list has ${fmtInt(input.length)} indicators; vt_triage checks at most ${fmtInt(MAX_TRIAGE)} per job. ` +
        `Split the list into jobs of ${fmtInt(MAX_TRIAGE)} or fewer, or pass the indicators as one text (a single ` +
        `string): then the first ${fmtInt(MAX_TRIAGE)} are checked and the answer says where the rest begin.`
      );
    }
    const notString = input.findIndex((x) => typeof x !== 'string');
    if (notString >= 0)
      return `Entry ${notString + 1} of the list is not a string; give each indicator as a string.`;
    if (input.some((x) => String(x).length > MAX_ENTRY_CHARS)) {
      return `An entry of the list is longer than ${fmtInt(MAX_ENTRY_CHARS)} characters: that is not an indicator.`;
    }
  }
  if (typeof input === 'string' && input.length > MAX_TEXT_CHARS) {
    return (
      `The text is ${fmtInt(input.length)} characters; vt_triage reads at most ${fmtInt(MAX_TEXT_CHARS)}. ` +
      'Split it and triage each part.'
    );
  }
  return (
    `Give a list of up to ${fmtInt(MAX_TRIAGE)} indicators (strings), or one text of up to ` +
    `${fmtInt(MAX_TEXT_CHARS)} characters to extract them from.`
  );
}
