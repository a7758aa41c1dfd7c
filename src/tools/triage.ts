/**
 * vt_triage: many indicators in, one line each out, most dangerous first, as a job that finishes.
 * Starting one stores the indicators as a job in the key's state store; this process's runner (or
 * another's, over HTTP or after a restart) looks them up in the background under the shared limiter
 * and daily cap. Every call answers within the call budget with what is done, and the model follows
 * the job with `{job}` alone: nothing is sent twice.
 */
import { z } from 'zod';
import {
  type FailureWhy,
  type ItemState,
  isJobId,
  type JobHeader,
  JobLimitError,
  type JobSnapshot,
} from '../jobs/triage-jobs.js';
import { clean, dateTimeSchema, fmtInt, plural } from '../summaries/common.js';
import { joinMore, q } from '../summaries/text.js';
import { byDanger, RANK, type TriageRow, triageLine, triageRowSchema } from '../summaries/triage.js';
import { isoSeconds, nextUtcMidnight } from '../util/time.js';
import { notConfigured, VtError } from '../vt/errors.js';
import { extractIndicators, type Indicator, nonPublicIp, parseIndicator } from '../vt/indicators.js';
import type { ToolContext } from './context.js';
import { defineTool, type Extra, outputSchemaOf } from './define.js';
import { progressFor } from './progress.js';
import { respond, respondText, textRoom } from './respond.js';
import { declaresTasks, type TriageTaskOps, taskOf } from './triage-tasks.js';
import { errorText, invalidInput, jobLimitText, jobNotFoundText, triageNotFoundNote } from './wording.js';

/** Indicators in one job: the schema's list limit, and the cap on what is mined from a text. */
export const MAX_TRIAGE = 1000;
const MAX_ENTRY_CHARS = 8192;
const MAX_TEXT_CHARS = 200_000;

/**
 * A call answers within this many seconds (or VT_MAX_WAIT_SECONDS if lower): Claude's hosts cancel a
 * call after about 60 s, and the job goes on whether or not the call waits.
 */
const CALL_BUDGET_MS = 50_000;
/** How often a waiting call looks at the store for results another process recorded. */
const POLL_MS = 1_000;

const countsSchema = z.object({
  malicious: z.number(),
  suspicious: z.number(),
  undetected: z.number(),
  no_verdict: z.number(),
  not_found: z.number(),
  failed: z.number(),
  pending: z.number(),
  /** Items the state store lost (it was flushed or damaged): the counts still add up to the total. */
  lost: z.number().optional(),
});
type Counts = z.infer<typeof countsSchema>;

const triageOutput = z.object({
  job: z.string(),
  status: z.enum(['running', 'paused', 'done', 'cancelled']),
  total: z.number(),
  counts: countsSchema,
  /** When the next lookup is expected, and when the job should be done (from the limiter's schedule). */
  next_lookup_at: dateTimeSchema.optional(),
  eta: dateTimeSchema.optional(),
  /**
   * Why a paused job waits: daily_cap (the day's cap is spent: its owner carries it on with
   * {job, resume: true} on a later day) or fair_share (its part of the day is spent while other clients
   * are active: it carries on by itself the same day when they leave room).
   */
  paused_for: z.enum(['daily_cap', 'fair_share']).optional(),
  /** For a job larger than what is left of today's cap: how many today, how many after the reset. */
  plan: z.object({ today: z.number(), later: z.number(), resumes_at: dateTimeSchema }).optional(),
  /** This page of results, most dangerous first (failed lookups as verdict "error"). */
  results: z.array(triageRowSchema),
  next_cursor: z.string().optional(),
  /** What the input held that is not in the job: how many of each. */
  ignored: z
    .object({
      not_indicators: z.number(),
      not_looked_up: z.number(),
      file_names: z.number(),
      over_limit: z.number(),
    })
    .partial()
    .optional(),
});
type TriageOutput = z.infer<typeof triageOutput>;

/** Stored with the job: what the input held besides the indicators, for every answer about it. */
const jobNotesSchema = z.object({
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
type JobNotes = z.infer<typeof jobNotesSchema>;

const NOTE_SAMPLE = 20;

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
    if ((args.indicators === undefined) === (args.job === undefined)) {
      throw invalidInput(
        'Give either `indicators` (to start a job) or `job` (to follow one), not both and not neither.',
      );
    }
    if (args.job === undefined && (args.cancel || args.cursor || args.resume)) {
      throw invalidInput('`cancel`, `resume` and `cursor` go with `job`.');
    }
    let id = args.job;
    if (args.indicators !== undefined) {
      id = await startJob(ctx, args.indicators);
      // A client that follows tasks gets one at once (tasks/get shows progress and, when done, this answer).
      if (declaresTasks(extra)) {
        const started = await service.jobs.headerFor(id, ctx.caller);
        if (started) return { protocolAnswer: { resultType: 'task', ...taskOf(ctx, started) } };
      }
    } else if (!(await service.jobs.headerFor(id as string, ctx.caller))) {
      // Where jobs are kept (shared, this process's memory, or a shared store unavailable now) decides
      // what an unknown id means; the store's own failure leaves the plain wording.
      const state = (await ctx.vt.sharedStats().catch(() => undefined))?.health;
      throw invalidInput(jobNotFoundText(id as string, ctx.config.triageKeepHours, state));
    }
    const jobId = id as string;
    let acknowledged: string | undefined;
    if (args.cancel) acknowledged = await cancelJob(service, jobId, ctx.caller);
    else {
      if (args.resume) acknowledged = await resumeJob(service, jobId, ctx.caller);
      await waitForProgress(ctx, jobId, extra);
    }
    const snap = await service.jobs.snapshot(jobId, ctx.caller);
    if (!snap) throw invalidInput(`No triage job ${jobId}.`);
    const offset = args.cursor ? Number(args.cursor.slice(2)) : 0;
    return answerFor(ctx, snap, offset, acknowledged);
  },
});

async function startJob(ctx: ToolContext, input: string[] | string): Promise<string> {
  const service = ctx.triage as NonNullable<ToolContext['triage']>;
  const { items, rejected, skipped, notLookedUp, overflow, merged, fromText } = collect(input);
  if (items.length === 0) {
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
    throw invalidInput(
      `No indicator to look up in the input${why.length ? ` (${why.join('; ')})` : ''}. ` +
        'Give file hashes, URLs, domains or public IP addresses, as a list or as text.',
    );
  }
  // Without a key every lookup would fail: say so now, as every other tool does, and make no job.
  if (!ctx.vt.hasKey) throw notConfigured();
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
  let header: JobHeader;
  try {
    header = await service.jobs.create(
      ctx.caller,
      items.map((it) => ({
        input: it.input,
        type: it.ind.type,
        id: it.ind.id,
        collection: it.ind.collection,
      })),
      notes,
    );
  } catch (err) {
    if (err instanceof JobLimitError) throw invalidInput(jobLimitText(err, service.jobs.keepMs));
    throw err;
  }
  service.runner.kick(header.id);
  return header.id;
}

/**
 * Stops a job of the caller's: the process working it sees the request and stops after the lookups in
 * flight; the header says cancelled at once (from any process: a cancel is final). Returns the line
 * that acknowledges it.
 */
async function cancelJob(service: Triage, id: string, caller: string): Promise<string> {
  const h = await service.jobs.headerFor(id, caller);
  if (!h) return `Job ${id} is gone.`;
  if (h.status === 'done' || h.status === 'cancelled') {
    return `Nothing to cancel: job ${id} was already ${h.status === 'done' ? 'done' : 'cancelled'}.`;
  }
  await service.jobs.requestCancel(id);
  const counts = await service.jobs.recount(h);
  const after = await service.jobs.writeHeader(h, {
    status: 'cancelled',
    done: counts.done,
    failed: counts.failed,
    lost: counts.missing,
  });
  const checked = after.done + after.failed;
  return (
    `Cancelled: ${fmtInt(checked)} of ${fmtInt(after.total)} were checked; the other ${fmtInt(after.total - checked)} ` +
    'will not be looked up (a lookup already in flight may still add its row).'
  );
}

/** Carries on a job paused at the daily cap (its owner asked: it spends the new day's quota). */
async function resumeJob(service: Triage, id: string, caller: string): Promise<string> {
  const h = await service.jobs.headerFor(id, caller);
  if (h?.status !== 'paused') {
    return `Nothing to resume: job ${id} is ${h?.status ?? 'gone'}.`;
  }
  await service.jobs.writeHeader(h, { status: 'running' });
  service.runner.kick(id);
  return `Resumed: job ${id} carries on from where it paused.`;
}

/**
 * Waits, within the call budget, while the job runs: until it is done, held by the daily cap, or the
 * budget is spent, with progress notifications as results come in (from this process or another).
 */
async function waitForProgress(ctx: ToolContext, id: string, extra: Extra): Promise<void> {
  const { jobs, runner } = ctx.triage as NonNullable<ToolContext['triage']>;
  const deadline = Date.now() + Math.min(ctx.config.maxWaitMs, CALL_BUDGET_MS);
  const progress = progressFor(extra);
  let wake: (() => void) | undefined;
  const off = runner.onProgress((jobId) => {
    if (jobId === id) wake?.();
  });
  try {
    for (;;) {
      const h = await jobs.headerFor(id, ctx.caller);
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

function rowOf(snap: JobSnapshot, i: number): TriageRow | undefined {
  const st = snap.states[i] as ItemState;
  const item = snap.items[i];
  if (!item) return undefined;
  if (st.s === 'done') {
    // Parsed, not trusted: a row the store gives back damaged is shown as an error, not as a verdict.
    const row = triageRowSchema.safeParse(st.row);
    if (row.success) {
      // Which inputs share a row is worked out from the rows when they are shown (sameFileOnce).
      const { also_given_as: _, ...own } = row.data;
      return own;
    }
    return {
      input: item.input,
      type: item.type,
      id: item.id,
      verdict: 'error',
      error: 'stored result unreadable',
    };
  }
  if (st.s === 'failed') {
    return {
      input: item.input,
      type: item.type,
      id: item.id,
      verdict: 'error',
      error: `lookup failed (${st.error})`,
    };
  }
  return undefined;
}

/**
 * One row per file, however many of its hashes were given: the md5, sha1 and sha256 of one file are
 * different indicators until VirusTotal's answer names the file (its sha256), so rows are merged when
 * shown, from what the store holds, and every process shows the same. The row shows the sha256 if it
 * was given (else the first given) and names the others; it stands where the first of them stood in
 * the input. Rows without an answer (not found, failed) name no file and stay as they are.
 */
function sameFileOnce(rows: TriageRow[]): TriageRow[] {
  const groups = new Map<string, TriageRow[]>();
  const out: Array<TriageRow | string> = [];
  for (const r of rows) {
    const sha256 = r.id.toLowerCase();
    const answered = r.type === 'file' && RANK[r.verdict] < RANK.not_found && /^[0-9a-f]{64}$/.test(sha256);
    if (!answered) {
      out.push(r);
      continue;
    }
    const group = groups.get(sha256);
    if (group) group.push(r);
    else {
      groups.set(sha256, [r]);
      out.push(sha256);
    }
  }
  return out.map((r) => {
    if (typeof r !== 'string') return r;
    const group = groups.get(r) as TriageRow[];
    const main = group.find((g) => g.input.toLowerCase() === r) ?? (group[0] as TriageRow);
    if (group.length === 1) return main;
    return { ...main, also_given_as: group.filter((g) => g !== main).map((g) => g.input) };
  });
}

function countsOf(snap: JobSnapshot, rows: TriageRow[]): Counts {
  const c: Counts = {
    malicious: 0,
    suspicious: 0,
    undetected: 0,
    no_verdict: 0,
    not_found: 0,
    failed: 0,
    pending: 0,
  };
  for (const r of rows) {
    if (r.verdict === 'error') c.failed++;
    else c[r.verdict]++;
  }
  c.pending = snap.states.filter((s) => s.s === 'pending').length;
  if (snap.missing > 0) c.lost = snap.missing;
  return c;
}

/** The one-line tally, which always fits: "1,000 indicators: 12 malicious, …, 825 pending, next lookup in 40 s". */
function tally(s: TriageOutput): string {
  const name = (k: keyof Counts) =>
    k === 'no_verdict'
      ? 'without a verdict'
      : k === 'pending' && s.status === 'cancelled'
        ? 'not checked'
        : k === 'lost'
          ? 'lost by the state store'
          : k.replace('_', ' ');
  const parts = (Object.keys(s.counts) as Array<keyof Counts>)
    .filter((k) => (s.counts[k] ?? 0) > 0)
    .map((k) => `${fmtInt(s.counts[k] ?? 0)} ${name(k)}`);
  const when =
    s.status === 'running'
      ? s.next_lookup_at
        ? `, next lookup ${inSeconds(s.next_lookup_at)}${s.eta ? `, done by about ${s.eta}` : ''}`
        : ''
      : s.status === 'paused'
        ? s.paused_for === 'fair_share'
          ? ', paused: its share of the day is spent while other clients are active (it carries on by itself today when they leave room)'
          : ", paused: the day's cap is spent"
        : '';
  return `Triage job ${s.job} (${s.status}): ${plural(s.total, 'indicator')}: ${parts.join(', ') || 'none checked yet'}${when}.`;
}

function inSeconds(iso: string): string {
  const s = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000));
  return s <= 1 ? 'now' : `in ${s} s`;
}

function answerFor(ctx: ToolContext, snap: JobSnapshot, offset: number, acknowledged?: string) {
  const h: JobHeader = snap.header;
  // Parsed, not trusted: notes the store gives back damaged are left out, not half-shown.
  const parsedNotes = jobNotesSchema.safeParse(h.notes);
  const notes: Partial<JobNotes> = parsedNotes.success ? parsedNotes.data : {};
  // Rows in the input's order, then most dangerous first (a stable sort keeps the input's order in ties).
  const looked = snap.items.map((_, i) => rowOf(snap, i)).filter((r): r is TriageRow => r !== undefined);
  const rows = sameFileOnce(looked).sort(byDanger);
  // A file given by several hashes counts once: in the total, the counts and the pages alike.
  const total = h.total - (looked.length - rows.length);
  const counts = countsOf(snap, rows);
  const now = Date.now();
  // A job that will pause at the daily cap is not done at the window's pace: no ETA then (the plan says
  // how many go today).
  const schedule = h.status === 'running' ? scheduleOf(ctx, counts.pending, now, !notes.plan) : {};
  const pausedFor =
    h.status === 'paused' ? (h.pausedFor === 'share' ? 'fair_share' : 'daily_cap') : undefined;
  const ignored = {
    ...(notes.counts?.rejected ? { not_indicators: notes.counts.rejected } : {}),
    ...(notes.counts?.notLookedUp ? { not_looked_up: notes.counts.notLookedUp } : {}),
    ...(notes.counts?.skipped ? { file_names: notes.counts.skipped } : {}),
    ...(notes.counts?.overflow ? { over_limit: notes.counts.overflow } : {}),
  };
  const page = rows.slice(offset);
  const failures = failureLines(ctx, snap);
  const structured: TriageOutput = {
    job: h.id,
    status: h.status,
    total,
    counts,
    ...(pausedFor ? { paused_for: pausedFor } : schedule),
    ...(notes.plan && (h.status === 'running' || h.status === 'paused')
      ? {
          plan: {
            today: notes.plan.today,
            later: notes.plan.later,
            resumes_at: isoSeconds(notes.plan.resumesAt),
          },
        }
      : {}),
    results: page,
    ...(Object.keys(ignored).length > 0 ? { ignored } : {}),
  };

  const text = (s: TriageOutput, room: number): string => {
    const follow =
      s.status === 'running'
        ? `Follow it with vt_triage {"job":"${s.job}"} (nothing to re-send; each call waits up to about 50 s for ` +
          `results); stop it with {"job":"${s.job}","cancel":true}.`
        : s.status === 'paused' && s.paused_for === 'daily_cap'
          ? `Carry it on after 00:00 UTC with vt_triage {"job":"${s.job}","resume":true} (nothing to re-send; it ` +
            `spends that day's quota); stop it with {"job":"${s.job}","cancel":true}.`
          : undefined;
    const planLine =
      s.plan &&
      `Plan: this job is larger than what is left of today's cap (VT_DAILY_QUOTA ${fmtInt(ctx.config.dailyQuota ?? 0)}): ` +
        `about ${fmtInt(s.plan.today)} lookups today (cached indicators cost none); then it pauses, and the other ` +
        `${fmtInt(s.plan.later)} wait until you carry it on with resume from ${s.plan.resumes_at} (00:00 UTC).`;
    const sampleChars = Math.min(700, Math.floor(room / 16));
    const noteLines = [
      notes.counts?.merged &&
        `${plural(notes.counts.merged, 'input')} named an indicator already in the list (looked up once).`,
      notes.counts?.overflow &&
        `Only the first ${fmtInt(MAX_TRIAGE)} indicators are in this job; ${fmtInt(notes.counts.overflow)} more begin at ` +
          `\`${notes.overflowAt ?? ''}\` in the ${notes.fromText ? 'text' : 'list'} you gave: start another job with them.`,
      ...failures,
      notes.counts?.rejected &&
        `Not indicators, ignored: ${sample(
          (notes.rejected ?? []).map((r) => q(r)),
          notes.counts.rejected,
          sampleChars,
        )}`,
      notes.counts?.notLookedUp &&
        `Nothing to look up: ${sample(notes.notLookedUp ?? [], notes.counts.notLookedUp, sampleChars)}`,
      notes.counts?.skipped &&
        `File names, not looked up: ${sample(notes.skipped ?? [], notes.counts.skipped, sampleChars)}`,
      s.counts.not_found > 0 && triageNotFoundNote(ctx),
      s.results.length > 0 &&
        'Verdicts count engines: 3+ malicious = MALICIOUS, 1-2 or any suspicious = SUSPICIOUS.',
    ].filter((l): l is string => typeof l === 'string' && l !== '');
    const required = [acknowledged, tally(s), planLine, follow].filter((l): l is string => !!l);
    const fixed = [...required, ...noteLines].join('\n').length + 200;
    const lines: string[] = [];
    let used = fixed;
    let shown = 0;
    for (const r of s.results) {
      const l = triageLine(r);
      if (used + l.length + 1 > room) break;
      lines.push(l);
      used += l.length + 1;
      shown++;
    }
    const more = offset + shown < rows.length;
    if (more) {
      lines.push(
        `(+${fmtInt(rows.length - offset - shown)} more results, less dangerous: vt_triage {"job":"${s.job}","cursor":"r:${offset + shown}"})`,
      );
    }
    const pageNote = offset > 0 ? [`(Results from number ${fmtInt(offset + 1)}, most dangerous first.)`] : [];
    return [required[0] as string, ...required.slice(1), ...pageNote, ...lines, ...noteLines]
      .join('\n')
      .slice(0, room);
  };
  // The page the text shows is the page the structure names: next_cursor follows what fits, in the
  // text and in the structure alike (rows respond() had to cut from the structure would be skipped by
  // the next page). A page holds at least one row, so that following next_cursor always moves on.
  const room = textRoom(ctx, false);
  const jsonRoom =
    ctx.config.maxResponseChars -
    JSON.stringify({ ...structured, results: [], next_cursor: `r:${rows.length}` }).length -
    50;
  // The text's own lines (tally, plan, how to follow, notes) as they will be, and room for the lines
  // that come with rows (the verdict rule, the next page).
  let used = text({ ...structured, results: [] }, room).length + 300;
  let usedJson = 0;
  let fit = 0;
  for (const r of page) {
    const c = triageLine(r).length + 1;
    const j = JSON.stringify(r).length + 1;
    if (fit > 0 && (used + c > room || usedJson + j > jsonRoom)) break;
    used += c;
    usedJson += j;
    fit++;
  }
  if (fit < page.length) {
    structured.results = page.slice(0, fit);
    structured.next_cursor = `r:${offset + fit}`;
  }
  return { structured, text, weights: { results: 2 } };
}

/**
 * Why lookups failed, one line per cause, worded as every other tool words that error ("VirusTotal
 * could not be reached (ECONNREFUSED) … no quota was used", "VirusTotal rejected the API key …").
 */
function failureLines(ctx: ToolContext, snap: JobSnapshot): string[] {
  const causes = new Map<string, { kind: string; n: number }>();
  for (const st of snap.states) {
    if (st.s !== 'failed') continue;
    const why: FailureWhy = st.why ?? {};
    const err = new VtError(st.error as VtError['kind'], st.error, {
      ...(why.reason
        ? { reason: why.reason as VtError['reason'], notSent: why.reason === 'unreachable' }
        : {}),
      ...(why.networkCode ? { networkCode: why.networkCode } : {}),
      ...(why.vtCode ? { vtCode: why.vtCode } : {}),
      ...(why.timeoutSeconds !== undefined ? { timeoutSeconds: why.timeoutSeconds } : {}),
    });
    const text = (errorText(err, ctx) as string | undefined) ?? '';
    const c = causes.get(text) ?? { kind: st.error, n: 0 };
    c.n++;
    causes.set(text, c);
  }
  return [...causes]
    .sort((a, b) => b[1].n - a[1].n)
    .slice(0, 3)
    .map(([text, c]) => `${plural(c.n, 'lookup')} failed (${c.kind})${text ? `: ${text}` : '.'}`);
}

/** When the next lookup should leave and when the job should be done, from the limiter's schedule. */
function scheduleOf(
  ctx: ToolContext,
  pending: number,
  now: number,
  withEta: boolean,
): { next_lookup_at?: string; eta?: string } {
  if (pending === 0) return {};
  const lim = ctx.vt.stats()?.limiter;
  const w = lim?.window;
  if (!w) return {};
  const next = now + w.next_slot_in_ms;
  // The rest leave a window's worth at a time (cached indicators leave sooner: an upper bound).
  const eta = next + Math.max(0, Math.ceil(pending / w.requests) - 1) * w.seconds * 1000;
  return { next_lookup_at: isoSeconds(next), ...(withEta ? { eta: isoSeconds(eta) } : {}) };
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

/** The job's state as vt_triage {job} shows it (without waiting), for the vt://triage/{job} resource. */
export async function triageStateText(ctx: ToolContext, id: string): Promise<string | undefined> {
  const snap = isJobId(id) ? await ctx.triage?.jobs.snapshot(id, ctx.caller) : undefined;
  return snap ? respondText(ctx, answerFor(ctx, snap, 0)) : undefined;
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

/** "a, b, c (+4 more)": as many of the stored sample as fit in about `maxChars` (always one), of `total`. */
function sample(items: string[], total: number, maxChars: number): string {
  let n = 0;
  let used = 0;
  for (const item of items) {
    if (n > 0 && used + item.length + 2 > maxChars) break;
    used += item.length + 2;
    n++;
  }
  return joinMore(items.slice(0, n), total - n);
}

interface Item {
  /** As given (a list entry) or as read (the canonical form of what was found in a text). */
  input: string;
  ind: Indicator;
  /** Where it stands in the input, as written there: the token in a text, the entry in a list. */
  at: string;
}

interface Collected {
  items: Item[];
  rejected: string[];
  skipped: string[];
  /** Non-public IPs and email addresses: nothing VirusTotal could tell. */
  notLookedUp: string[];
  /** Beyond the per-call maximum: returned as unchecked. */
  overflow: Item[];
  /** Inputs that name an indicator already found (the same id, however it was written). */
  merged: number;
  fromText: boolean;
}

/** A list is taken as given (each entry must be an indicator); text is mined for indicators. */
function collect(input: string[] | string): Collected {
  const rejected: string[] = [];
  let skipped: string[] = [];
  let notLookedUp: string[] = [];
  const found: Item[] = [];
  if (typeof input === 'string') {
    const ex = extractIndicators(input);
    skipped = ex.skipped;
    notLookedUp = ex.notLookedUp;
    ex.indicators.forEach((ind, i) => {
      found.push({ input: ind.value, ind, at: ex.tokens[i] ?? ind.value });
    });
  } else {
    for (const raw of input) {
      const p = parseIndicator(raw);
      const why = p.ok && p.indicator.type === 'ip_address' ? nonPublicIp(p.indicator.id) : undefined;
      if (p.ok && why) notLookedUp.push(`${p.indicator.id} (${why.replace(/^an? |^the /, '')})`);
      else if (p.ok) found.push({ input: raw.trim(), ind: p.indicator, at: raw.trim() });
      else if (raw.trim() !== '') rejected.push(raw);
    }
  }
  // Duplicates (the same id, however it was written) are looked up once.
  const seen = new Set<string>();
  const unique = found.filter(({ ind }) => {
    const k = `${ind.type}:${ind.id}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return {
    items: unique.slice(0, MAX_TRIAGE),
    rejected,
    skipped,
    notLookedUp,
    overflow: unique.slice(MAX_TRIAGE),
    merged: found.length - unique.length,
    fromText: typeof input === 'string',
  };
}
