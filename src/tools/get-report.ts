/** vt_get_report: one indicator in, a compact VirusTotal report out. */
import { z } from 'zod';
import { type Detail, summarizeReport } from '../summaries/index.js';
import { invalidInput, VtError } from '../vt/errors.js';
import { type IndicatorType, parseIndicator } from '../vt/indicators.js';
import { vtPath } from '../vt/paths.js';
import { defineTool } from './define.js';
import { progressFor } from './progress.js';
import { ok, sourceLine } from './respond.js';
import { detailParam, freshParam, indicatorParam, typeParam } from './schemas.js';

const NOT_FOUND_WHY: Record<IndicatorType, string> = {
  file: 'No one has submitted this file',
  url: 'No one has submitted this URL',
  domain: 'VirusTotal has no report for this domain',
  ip_address: 'VirusTotal has no report for this IP address',
};

export const getReportTool = defineTool({
  name: 'vt_get_report',
  title: 'VirusTotal report',
  description:
    'Look up one file hash, URL, domain or IP on VirusTotal and get a compact report: verdict with engine ' +
    'counts, threat label, names, ISO dates, tags, detection labels, sandbox/YARA/Sigma/IDS hits and ' +
    'similarity hashes for files; categories, DNS, certificate, registration and ASN for network items. ' +
    'One API call. For many indicators use vt_triage. "Not found" means VirusTotal never saw it, not that it is safe.',
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
    const parsed = parseIndicator(args.indicator, args.type as IndicatorType | undefined);
    if (!parsed.ok) throw invalidInput(parsed.reason);
    const ind = parsed.indicator;
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
        `Not found: VirusTotal has never seen the ${ind.type.replace('_', ' ')} ${ind.value}. ` +
        `${NOT_FOUND_WHY[ind.type]}, so there is no verdict. This is not evidence that it is safe: ` +
        'new, rare and targeted artifacts are often unknown.';
      return ok(ctx, text, { type: ind.type, id: ind.id, found: false, fetched_at });
    }
  },
});
