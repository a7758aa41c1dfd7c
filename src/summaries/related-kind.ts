/** What every related-object entry is: its schema, summariser and line, and the pieces they share. */
import { z } from 'zod';
import type { VtObject } from '../vt/api.js';
import type { IndicatorType } from '../vt/indicators.js';
import { daySchema, detectionStats, type Json, num, verdictOf, verdictSchema } from './common.js';

/** Which end a relationship was read from, so a resolution shows the other end. */
export type Origin = IndicatorType | undefined;

/** No line is longer than this, so a page of N items has a known worst case. */
export const LINE_MAX = 320;

export const str = z.string().optional();
export const count = z.number().optional();
export const day = daySchema.optional();
/** An object's detections: the plain verdict and the engine counts it comes from (when analysed). */
export const detections = { verdict: verdictSchema.optional(), malicious: count, total: count };
/** Set by some relationships and searches (similar_files, fuzzy-hash searches). */
export const context = { similarity: count, confidence: count };

export interface Kind<S> {
  schema: z.ZodType<S>;
  /** `a` is the object's attributes, `c` its context attributes, `id` its cleaned id. */
  summarise(o: VtObject, a: Json, c: Json, id: string, origin: Origin): S;
  line(s: S): string;
}

export function kind<S>(k: Kind<S>): Kind<S> {
  return k;
}

/** The detection fields of an object whose stats are at `key` of its attributes. */
export function detectionsOf(a: Json, key = 'last_analysis_stats') {
  const stats = detectionStats(a[key]);
  return stats
    ? { verdict: verdictOf(stats), malicious: stats.malicious, total: stats.total }
    : { verdict: undefined, malicious: undefined, total: undefined };
}

export function contextOf(c: Json) {
  return { similarity: num(c.similarity_score), confidence: num(c.confidence) };
}

export function join(bits: Array<string | undefined | false>): string {
  return bits.filter((b): b is string => !!b).join(' · ');
}

export function ratioText(s: {
  malicious?: number | undefined;
  total?: number | undefined;
}): string | undefined {
  return s.malicious !== undefined && s.total !== undefined
    ? `${s.malicious}/${s.total} malicious`
    : undefined;
}

export function contextText(s: { similarity?: number | undefined; confidence?: number | undefined }) {
  if (s.similarity !== undefined) return `similarity ${s.similarity}`;
  return s.confidence !== undefined ? `confidence ${s.confidence}` : undefined;
}

/** The type leads the line: only a plain VT type name may stand there. */
export function typeOf(o: VtObject): string {
  return typeof o.type === 'string' && /^[a-z][a-z0-9_]{0,39}$/.test(o.type) ? o.type : 'object';
}
