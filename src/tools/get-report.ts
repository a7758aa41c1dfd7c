/**
 * vt_get_report: one indicator in, a compact VirusTotal report out (answers/report.ts makes the answer,
 * which the vt://{type}/{id} resources give too); a collection id gets the collection's report, an
 * ATT&CK technique id an offline answer.
 */
import { collectionAnswer, reportAnswer, reportOutput, techniqueAnswer } from '../answers/report.js';
import { notPublic, parseAnyTarget } from '../answers/target.js';
import { defineTool } from './define.js';
import { progressFor } from './progress.js';
import { detailParam, freshParam, reportIndicatorParam, typeParam } from './schemas.js';

export const getReportTool = defineTool({
  name: 'vt_get_report',
  title: 'VirusTotal report',
  description:
    'Look up one file hash, URL, domain or IP on VirusTotal: verdict (engines flagging it, when analysed), ' +
    'threat label, names, ISO dates, detections, sandbox/YARA/Sigma/IDS hits, similarity hashes and ready ' +
    'vt_search pivots for files; categories, DNS, certificate, registration and ASN for network items. ' +
    'Also a collection id (threat actor, malware family, campaign, report, CVE: who, targets, counts, members) ' +
    'and an ATT&CK technique id (offline). One lookup (none if cached). For several indicators use ' +
    'vt_triage. "Not found" means VirusTotal never saw it, not that it is safe.',
  inputSchema: { indicator: reportIndicatorParam, type: typeParam, detail: detailParam, fresh: freshParam },
  outputSchema: reportOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const target = parseAnyTarget(args.indicator, args.type);
    if (target.type === 'attack_technique') return techniqueAnswer(target.id);
    const call = {
      signal: extra.mcpReq.signal,
      fresh: args.fresh === true,
      onWait: progressFor(extra).onWait,
    };
    if (target.type === 'collection') return collectionAnswer(ctx, target, args.detail ?? 'concise', call);
    const ind = target;
    const privateWhy = notPublic(ind);
    if (privateWhy) {
      // A private, documentation or other special-purpose address: a lookup would spend quota on nothing.
      return {
        structured: { type: ind.type, id: ind.id, found: false, fetched_at: new Date().toISOString() },
        text: () => privateWhy,
      };
    }
    return reportAnswer(ctx, ind, args.detail ?? 'concise', call);
  },
});
