/**
 * vt_triage: many indicators in, one line each out, most dangerous first. Lookups share the rate
 * limiter and cache; when the quota or the time runs out the call returns what it has and lists
 * what it did not check, so the model can resume with exactly those.
 */
import { z } from 'zod';
import { clean, isoDay, type Verdict } from '../summaries/common.js';
import { summarizeReport } from '../summaries/index.js';
import { TextBuilder } from '../summaries/text.js';
import { invalidInput, VtError } from '../vt/errors.js';
import { extractIndicators, type Indicator, parseIndicator } from '../vt/indicators.js';
import { isoSeconds } from '../vt/limiter.js';
import { vtPath } from '../vt/paths.js';
import { defineTool } from './define.js';
import { progressFor } from './progress.js';
import { errorText, ok } from './respond.js';

export const MAX_TRIAGE = 100;

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
  cached?: boolean;
  error?: string;
}

const RANK: Record<Outcome, number> = {
  malicious: 0,
  suspicious: 1,
  clean: 2,
  no_verdict: 3,
  not_found: 4,
  error: 5,
};

function rowFromSummary(input: string, ind: Indicator, data: unknown, cached: boolean): TriageRow {
  const r = summarizeReport(data, 'concise', 4000);
  if (!r) return { input, type: ind.type, id: ind.id, verdict: 'error', error: 'unexpected report shape' };
  const s = r.summary as unknown as Record<string, unknown>;
  const stats = s.stats as { malicious: number; total: number } | undefined;
  const label =
    (s.threat_label as string | undefined) ??
    ((s.threat_names as string[] | undefined)?.[0] || undefined) ??
    (s.detection_labels as Array<{ value: string }> | undefined)?.[0]?.value;
  const firstSeen = (s.first_submission ?? s.created) as string | undefined;
  return {
    input,
    type: ind.type,
    id: r.summary.id,
    verdict: s.verdict as Verdict,
    ...(stats ? { malicious: stats.malicious, total: stats.total } : {}),
    ...(label ? { label } : {}),
    ...(firstSeen ? { first_seen: isoDay(firstSeen) ?? firstSeen } : {}),
    ...(cached ? { cached } : {}),
  };
}

function line(r: TriageRow): string {
  const verdict = r.verdict.toUpperCase().replace('_', ' ');
  const ratio = r.total !== undefined ? ` ${r.malicious}/${r.total}` : '';
  const shown = r.type === 'file' && r.input.toLowerCase() !== r.id ? `${r.input} (sha256 ${r.id})` : r.input;
  const bits = [
    `${verdict}${ratio}`,
    `${r.type.replace('_address', '')} ${shown}`,
    r.label && `"${r.label}"`,
    r.first_seen && `first seen ${r.first_seen}`,
    r.error,
  ].filter(Boolean);
  return `- ${bits.join(' · ')}`;
}

export const triageTool = defineTool({
  name: 'vt_triage',
  title: 'VirusTotal batch triage',
  description:
    'Check up to 100 indicators at once (hashes, URLs, domains, IPs, mixed; a list or pasted text from which ' +
    'they are extracted, defanged ones too). One line each, most dangerous first: verdict, malicious/total ' +
    'engines, threat label, first seen. Uses one lookup per new indicator (cached ones are free). If the quota ' +
    'or time runs out it returns partial results and `unchecked`: call again with those.',
  inputSchema: {
    indicators: z
      .union([z.array(z.string().max(8192)).max(MAX_TRIAGE), z.string().max(200_000)])
      .describe('List of indicators, or free text to extract them from.'),
  },
  outputSchema: {
    results: z.array(z.record(z.string(), z.unknown())),
    unchecked: z.array(z.string()),
    stopped: z.string().optional(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const { items, rejected, skipped, overflow } = collect(args.indicators);
    if (items.length === 0) {
      throw invalidInput(
        `No indicator found in the input${
          rejected.length
            ? ` (not recognised: ${rejected
                .slice(0, 5)
                .map((r) => `"${clean(r, 60)}"`)
                .join(', ')})`
            : ''
        }. Give hashes, URLs, domains or IP addresses, as a list or as text.`,
      );
    }
    const progress = progressFor(extra);
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, extra.signal]);
    const deadline = Date.now() + ctx.config.maxWaitMs;
    const rows: TriageRow[] = [];
    let stopped: string | undefined;
    let done = 0;

    await Promise.all(
      items.map(async ({ input, ind }) => {
        try {
          const res = await ctx.vt.fetch<{ data?: unknown }>({
            path: vtPath`/${ind.collection}/${ind.id}`,
            signal,
            maxWaitMs: Math.max(0, deadline - Date.now()),
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
            if (!stopped && err.kind !== 'cancelled') stopped = errorText(err);
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
    if (!stopped && extra.signal.aborted) stopped = 'The call was cancelled.';
    if (stopped && rows.length === 0 && !extra.signal.aborted) throw new VtError('quota', stopped);

    rows.sort((a, b) => RANK[a.verdict] - RANK[b.verdict] || (b.malicious ?? 0) - (a.malicious ?? 0));
    const checked = new Set(rows.map((r) => r.input));
    const unchecked = [...items.filter((i) => !checked.has(i.input)).map((i) => i.input), ...overflow];

    const t = new TextBuilder();
    const counts = Object.entries(
      rows.reduce<Record<string, number>>((acc, r) => {
        acc[r.verdict] = (acc[r.verdict] ?? 0) + 1;
        return acc;
      }, {}),
    )
      .sort(([a], [b]) => RANK[a as Outcome] - RANK[b as Outcome])
      .map(([v, n]) => `${n} ${v.replace('_', ' ')}`);
    t.line(
      `Triage of ${items.length} indicator${items.length === 1 ? '' : 's'}: ${counts.join(', ') || 'none checked'}.`,
    );
    if (stopped) t.line(`Stopped early: ${stopped}`);
    for (const r of rows) t.line(line(r));
    if (unchecked.length) {
      t.line(`Unchecked (${unchecked.length}; call vt_triage again with these): ${unchecked.join(' ')}`);
    }
    if (rejected.length)
      t.line(
        `Not indicators, ignored: ${rejected
          .slice(0, 10)
          .map((r) => `"${clean(r, 60)}"`)
          .join(', ')}`,
      );
    if (skipped.length)
      t.line(
        `File names, not looked up: ${skipped
          .slice(0, 10)
          .map((s) => clean(s, 60))
          .join(', ')}`,
      );
    if (rows.some((r) => r.verdict === 'not_found')) {
      t.line('NOT FOUND means VirusTotal has never seen it; that is not evidence that it is safe.');
    }
    t.line(`Checked at ${isoSeconds(Date.now())}; verdicts count engines (3+ malicious = MALICIOUS).`);
    return ok(ctx, t.render(ctx.config.maxResponseChars), {
      results: rows as unknown as Record<string, unknown>[],
      unchecked,
      ...(stopped ? { stopped } : {}),
    });
  },
});

interface Collected {
  items: Array<{ input: string; ind: Indicator }>;
  rejected: string[];
  skipped: string[];
  /** Beyond the per-call maximum: returned as unchecked. */
  overflow: string[];
}

/** A list is taken as given (each entry must be an indicator); text is mined for indicators. */
function collect(input: string[] | string): Collected {
  const rejected: string[] = [];
  let skipped: string[] = [];
  const found: Array<{ input: string; ind: Indicator }> = [];
  if (typeof input === 'string') {
    const ex = extractIndicators(input);
    skipped = ex.skipped;
    for (const ind of ex.indicators) found.push({ input: ind.value, ind });
  } else {
    for (const raw of input) {
      const p = parseIndicator(raw);
      if (p.ok) found.push({ input: raw.trim(), ind: p.indicator });
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
    overflow: unique.slice(MAX_TRIAGE).map((u) => u.input),
  };
}
