/** vt_get_report: one indicator in, a compact VirusTotal report out. */
import { z } from 'zod';
import { type Detail, summarizeReport } from '../summaries/index.js';
import { VtError } from '../vt/errors.js';
import type { IndicatorType } from '../vt/indicators.js';
import { vtPath } from '../vt/paths.js';
import { defineTool } from './define.js';
import { progressFor } from './progress.js';
import { ok, sourceLine } from './respond.js';
import { detailParam, freshParam, indicatorParam, typeParam } from './schemas.js';
import { notPublic, parseTarget } from './target.js';

export const getReportTool = defineTool({
  name: 'vt_get_report',
  title: 'VirusTotal report',
  description:
    'Look up one file hash, URL, domain or IP on VirusTotal: verdict (engines flagging it, when analysed), ' +
    'threat label, names, ISO dates, detections, sandbox/YARA/Sigma/IDS hits, similarity hashes and ready ' +
    'vt_search pivots for files; categories, DNS, certificate, registration and ASN for network items. ' +
    'One lookup (none if cached). For several indicators use vt_triage. "Not found" means VirusTotal never ' +
    'saw it, not that it is safe.',
  inputSchema: { indicator: indicatorParam, type: typeParam, detail: detailParam, fresh: freshParam },
  outputSchema: {
    type: z.string(),
    id: z.string(),
    found: z.boolean(),
    summary: z.record(z.string(), z.unknown()).optional(),
    fetched_at: z.string(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const ind = parseTarget(args.indicator, args.type as IndicatorType | undefined);
    const privateWhy = notPublic(ind);
    if (privateWhy) {
      // A private, documentation or other special-purpose address: a lookup would spend quota on nothing.
      return ok(ctx, privateWhy, {
        type: ind.type,
        id: ind.id,
        found: false,
        fetched_at: new Date().toISOString(),
      });
    }
    const detail = (args.detail ?? 'concise') as Detail;
    try {
      const res = await ctx.vt.fetch<{ data?: unknown }>({
        path: vtPath`/${ind.collection}/${ind.id}`,
        signal: extra.signal,
        fresh: args.fresh === true,
        onWait: progressFor(extra).onWait,
      });
      const rendered = summarizeReport(res.body?.data, detail, ctx.config.maxResponseChars - 200);
      if (!rendered) throw new VtError('transient', 'VirusTotal sent a report in an unexpected shape.');
      const fetched_at = res.fetchedAt.toISOString();
      return ok(ctx, `${rendered.text}\n${sourceLine(res.fetchedAt, res.fromCache)}`, {
        type: ind.type,
        id: rendered.summary.id,
        found: true,
        summary: rendered.summary,
        fetched_at,
      });
    } catch (err) {
      if (!(err instanceof VtError) || err.kind !== 'not_found') throw err;
      const fetched_at = new Date().toISOString();
      const text =
        `Not found: VirusTotal has never seen the ${ind.type.replace('_', ' ')} ${ind.value}, so there is no ` +
        'verdict. That is not evidence that it is safe: new, rare and targeted artifacts are often unknown.';
      return ok(ctx, text, { type: ind.type, id: ind.id, found: false, fetched_at });
    }
  },
});
