/**
 * vt_triage: many indicators in, one line each out, most dangerous first. Lookups share the rate
 * limiter and cache; when the quota or the time runs out the call returns what it has and lists
 * what it did not check, so the model can resume with exactly those.
 */
import { setMaxListeners } from 'node:events';
import { z } from 'zod';
import { clean, fmtInt, isoDay, plural, type Verdict } from '../summaries/common.js';
import { summarizeReport } from '../summaries/index.js';
import { joinMore, q, TextBuilder } from '../summaries/text.js';
import { invalidInput, VtError } from '../vt/errors.js';
import { extractIndicators, type Indicator, nonPublicIp, parseIndicator } from '../vt/indicators.js';
import { isoSeconds } from '../vt/limiter.js';
import { vtPath } from '../vt/paths.js';
import { defineTool } from './define.js';
import { progressFor } from './progress.js';
import { DEMO_BANNER, errorText, ok } from './respond.js';

/** Indicators checked per call: the schema's list limit, and the cap on what is mined from a text. */
export const MAX_TRIAGE = 100;
const MAX_ENTRY_CHARS = 8192;
const MAX_TEXT_CHARS = 200_000;
/** Room kept in demo mode for the demo's rewording of absence (see respond.ts, demoText). */
const DEMO_REWORDING_CHARS = 300;
/** A row shows at most this much of its input; structuredContent keeps inputs whole. */
const SHOWN_INPUT_CHARS = 200;

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
  const input = clean(r.input, SHOWN_INPUT_CHARS) ?? '';
  const value = r.type === 'url' ? `\`${input}\`` : input;
  const shown = r.type === 'file' && r.input.toLowerCase() !== r.id ? `${value} (sha256 ${r.id})` : value;
  const bits = [
    `${verdict}${ratio}`,
    `${r.type.replace('_address', '')} ${shown}`,
    r.label && q(r.label),
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
    `Check up to ${MAX_TRIAGE} indicators in one call (hashes, URLs, domains, IPs; a list, or pasted text to extract ` +
    'them from, defanged too). One line each, most dangerous first: verdict, engines flagging it, threat ' +
    'label, first seen. One lookup per new indicator (cached ones are free). Returns within about 50 s: ' +
    "at a public key's 4 lookups a minute that is about 4 new ones per call; the rest come back in " +
    '`unchecked` to pass to the next call.',
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
      .describe('List of indicators, or free text to extract them from.'),
  },
  outputSchema: {
    results: z.array(z.record(z.string(), z.unknown())),
    unchecked: z.array(z.string()),
    stopped: z.string().optional(),
    retry_after: z.string().optional(),
    // How many results and unchecked indicators were left out to keep within VT_MAX_RESPONSE_CHARS.
    results_more: z.number().optional(),
    unchecked_more: z.number().optional(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const { items, rejected, skipped, notLookedUp, overflow, fromText } = collect(args.indicators);
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

    // Ties in the input's order, so that what a cut leaves out does not depend on which answer came first.
    const order = new Map(items.map((it, i) => [it.input, i]));
    rows.sort(
      (a, b) =>
        RANK[a.verdict] - RANK[b.verdict] ||
        (b.malicious ?? 0) - (a.malicious ?? 0) ||
        (order.get(a.input) ?? 0) - (order.get(b.input) ?? 0),
    );
    const answered = rows.filter((r) => r.verdict !== 'error');
    const answeredInputs = new Set(answered.map((r) => r.input));
    // Failed lookups go back into `unchecked` with those never sent: one list to resume from, in the
    // order of the input, so that a list cut short can say where in the input the rest begin.
    const uncheckedItems = [...items.filter((i) => !answeredInputs.has(i.input)), ...overflow];
    const unchecked = uncheckedItems.map((i) => i.input);
    const retryAfter = stopErr?.resetAt ? isoSeconds(stopErr.resetAt.getTime()) : undefined;

    // Both halves of the answer keep within VT_MAX_RESPONSE_CHARS. The lines around the results and the
    // unchecked list are required and bounded; those two lists take the room left, and what they leave
    // out is counted (results are cut from the least dangerous end, unchecked from the end of the input).
    const budget = ctx.config.maxResponseChars;
    // In the demo, respond.ts adds its banner and words absence as of the recordings (a few characters
    // more per such line, and one line more): room is kept for both.
    const textBudget = budget - (ctx.demo ? DEMO_BANNER.length + 1 + DEMO_REWORDING_CHARS : 0);
    const sampleChars = Math.min(700, Math.floor(textBudget / 16));

    const counts = Object.entries(
      answered.reduce<Record<string, number>>((acc, r) => {
        acc[r.verdict] = (acc[r.verdict] ?? 0) + 1;
        return acc;
      }, {}),
    )
      .sort(([a], [b]) => RANK[a as Outcome] - RANK[b as Outcome])
      .map(([v, n]) => `${n} ${v.replace('_', ' ')}`);
    const total = items.length + overflow.length;
    const head = [
      `Triage of ${plural(total, 'indicator')}: ${answered.length} checked${counts.length ? ` (${counts.join(', ')})` : ''}` +
        `${unchecked.length ? `, ${fmtInt(unchecked.length)} unchecked` : ''}.`,
      stopped && `Stopped early: ${stopped}`,
    ];
    const tail = [
      overflow.length > 0 &&
        `Only ${MAX_TRIAGE} indicators are checked per call; the rest are in the unchecked list.`,
      rejected.length > 0 &&
        `Not indicators, ignored: ${sample(
          rejected.map((r) => q(clean(r, 60) ?? '')),
          sampleChars,
        )}`,
      notLookedUp.length > 0 &&
        `Nothing to look up: ${sample(
          notLookedUp.map((x) => clean(x) ?? ''),
          sampleChars,
        )}`,
      skipped.length > 0 &&
        `File names, not looked up: ${sample(
          skipped.map((x) => clean(x, 60) ?? ''),
          sampleChars,
        )}`,
      rows.some((r) => r.verdict === 'not_found') &&
        'NOT FOUND means VirusTotal has never seen it; that is not evidence that it is safe.',
      'Verdicts count engines: 3+ malicious = MALICIOUS, 1-2 or any suspicious = SUSPICIOUS.',
    ];
    const rowLines = rows.map(line);
    // An unchecked entry is shown whole or not at all: it is there to be passed back as it is.
    const shownUnchecked = unchecked.map((u) => clean(u, Number.POSITIVE_INFINITY) ?? '');
    const pointer = (i: number) => clean(uncheckedItems[i]?.at, 120) ?? '';
    const uncheckedLine = (n: number) => {
      const more = unchecked.length - n;
      const where =
        n > 0
          ? `they come after \`${pointer(n - 1)}\` in the ${fromText ? 'text you gave; send the text from there' : 'list you gave; send those entries'} in a later call`
          : `they begin at \`${pointer(0)}\` in the ${fromText ? 'text' : 'list'} you gave`;
      return (
        `Unchecked (${fmtInt(unchecked.length)}; call vt_triage again with these${retryAfter ? ` after ${retryAfter}` : ''}):` +
        `${n > 0 ? ` ${shownUnchecked.slice(0, n).join(' ')}` : ''}` +
        `${more > 0 ? ` (+${fmtInt(more)} more not listed here: ${where})` : ''}`
      );
    };
    const textLines = (nRows: number, nUnchecked: number) =>
      [
        ...head,
        ...rowLines.slice(0, nRows),
        nRows < rows.length &&
          `(+${fmtInt(rows.length - nRows)} more results not shown here, the least dangerous ones; they are counted ` +
            'above. Triage fewer indicators at a time to see each.)',
        unchecked.length > 0 && uncheckedLine(nUnchecked),
        ...tail,
      ].filter((l): l is string => typeof l === 'string' && l !== '');
    const textAt = (nRows: number, nUnchecked: number) => textLines(nRows, nUnchecked).join('\n');
    const [nRows, nUnchecked] = fitBoth(
      rowLines.map((l) => l.length + 1),
      shownUnchecked.map((u) => u.length + 1),
      // The fixed part, measured with both lists empty and both notes of what was left out present.
      textBudget - textAt(0, 0).length,
      (a, b) => textAt(a, b).length <= textBudget,
    );
    const t = new TextBuilder();
    for (const l of textLines(nRows, nUnchecked)) t.line(l);

    const structuredAt = (nResults: number, nUnchecked: number): Record<string, unknown> => ({
      results: rows.slice(0, nResults) as unknown as Record<string, unknown>[],
      unchecked: unchecked.slice(0, nUnchecked),
      ...(nResults < rows.length ? { results_more: rows.length - nResults } : {}),
      ...(nUnchecked < unchecked.length ? { unchecked_more: unchecked.length - nUnchecked } : {}),
      ...(stopped ? { stopped } : {}),
      ...(retryAfter ? { retry_after: retryAfter } : {}),
    });
    const [sResults, sUnchecked] = fitBoth(
      rows.map((r) => JSON.stringify(r).length + 1),
      unchecked.map((u) => JSON.stringify(u).length + 1),
      budget - JSON.stringify(structuredAt(0, 0)).length,
      (a, b) => JSON.stringify(structuredAt(a, b)).length <= budget,
    );
    return ok(ctx, t.render(textBudget), structuredAt(sResults, sUnchecked));
  },
});

/**
 * What the model reads when `indicators` breaks the input schema. The SDK sends it as
 * "MCP error -32602: Input validation error: Invalid arguments for tool vt_triage: <this> at indicators".
 */
function indicatorsError(input: unknown): string {
  if (Array.isArray(input)) {
    if (input.length > MAX_TRIAGE) {
      return (
        `The list has ${fmtInt(input.length)} indicators; vt_triage checks at most ${MAX_TRIAGE} per call. ` +
        `Split the list into calls of ${MAX_TRIAGE} or fewer, or pass the indicators as one text (a single ` +
        `string): then the first ${MAX_TRIAGE} are checked and the rest come back in \`unchecked\`.`
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
    `Give a list of up to ${MAX_TRIAGE} indicators (strings), or one text of up to ` +
    `${fmtInt(MAX_TEXT_CHARS)} characters to extract them from.`
  );
}

/** "a, b, c (+4 more)", as many items as fit in about `maxChars` (always one). */
function sample(items: string[], maxChars: number): string {
  let n = 0;
  let used = 0;
  for (const item of items) {
    if (n > 0 && used + item.length + 2 > maxChars) break;
    used += item.length + 2;
    n++;
  }
  return joinMore(items.slice(0, n), items.length - n);
}

/** How many of `costs`, from the start, fit in `room`. */
function prefixFitting(costs: number[], room: number): number {
  let n = 0;
  let used = 0;
  for (const c of costs) {
    if (used + c > room) break;
    used += c;
    n++;
  }
  return n;
}

/**
 * How many of two lists to keep (each from its start) within `room`: both whole when they fit; else the
 * second keeps up to a third of the room and the first takes the rest. `fits` checks the answer as built;
 * the estimate is trimmed (second list first) until it holds.
 */
function fitBoth(
  a: number[],
  b: number[],
  room: number,
  fits: (na: number, nb: number) => boolean,
): [number, number] {
  const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
  let na = a.length;
  let nb = b.length;
  if (sum(a) + sum(b) > room) {
    const forB = Math.min(sum(b), Math.floor(Math.max(0, room) / 3));
    na = prefixFitting(a, room - forB);
    nb = prefixFitting(b, room - sum(a.slice(0, na)));
  }
  while (!fits(na, nb) && (na > 0 || nb > 0)) {
    if (nb > 0) nb--;
    else na--;
  }
  return [na, nb];
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
    fromText: typeof input === 'string',
  };
}
