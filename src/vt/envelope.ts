/**
 * The JSON:API envelope of VirusTotal's answers, read once, here, by tolerant schemas: unknown fields
 * pass, fields VirusTotal may omit are optional, and a field of the wrong type reads as absent rather
 * than failing the answer (one malformed item of a page is an empty item, not a failed page). What an
 * object's attributes hold is left to the summarisers, which read every field defensively.
 */
import { z } from 'zod';

/** Optional, and absent when malformed. */
function tolerant<T extends z.ZodType>(schema: T) {
  return schema.optional().catch(undefined);
}

const jsonObject = z.record(z.string(), z.unknown());
export type JsonObject = z.infer<typeof jsonObject>;

/** VT's error body, and the error of one item or one relationship block. */
const errorBody = z.looseObject({
  code: tolerant(z.string()),
  message: tolerant(z.string()),
});

/** An object or a descriptor (type and id only): file, url, domain, ip_address, resolution, comment... */
const vtObject = z.looseObject({
  type: tolerant(z.string()),
  id: tolerant(z.union([z.string(), z.number()])),
  attributes: tolerant(jsonObject),
  context_attributes: tolerant(jsonObject),
  relationships: tolerant(jsonObject),
  error: tolerant(errorBody),
});
export type VtObject = z.infer<typeof vtObject>;

/** `data` of a collection: a list, one object (one-to-one relationships) or null; bad items read as {}. */
const objectList = z
  .preprocess(
    (v) => (v === null || v === undefined ? [] : Array.isArray(v) ? v : [v]),
    z.array(vtObject.catch({})),
  )
  .catch([]);

const pageMeta = z.looseObject({
  cursor: z.unknown().optional(),
  count: tolerant(z.number()),
  total_hits: tolerant(z.number()),
  /** Only the demo's stand-in sends it: false for a page it holds no recording of. */
  recorded: tolerant(z.boolean()),
});

/** GET /{collection}/{id}, /analyses/{id}: one object (and, for analyses, what it was about in `meta`). */
export const objectEnvelope = z.looseObject({ data: vtObject, meta: tolerant(jsonObject) });

/** A relationship page or a search page. */
export const listEnvelope = z.looseObject({ data: objectList, meta: tolerant(pageMeta) });

/** One block of `relationships` in an object fetched with ?relationships=a,b: descriptors and counts. */
export const relationshipBlock = z.looseObject({
  data: objectList,
  meta: tolerant(pageMeta),
  error: tolerant(errorBody),
});

/** Behaviour summary and ATT&CK trees: one plain object in `data` (absent or malformed: undefined). */
export const dataObjectEnvelope = z.looseObject({ data: tolerant(jsonObject) });

/** /files/upload_url: the URL to send a large file to. */
export const stringEnvelope = z.looseObject({ data: tolerant(z.string()) });

const usedAllowed = z.object({ used: z.number(), allowed: z.number() });

/** /users/{key}/overall_quotas: per quota name, the user's and the group's used/allowed. */
export const quotasEnvelope = z.looseObject({
  data: z
    .record(
      z.string(),
      z.looseObject({ user: tolerant(usedAllowed), group: tolerant(usedAllowed) }).catch({}),
    )
    .catch({}),
});

/** A submission's answer: the analysis it started. */
export const submittedEnvelope = z.looseObject({
  data: tolerant(z.looseObject({ id: tolerant(z.union([z.string(), z.number()])) })),
});
