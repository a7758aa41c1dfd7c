/**
 * What vt_triage does to its jobs, without MCP: start one from the indicators given, cancel one, resume
 * one paused at the daily cap. Outcomes come back as facts (typed errors, results) that the tool words.
 */
import { z } from 'zod';
import { clean } from '../summaries/common.js';
import { nextUtcMidnight } from '../util/time.js';
import type { VtApi } from '../vt/api.js';
import { NotConfiguredError } from '../vt/errors.js';
import { collect } from '../vt/indicator-mining.js';
import type { JobStatus } from './job-schemas.js';
import type { TriageService } from './service.js';

/** Indicators in one job: the schema's list limit, and the cap on what is mined from a text. */
export const MAX_TRIAGE = 1000;

/** Stored with the job: what the input held besides the indicators, for every answer about it. */
export const jobNotesSchema = z.object({
  rejected: z.array(z.string()),
  notLookedUp: z.array(z.string()),
  skipped: z.array(z.string()),
  counts: z.object({
    rejected: z.number(),
    notLookedUp: z.number(),
    skipped: z.number(),
    overflow: z.number(),
    /** Inputs that name an item already in the job (another hash of one file, another spelling of one URL). */
    merged: z.number().optional(),
  }),
  /** Where the indicators past the limit begin in the input, as written there. */
  overflowAt: z.string().optional(),
  fromText: z.boolean(),
  plan: z.object({ today: z.number(), later: z.number(), resumesAt: z.number() }).optional(),
});
export type JobNotes = z.infer<typeof jobNotesSchema>;

const NOTE_SAMPLE = 20;

/** The input held no indicator to look up: what it held instead, for the tool to say. */
export class NothingToLookUpError extends Error {
  constructor(
    readonly rejected: string[],
    readonly notLookedUp: string[],
  ) {
    super('no indicator to look up in the input');
    this.name = 'NothingToLookUpError';
  }
}

/** What starting a job needs of the caller's context (a tool's context has it). */
export interface JobStartContext {
  vt: Pick<VtApi, 'hasKey' | 'sharedStats' | 'stats'>;
  config: { dailyQuota: number | undefined };
  caller: string;
}

/**
 * Stores the indicators of `input` as a job of the caller's and sets the runner on it; returns its id.
 * Throws NothingToLookUpError, the VtError of a missing key, or the store's JobLimitError.
 */
export async function startJob(
  service: TriageService,
  ctx: JobStartContext,
  input: string[] | string,
): Promise<string> {
  const { items, rejected, skipped, notLookedUp, overflow, merged, fromText } = collect(input, MAX_TRIAGE);
  if (items.length === 0) throw new NothingToLookUpError(rejected, notLookedUp);
  // Without a key every lookup would fail: say so now, as every other tool does, and make no job.
  if (!ctx.vt.hasKey) throw new NotConfiguredError();
  const notes: JobNotes = {
    rejected: rejected.slice(0, NOTE_SAMPLE).map((r) => clean(r, 60) ?? ''),
    notLookedUp: notLookedUp.slice(0, NOTE_SAMPLE).map((x) => clean(x, 80) ?? ''),
    skipped: skipped.slice(0, NOTE_SAMPLE).map((x) => clean(x, 60) ?? ''),
    counts: {
      rejected: rejected.length,
      notLookedUp: notLookedUp.length,
      skipped: skipped.length,
      overflow: overflow.length,
      ...(merged > 0 ? { merged } : {}),
    },
    ...(overflow[0] ? { overflowAt: clean(overflow[0].at, 120) ?? '' } : {}),
    fromText,
  };
  // The daily cap is planned for, not hit: a job larger than what is left today says so at the start.
  const quota = ctx.config.dailyQuota;
  if (quota !== undefined) {
    const shared = await ctx.vt.sharedStats().catch(() => undefined);
    const used = shared?.usage.dayUsed ?? ctx.vt.stats()?.limiter.day_used ?? 0;
    const left = Math.max(0, quota - used);
    if (items.length > left) {
      notes.plan = {
        today: left,
        later: items.length - left,
        resumesAt: nextUtcMidnight(Date.now()),
      };
    }
  }
  const header = await service.jobs.create(
    ctx.caller,
    items.map((it) => ({
      input: it.input,
      type: it.ind.type,
      id: it.ind.id,
      collection: it.ind.collection,
    })),
    notes,
  );
  service.runner.kick(header.id);
  return header.id;
}

/** What a cancel found: the job gone, already over, or cancelled now with this many checked. */
export type CancelOutcome =
  | { outcome: 'gone' }
  | { outcome: 'over'; status: 'done' | 'cancelled' }
  | { outcome: 'cancelled'; checked: number; total: number };

/**
 * Stops a job of the caller's: the process working it sees the request and stops after the lookups in
 * flight; the header says cancelled at once (from any process: a cancel is final). Returns what it
 * found, which acknowledges it.
 */
export async function cancelJob(service: TriageService, id: string, caller: string): Promise<CancelOutcome> {
  const h = await service.jobs.headerFor(id, caller);
  if (!h) return { outcome: 'gone' };
  if (h.status === 'done' || h.status === 'cancelled') return { outcome: 'over', status: h.status };
  await service.jobs.requestCancel(id);
  const counts = await service.jobs.recount(h);
  const after = await service.jobs.writeHeader(h, {
    status: 'cancelled',
    done: counts.done,
    failed: counts.failed,
    lost: counts.missing,
  });
  return { outcome: 'cancelled', checked: after.done + after.failed, total: after.total };
}

/** What a resume found: the job carried on, or its status (undefined: gone) when it was not paused. */
export type ResumeOutcome = { resumed: true } | { resumed: false; status: JobStatus | undefined };

/** Carries on a job paused at the daily cap (its owner asked: it spends the new day's quota). */
export async function resumeJob(service: TriageService, id: string, caller: string): Promise<ResumeOutcome> {
  const h = await service.jobs.headerFor(id, caller);
  if (h?.status !== 'paused') return { resumed: false, status: h?.status };
  await service.jobs.writeHeader(h, { status: 'running' });
  service.runner.kick(id);
  return { resumed: true };
}
