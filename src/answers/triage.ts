/**
 * vt_triage's answer: a job's snapshot laid out as one line per indicator, most dangerous first, with
 * its tally, schedule, plan and notes, within the response budget, and the output schema that
 * describes it. The same answer serves vt_triage, tasks/get and the vt://triage/{job} resource.
 */
import { z } from 'zod';
import { type JobNotes, jobNotesSchema, MAX_TRIAGE } from '../jobs/control.js';
import { isJobId, type JobHeader, type JobSnapshot } from '../jobs/job-schemas.js';
import { dateTimeSchema, fmtInt, plural } from '../summaries/common.js';
import { joinMore, q } from '../summaries/text.js';
import { byDanger, RANK, type TriageRow, triageLine, triageRowSchema } from '../summaries/triage.js';
import { isoSeconds } from '../util/time.js';
import { errorFromFacts } from '../vt/errors.js';
import type { ToolContext } from './context.js';
import { respondText, textRoom } from './respond.js';
import { errorText, jobNotFoundText, jobsUnreadableNow, triageNotFoundNote } from './wording.js';

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
/** The counts in the order the tally names them (countsOf writes them in this order too). */
const COUNT_KEYS = countsSchema.keyof().options;

/** How a failed item whose stored kind this version does not know is shown. */
const UNKNOWN_FAILURE = 'unknown';

/** The rows of one file (sameFileOnce), by its sha256; the first is where the file stands. */
interface FileRows {
  sha256: string;
  rows: [TriageRow, ...TriageRow[]];
}

export const triageOutput = z.object({
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
export type TriageOutput = z.infer<typeof triageOutput>;

function rowOf(snap: JobSnapshot, i: number): TriageRow | undefined {
  const st = snap.states[i];
  const item = snap.items[i];
  if (!item || !st) return undefined;
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
      error: `lookup failed (${st.error ?? UNKNOWN_FAILURE})`,
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
  const groups = new Map<string, FileRows>();
  const out: Array<TriageRow | FileRows> = [];
  for (const r of rows) {
    const sha256 = r.id.toLowerCase();
    const answered = r.type === 'file' && RANK[r.verdict] < RANK.not_found && /^[0-9a-f]{64}$/.test(sha256);
    if (!answered) {
      out.push(r);
      continue;
    }
    const file = groups.get(sha256);
    if (file) file.rows.push(r);
    else {
      const first: FileRows = { sha256, rows: [r] };
      groups.set(sha256, first);
      out.push(first);
    }
  }
  return out.map((r) => {
    if (!('rows' in r)) return r;
    const { sha256, rows: group } = r;
    const main = group.find((g) => g.input.toLowerCase() === sha256) ?? group[0];
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
  const parts = COUNT_KEYS.filter((k) => (s.counts[k] ?? 0) > 0).map(
    (k) => `${fmtInt(s.counts[k] ?? 0)} ${name(k)}`,
  );
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

export function answerFor(ctx: ToolContext, snap: JobSnapshot, offset: number, acknowledged?: string) {
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
    return [...required, ...pageNote, ...lines, ...noteLines].join('\n').slice(0, room);
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
    // A kind this version does not know has nothing to word it from.
    const text = st.error === undefined ? '' : errorText(errorFromFacts(st.error, st.why ?? {}), ctx);
    const c = causes.get(text) ?? { kind: st.error ?? UNKNOWN_FAILURE, n: 0 };
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

/**
 * What to say of a job that was not given back (jobNotFoundText), from the store that keeps the jobs: a
 * read that threw, or a store answering from memory now, is "cannot be read now, ask again", never "it
 * never existed, start it again" (which spends every lookup again). `unavailable` is that case.
 */
export function jobAbsence(
  ctx: ToolContext,
  id: string,
  failure?: unknown,
): { text: string; unavailable: boolean } {
  const health = ctx.triage?.jobs.health(failure);
  return {
    text: jobNotFoundText(id, ctx.config.triageKeepHours, health),
    unavailable: jobsUnreadableNow(health),
  };
}

/** The job's state as vt_triage {job} shows it (without waiting), for the vt://triage/{job} resource. */
export async function triageStateText(ctx: ToolContext, id: string): Promise<string | undefined> {
  const snap = isJobId(id) ? await ctx.triage?.jobs.snapshot(id, ctx.caller) : undefined;
  return snap ? respondText(ctx, answerFor(ctx, snap, 0)) : undefined;
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
