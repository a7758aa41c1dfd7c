/**
 * The report of one object, as vt_get_report and the vt://{type}/{id} resources give it: its summary
 * and text, or found:false; a collection's report, and an ATT&CK technique answered offline; and the
 * output schema that describes them.
 */
import { z } from 'zod';
import { ATTACK_VERSION } from '../summaries/attack.js';
import {
  collectionSummarySchema,
  renderCollectionText,
  summarizeCollection,
} from '../summaries/collection.js';
import { type Detail, dateTimeSchema } from '../summaries/common.js';
import { renderReport, reportSummarySchema, summarizeReport } from '../summaries/index.js';
import { renderTechniqueText, summarizeTechnique, techniqueSummarySchema } from '../summaries/technique.js';
import type { CallOptions } from '../vt/api.js';
import { unexpectedShape, VtError } from '../vt/errors.js';
import type { CollectionRef, Indicator } from '../vt/indicators.js';
import type { ToolContext } from './context.js';
import type { Answer } from './respond.js';
import { indicatorTypeSchema } from './target.js';
import {
  collectionForbidden,
  collectionNotFound,
  reportNotFound,
  subjectOf,
  ToolError,
  techniqueNotFound,
} from './wording.js';

export const reportOutput = z.object({
  type: z.enum([...indicatorTypeSchema.options, 'collection', 'attack_technique']),
  id: z.string(),
  found: z.boolean(),
  // The four reports' union, and the two kinds that are not indicators.
  summary: z
    .discriminatedUnion('type', [
      ...reportSummarySchema.options,
      collectionSummarySchema,
      techniqueSummarySchema,
    ])
    .optional(),
  fetched_at: dateTimeSchema,
});
type ReportOutput = z.infer<typeof reportOutput>;

/** found:false, and the sentence that says what that means for this kind of object. */
function notFoundAnswer(type: ReportOutput['type'], id: string, said: string): Answer<ReportOutput> {
  return { structured: { type, id, found: false, fetched_at: new Date().toISOString() }, text: () => said };
}

/** The report of one object: its summary and text, or found:false. vt_get_report and the report resources answer with it. */
export async function reportAnswer(
  ctx: ToolContext,
  ind: Indicator,
  detail: Detail,
  call: CallOptions,
): Promise<Answer<ReportOutput>> {
  try {
    const res = await ctx.vt.getObject(ind, call);
    // The age of the last analysis is the one thing in a summary that depends on the time of asking.
    const summary = summarizeReport(res.value, detail, Date.now());
    if (!summary) throw unexpectedShape('a file, URL, domain or IP address report');
    return {
      structured: {
        type: ind.type,
        id: summary.id,
        found: true,
        summary,
        fetched_at: res.fetchedAt.toISOString(),
      },
      // The summary made above, not s.summary: that is typed as any report kind, collections included.
      text: (_s, max) => renderReport(summary, max, { submissions: ctx.config.enableSubmissions }),
      source: res,
    };
  } catch (err) {
    if (!(err instanceof VtError) || err.kind !== 'not_found') throw err;
    return notFoundAnswer(ind.type, ind.id, reportNotFound(ctx, `the ${subjectOf(ind)}`));
  }
}

/** A collection's report: one lookup (none if cached); a key without access is told what grants it. */
export async function collectionAnswer(
  ctx: ToolContext,
  ref: CollectionRef,
  detail: Detail,
  call: CallOptions,
): Promise<Answer<ReportOutput>> {
  try {
    const res = await ctx.vt.getCollection(ref.id, call);
    const summary = summarizeCollection(res.value, detail);
    return {
      structured: {
        type: 'collection',
        id: summary.id || ref.id,
        found: true,
        summary,
        fetched_at: res.fetchedAt.toISOString(),
      },
      text: (s, max) =>
        s.summary?.type === 'collection' ? renderCollectionText(s.summary, max, detail) : '',
      source: res,
    };
  } catch (err) {
    if (err instanceof VtError && err.kind === 'forbidden') {
      throw new ToolError(collectionForbidden(ref), { upstream: err });
    }
    if (!(err instanceof VtError) || err.kind !== 'not_found') throw err;
    return notFoundAnswer('collection', ref.id, collectionNotFound(ctx, ref.id));
  }
}

/** An ATT&CK technique, from the bundled table: no request, whatever the id. */
export function techniqueAnswer(id: string): Answer<ReportOutput> {
  const summary = summarizeTechnique(id);
  if (!summary) return notFoundAnswer('attack_technique', id, techniqueNotFound(id, ATTACK_VERSION));
  return {
    structured: {
      type: 'attack_technique',
      id: summary.id,
      found: true,
      summary,
      fetched_at: new Date().toISOString(),
    },
    text: (s, max) => (s.summary?.type === 'attack_technique' ? renderTechniqueText(s.summary, max) : ''),
  };
}
