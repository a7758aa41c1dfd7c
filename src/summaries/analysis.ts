/** An analysis (the result of a submission or re-scan): status, verdict counts, what flagged it. */
import {
  cap,
  clean,
  compact,
  type DetectionStats,
  detectionStats,
  engineResults,
  guiLink,
  isoDate,
  obj,
  type Verdict,
  verdictOf,
} from './common.js';
import { statsLine } from './file.js';
import { joinMore, q, TextBuilder } from './text.js';

export interface AnalysisSummary {
  id: string;
  status: string;
  completed: boolean;
  date?: string;
  verdict?: Verdict;
  stats?: DetectionStats;
  flagged_by?: Array<{ engine: string; label: string }>;
  flagged_more?: number;
  target?: { type: 'file' | 'url'; id: string; url?: string };
  link?: string;
}

/** Takes the whole response body: the target is in its `meta`, not in the object. */
export function summarizeAnalysis(body: unknown): AnalysisSummary | undefined {
  const b = obj(body);
  const data = obj(b?.data);
  if (!data) return undefined;
  const a = obj(data.attributes) ?? {};
  const meta = obj(b?.meta);
  const status = clean(a.status, 20) ?? 'unknown';
  const completed = status === 'completed';
  const stats = completed ? detectionStats(a.stats) : undefined;
  const flagged = cap(
    engineResults(a.results).byEngine.map((e) => ({ engine: e.engine, label: e.label })),
    10,
  );
  const url = obj(meta?.url_info);
  const file = obj(meta?.file_info);
  const target: AnalysisSummary['target'] = url
    ? compact({ type: 'url' as const, id: clean(url.id, 64) ?? '', url: clean(url.url, 300) })
    : file
      ? { type: 'file', id: clean(file.sha256, 64) ?? '' }
      : undefined;
  return compact({
    id: clean(String(data.id ?? ''), 200) ?? '',
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
