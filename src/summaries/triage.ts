/**
 * A triage row: one indicator's verdict in one line, built from the object's item (the same summary
 * relationship pages and searches use). Pure: the job runner stores rows, vt_triage renders them.
 */
import { z } from 'zod';
import type { VtObject } from '../vt/api.js';
import { clean, daySchema, verdictSchema } from './common.js';
import { summarizeObject } from './related.js';
import { q } from './text.js';

export const outcomeSchema = z.enum([...verdictSchema.options, 'not_found', 'error']);
export type Outcome = z.infer<typeof outcomeSchema>;

export const triageRowSchema = z.object({
  input: z.string(),
  type: z.enum(['file', 'url', 'domain', 'ip_address']),
  id: z.string(),
  verdict: outcomeSchema,
  malicious: z.number().optional(),
  total: z.number().optional(),
  label: z.string().optional(),
  first_seen: daySchema.optional(),
  /** For domains: the registration date, which is not when VirusTotal first saw it. */
  registered: daySchema.optional(),
  analysed: daySchema.optional(),
  error: z.string().optional(),
  /** Other hashes of the same file in the job's input (one row per file, however many were given). */
  also_given_as: z.array(z.string()).optional(),
});
export type TriageRow = z.infer<typeof triageRowSchema>;
type RowType = TriageRow['type'];

/** Most dangerous first. */
export const RANK: Record<Outcome, number> = {
  malicious: 0,
  suspicious: 1,
  undetected: 2,
  no_verdict: 3,
  not_found: 4,
  error: 5,
};

/** A row shows at most this much of its input. */
const SHOWN_INPUT_CHARS = 200;

export function triageRow(input: string, type: RowType, id: string, o: VtObject): TriageRow {
  const item = summarizeObject(o);
  if (!item) return { input, type, id, verdict: 'error', error: 'unexpected report shape' };
  // VirusTotal's consensus label only: one engine's name for a thing is not a threat label.
  const label = item.type === 'file' || item.type === 'url' ? item.threat_label : undefined;
  const firstSeen = item.type === 'file' || item.type === 'url' ? item.first_seen : undefined;
  const registered = item.type === 'domain' ? item.created : undefined;
  return {
    input,
    type,
    id: item.id,
    verdict: item.verdict ?? 'no_verdict',
    ...(item.total !== undefined && item.total > 0 ? { malicious: item.malicious, total: item.total } : {}),
    ...(label ? { label } : {}),
    ...(firstSeen ? { first_seen: firstSeen } : {}),
    ...(registered ? { registered } : {}),
    ...(item.analysed ? { analysed: item.analysed } : {}),
  };
}

export function notFoundRow(input: string, type: RowType, id: string): TriageRow {
  return { input, type, id, verdict: 'not_found' };
}

/** Most dangerous first; ties by how many engines flag it, then as given. */
export function byDanger(a: TriageRow, b: TriageRow): number {
  return RANK[a.verdict] - RANK[b.verdict] || (b.malicious ?? 0) - (a.malicious ?? 0);
}

export function triageLine(r: TriageRow): string {
  const verdict = r.verdict.toUpperCase().replace('_', ' ');
  const ratio = r.total !== undefined ? ` ${r.malicious}/${r.total}` : '';
  // URLs in backticks: chat clients then show them as text, not as links to click.
  const input = clean(r.input, SHOWN_INPUT_CHARS) ?? '';
  const value = r.type === 'url' ? `\`${input}\`` : input;
  const shown = r.type === 'file' && r.input.toLowerCase() !== r.id ? `${value} (sha256 ${r.id})` : value;
  const bits = [
    `${verdict}${ratio}`,
    `${r.type.replace('_address', '')} ${shown}`,
    r.also_given_as?.length &&
      `also given as ${r.also_given_as.map((a) => clean(a, SHOWN_INPUT_CHARS)).join(', ')}`,
    r.label && q(r.label),
    r.first_seen && `first seen ${r.first_seen}`,
    r.registered && `registered ${r.registered}`,
    r.analysed && `analysed ${r.analysed}`,
    r.error && clean(r.error, 120),
  ].filter(Boolean);
  return `- ${bits.join(' · ')}`;
}
