/** vt_get_report: one indicator in, a compact VirusTotal report out (the vt://{type}/{id} resources too). */
import { z } from 'zod';
import { type Detail, dateTimeSchema } from '../summaries/common.js';
import { renderReport, reportSummarySchema, summarizeReport } from '../summaries/index.js';
import type { CallOptions } from '../vt/api.js';
import { unexpectedShape, VtError } from '../vt/errors.js';
import type { Indicator } from '../vt/indicators.js';
import type { ToolContext } from './context.js';
import { defineTool } from './define.js';
import { progressFor } from './progress.js';
import type { Answer } from './respond.js';
import { detailParam, freshParam, indicatorParam, indicatorTypeSchema, typeParam } from './schemas.js';
import { notPublic, parseTarget } from './target.js';
import { reportNotFound, subjectOf } from './wording.js';

const reportOutput = z.object({
  type: indicatorTypeSchema,
  id: z.string(),
  found: z.boolean(),
  summary: reportSummarySchema.optional(),
  fetched_at: dateTimeSchema,
});
type ReportOutput = z.infer<typeof reportOutput>;

/** The report of one object: its summary and text, or found:false. vt_get_report and the report resources answer with it. */
export async function reportAnswer(
  ctx: ToolContext,
  ind: Indicator,
  detail: Detail,
  call: CallOptions,
): Promise<Answer<ReportOutput>> {
  try {
    const res = await ctx.vt.getObject(ind, call);
    const summary = summarizeReport(res.value, detail);
    if (!summary) throw unexpectedShape('a file, URL, domain or IP address report');
    return {
      structured: {
        type: ind.type,
        id: summary.id,
        found: true,
        summary,
        fetched_at: res.fetchedAt.toISOString(),
      },
      text: (s, max) => (s.summary ? renderReport(s.summary, max) : ''),
      source: res,
    };
  } catch (err) {
    if (!(err instanceof VtError) || err.kind !== 'not_found') throw err;
    const said = reportNotFound(ctx, `the ${subjectOf(ind)}`);
    return {
      structured: { type: ind.type, id: ind.id, found: false, fetched_at: new Date().toISOString() },
      text: () => said,
    };
  }
}

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
  outputSchema: reportOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const ind = parseTarget(args.indicator, args.type);
    const privateWhy = notPublic(ind);
    if (privateWhy) {
      // A private, documentation or other special-purpose address: a lookup would spend quota on nothing.
      return {
        structured: { type: ind.type, id: ind.id, found: false, fetched_at: new Date().toISOString() },
        text: () => privateWhy,
      };
    }
    return reportAnswer(ctx, ind, args.detail ?? 'concise', {
      signal: extra.mcpReq.signal,
      fresh: args.fresh === true,
      onWait: progressFor(extra).onWait,
    });
  },
});
