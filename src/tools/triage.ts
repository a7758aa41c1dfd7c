/**
 * vt_triage: many indicators in, one line each out, most dangerous first. Lookups share the rate
 * limiter and cache; when the quota or the time runs out the call returns what it has and lists
 * what it did not check, so the model can resume with exactly those.
 */
import { setMaxListeners } from 'node:events';
import { z } from 'zod';
import { clean, isoDay, plural, type Verdict } from '../summaries/common.js';
import { summarizeReport } from '../summaries/index.js';
import { TextBuilder } from '../summaries/text.js';
import { invalidInput, VtError } from '../vt/errors.js';
import { extractIndicators, type Indicator, nonPublicIp, parseIndicator } from '../vt/indicators.js';
import { isoSeconds } from '../vt/limiter.js';
import { vtPath } from '../vt/paths.js';
import { defineTool } from './define.js';
import { progressFor } from './progress.js';
import { errorText, ok } from './respond.js';

export const MAX_TRIAGE = 100;

/**
 * A triage call returns within this many seconds (or VT_MAX_WAIT_SECONDS if lower): clients commonly
 * give up on a call after 60 s, and partial results plus `unchecked` are worth more than a timeout.
 */
export const TRIAGE_BUDGET_MS = 50_000;

type Outcome = Verdict | 'not_found' | 'error';

export interface TriageRow {
  input: string;
  type: Indicator['type'];
  id: string;
  verdict: Outcome;
  malicious?: number;
  total?: number;
  label?: string;
  first_seen?: string;
  /** For domains: the registration date, which is not when VirusTotal first saw it. */
  registered?: string;
  analysed?: string;
  cached?: boolean;
  error?: string;
}

const RANK: Record<Outcome, number> = {
  malicious: 0,
  suspicious: 1,
  undetected: 2,
  no_verdict: 3,
  not_found: 4,
  error: 5,
};

function rowFromSummary(input: string, ind: Indicator, data: unknown, cached: boolean): TriageRow {
  const r = summarizeReport(data, 'concise', 4000);
  if (!r) return { input, type: ind.type, id: ind.id, verdict: 'error', error: 'unexpected report shape' };
  const s = r.summary as unknown as Record<string, unknown>;
  const stats = s.stats as { malicious: number; total: number } | undefined;
  // VirusTotal's consensus label only: one engine's name for a thing is not a threat label.
  const label =
    (s.threat_label as string | undefined) ?? ((s.threat_names as string[] | undefined)?.[0] || undefined);
  const firstSeen = isoDay(s.first_submission);
  const registered = isoDay(s.created);
  const analysed = isoDay(s.last_analysis);
  return {
    input,
    type: ind.type,
    id: r.summary.id,
    verdict: s.verdict as Verdict,
    ...(stats && stats.total > 0 ? { malicious: stats.malicious, total: stats.total } : {}),
    ...(label ? { label } : {}),
    ...(firstSeen ? { first_seen: firstSeen } : {}),
    ...(registered ? { registered } : {}),
    ...(analysed ? { analysed } : {}),
    ...(cached ? { cached } : {}),
  };
}

function line(r: TriageRow): string {
  const verdict = r.verdict.toUpperCase().replace('_', ' ');
  const ratio = r.total !== undefined ? ` ${r.malicious}/${r.total}` : '';
  // URLs in backticks: chat clients then show them as text, not as links to click.
  const value = r.type === 'url' ? `\`${r.input}\`` : r.input;
  const shown = r.type === 'file' && r.input.toLowerCase() !== r.id ? `${value} (sha256 ${r.id})` : value;
  const bits = [
    `${verdict}${ratio}`,
    `${r.type.replace('_address', '')} ${shown}`,
    r.label && `"${r.label}"`,
    r.first_seen && `first seen ${r.first_seen}`,
    r.registered && `registered ${r.registered}`,
    r.analysed && `analysed ${r.analysed}`,
    r.error,
  ].filter(Boolean);
  return `- ${bits.join(' · ')}`;
}

export const triageTool = defineTool({
  name: 'vt_triage',
  title: 'VirusTotal batch triage',
  description:
    'Check up to 100 indicators in one call (hashes, URLs, domains, IPs; a list, or pasted text to extract ' +
    'them from, defanged too). One line each, most dangerous first: verdict, engines flagging it, threat ' +
    'label, first seen. One lookup per new indicator (cached ones are free). Returns within about 50 s: ' +
    "at a public key's 4 lookups a minute that is about 4 new ones per call; the rest come back in " +
    '`unchecked` to pass to the next call.',
  inputSchema: {
    indicators: z
      .union([z.array(z.string().max(8192)).max(MAX_TRIAGE), z.string().max(200_000)])
      .describe('List of indicators, or free text to extract them from.'),
  },
  outputSchema: {
    results: z.array(z.record(z.string(), z.unknown())),
    unchecked: z.array(z.string()),
    stopped: z.string().optional(),
    retry_after: z.string().optional(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const { items, rejected, skipped, notLookedUp, overflow } = collect(args.indicators);
    if (items.length === 0) {
      const why = [
        rejected.length &&
          `not recognised: ${rejected
            .slice(0, 5)
            .map((r) => `"${clean(r, 60)}"`)
            .join(', ')}`,
        notLookedUp.length && `nothing to look up: ${notLookedUp.slice(0, 5).join(', ')}`,
      ].filter(Boolean);
      throw invalidInput(
        `No indicator to look up in the input${why.length ? ` (${why.join('; ')})` : ''}. ` +
          'Give file hashes, URLs, domains or public IP addresses, as a list or as text.',
      );
    }
    const progress = progressFor(extra);
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, extra.signal]);
    setMaxListeners(MAX_TRIAGE * 2, signal); // one listener per lookup is expected here
    const deadline = Date.now() + Math.min(ctx.config.maxWaitMs, TRIAGE_BUDGET_MS);
    const rows: TriageRow[] = [];
    let stopErr: VtError | undefined;
    let done = 0;

    await Promise.all(
      items.map(async ({ input, ind }) => {
        try {
          const res = await ctx.vt.fetch<{ data?: unknown }>({
            path: vtPath`/${ind.collection}/${ind.id}`,
            signal,
            deadline,
          });
          rows.push(rowFromSummary(input, ind, res.body?.data, res.fromCache));
        } catch (err) {
          if (err instanceof VtError && err.kind === 'not_found') {
            rows.push({ input, type: ind.type, id: ind.id, verdict: 'not_found' });
          } else if (
            err instanceof VtError &&
            ['quota', 'cancelled', 'not_configured', 'auth'].includes(err.kind)
          ) {
            // Whatever stops one lookup stops the batch. Lookups already sent are let finish (their
            // quota is spent); those not sent fail fast on the same limit, so only a bad key aborts them.
            if (!stopErr && err.kind !== 'cancelled') stopErr = err;
            if (err.kind === 'auth' || err.kind === 'not_configured') stop.abort();
            return;
          } else {
            rows.push({
              input,
              type: ind.type,
              id: ind.id,
              verdict: 'error',
              error: clean(errorText(err), 120),
            });
          }
        }
        done++;
        progress.step(done, items.length, `${done}/${items.length} checked`);
      }),
    );
    // Nothing checked: the reason is the answer, worded as for a single lookup.
    if (stopErr && rows.length === 0) throw stopErr;
    const stopped = stopErr
      ? errorText(stopErr)
      : extra.signal.aborted
        ? 'The call was cancelled.'
        : undefined;

    rows.sort((a, b) => RANK[a.verdict] - RANK[b.verdict] || (b.malicious ?? 0) - (a.malicious ?? 0));
    const answered = rows.filter((r) => r.verdict !== 'error');
    const answeredInputs = new Set(answered.map((r) => r.input));
    // Failed lookups go back into `unchecked` with those never sent: one list to resume from.
    const unchecked = [...items.filter((i) => !answeredInputs.has(i.input)).map((i) => i.input), ...overflow];
    const retryAfter = stopErr?.resetAt ? isoSeconds(stopErr.resetAt.getTime()) : undefined;

    const t = new TextBuilder();
    const counts = Object.entries(
      answered.reduce<Record<string, number>>((acc, r) => {
        acc[r.verdict] = (acc[r.verdict] ?? 0) + 1;
        return acc;
      }, {}),
    )
      .sort(([a], [b]) => RANK[a as Outcome] - RANK[b as Outcome])
      .map(([v, n]) => `${n} ${v.replace('_', ' ')}`);
    const total = items.length + overflow.length;
    t.line(
      `Triage of ${plural(total, 'indicator')}: ${answered.length} checked${counts.length ? ` (${counts.join(', ')})` : ''}` +
        `${unchecked.length ? `, ${unchecked.length} unchecked` : ''}.`,
    );
    if (stopped) t.line(`Stopped early: ${stopped}`);
    for (const r of rows) t.line(line(r));
    if (unchecked.length) {
      t.line(
        `Unchecked (${unchecked.length}; call vt_triage again with these${retryAfter ? ` after ${retryAfter}` : ''}): ${unchecked.join(' ')}`,
      );
    }
    if (overflow.length)
      t.line(`Only ${MAX_TRIAGE} indicators are checked per call; the rest are in the unchecked list.`);
    if (rejected.length) {
      t.line(
        `Not indicators, ignored: ${rejected
          .slice(0, 10)
          .map((r) => `"${clean(r, 60)}"`)
          .join(', ')}`,
      );
    }
    if (notLookedUp.length) t.line(`Nothing to look up: ${notLookedUp.slice(0, 10).join(', ')}`);
    if (skipped.length)
      t.line(
        `File names, not looked up: ${skipped
          .slice(0, 10)
          .map((x) => clean(x, 60))
          .join(', ')}`,
      );
    if (rows.some((r) => r.verdict === 'not_found')) {
      t.line('NOT FOUND means VirusTotal has never seen it; that is not evidence that it is safe.');
    }
    t.line('Verdicts count engines: 3+ malicious = MALICIOUS, 1-2 or any suspicious = SUSPICIOUS.');
    return ok(ctx, t.render(ctx.config.maxResponseChars), {
      results: rows as unknown as Record<string, unknown>[],
      unchecked,
      ...(stopped ? { stopped } : {}),
      ...(retryAfter ? { retry_after: retryAfter } : {}),
    });
  },
});

interface Collected {
  items: Array<{ input: string; ind: Indicator }>;
  rejected: string[];
  skipped: string[];
  /** Private IPs and email addresses: nothing VirusTotal could tell. */
  notLookedUp: string[];
  /** Beyond the per-call maximum: returned as unchecked. */
  overflow: string[];
}

/** A list is taken as given (each entry must be an indicator); text is mined for indicators. */
function collect(input: string[] | string): Collected {
  const rejected: string[] = [];
  let skipped: string[] = [];
  let notLookedUp: string[] = [];
  const found: Array<{ input: string; ind: Indicator }> = [];
  if (typeof input === 'string') {
    const ex = extractIndicators(input);
    skipped = ex.skipped;
    notLookedUp = ex.notLookedUp;
    for (const ind of ex.indicators) found.push({ input: ind.value, ind });
  } else {
    for (const raw of input) {
      const p = parseIndicator(raw);
      const why = p.ok && p.indicator.type === 'ip_address' ? nonPublicIp(p.indicator.id) : undefined;
      if (p.ok && why) notLookedUp.push(`${p.indicator.id} (${why.replace(/^an? |^the /, '')})`);
      else if (p.ok) found.push({ input: raw.trim(), ind: p.indicator });
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
    overflow: unique.slice(MAX_TRIAGE).map((u) => u.input),
  };
}
