/** An analysis (the result of a submission or re-scan): status, verdict counts, what flagged it. */
import { z } from 'zod';
import type { Analysis } from '../vt/api.js';
import {
  cap,
  clean,
  compact,
  dateTimeSchema,
  detectionStats,
  detectionStatsSchema,
  engineResults,
  guiLink,
  isoDate,
  obj,
  statsLine,
  verdictOf,
  verdictSchema,
} from './common.js';
import { flaggedSchema } from './network.js';
import { joinMore, q, TextBuilder } from './text.js';

export const analysisSummarySchema = z.object({
  id: z.string(),
  /** VirusTotal's status: queued, in-progress or completed. */
  status: z.string(),
  completed: z.boolean(),
  date: dateTimeSchema.optional(),
  verdict: verdictSchema.optional(),
  stats: detectionStatsSchema.optional(),
  flagged_by: z.array(flaggedSchema).optional(),
  flagged_more: z.number().optional(),
  target: z.object({ type: z.enum(['file', 'url']), id: z.string(), url: z.string().optional() }).optional(),
  link: z.string().optional(),
});
type AnalysisSummary = z.infer<typeof analysisSummarySchema>;

/** The analysis object and its `meta`, where VirusTotal says what it is of. */
export function summarizeAnalysis({ object: data, meta }: Analysis): AnalysisSummary {
  const a = data.attributes ?? {};
  const status = clean(a.status, 20) ?? 'unknown';
  const completed = status === 'completed';
  const stats = completed ? detectionStats(a.stats) : undefined;
  const flagged = cap(
    engineResults(a.results).byEngine.map((e) => ({ engine: e.engine, label: e.label })),
    10,
  );
  const url = obj(meta.url_info);
  const file = obj(meta.file_info);
  const target: AnalysisSummary['target'] = url
    ? compact({ type: 'url' as const, id: clean(url.id, 64) ?? '', url: clean(url.url, 300) })
    : file
      ? { type: 'file', id: clean(file.sha256, 64) ?? '' }
      : undefined;
  return compact({
    id: clean(data.id, 200) ?? '',
    status,
    completed,
    date: isoDate(a.date),
    verdict: completed ? verdictOf(stats) : undefined,
    stats,
    flagged_by: flagged.items,
    flagged_more: flagged.more || undefined,
    target,
    link: target?.id ? guiLink(target.type, target.id) : undefined,
  });
}

export function renderAnalysisText(s: AnalysisSummary, maxChars: number): string {
  const t = new TextBuilder();
  t.line(`Analysis ${s.id}: ${s.status.toUpperCase()}${s.date ? ` (${s.date})` : ''}`);
  if (s.target) t.line(`Target: ${s.target.type} ${s.target.url ? q(s.target.url) : s.target.id}`);
  if (s.completed) {
    t.line(statsLine(s.verdict ?? 'no_verdict', s.stats, s.date));
    if (s.flagged_by?.length) {
      t.line(
        `Flagged by: ${joinMore(
          s.flagged_by.map((f) => `${f.engine} (${f.label})`),
          s.flagged_more ?? 0,
        )}`,
      );
    }
    if (s.target) t.line(`Full report: vt_get_report with ${q(s.target.url ?? s.target.id)}.`);
  } else {
    t.line('Not finished yet: call vt_get_analysis again with this id in a minute.');
  }
  if (s.link) t.line(`Link: ${s.link}`);
  return t.render(maxChars);
}
