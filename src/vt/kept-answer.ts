/**
 * What this server keeps of an answer from VirusTotal: the objects as they came, but for their
 * per-engine verdicts (`last_analysis_results`), of which only the engines that flagged something stay.
 *
 * Why: a file, URL, domain or IP object lists every engine that looked, 70-odd entries of one shape,
 * most of them "undetected" or "type-unsupported": over half of a typical file report's JSON and a third
 * of it compressed. What an engine found is read only where it flagged (malicious or suspicious); how
 * many engines said what is `last_analysis_stats`, which stays whole. Applied where an answer arrives,
 * before it is cached or answered, so a fresh answer and a cached one are the same object, and every
 * cache (this process's, the SQLite file, Redis) holds less.
 */

const FLAGGED = new Set(['malicious', 'suspicious']);

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The verdicts of engines that flagged; the same object when every engine did (nothing to leave out). */
function flaggedOnly(results: JsonObject): JsonObject {
  let dropped = false;
  const kept: JsonObject = {};
  for (const [engine, r] of Object.entries(results)) {
    if (isObject(r) && typeof r.category === 'string' && !FLAGGED.has(r.category)) dropped = true;
    else kept[engine] = r;
  }
  return dropped ? kept : results;
}

/** One VT object with its verdicts cut down; the same object when there was nothing to leave out. */
function keptObject(o: unknown): unknown {
  if (!isObject(o) || !isObject(o.attributes)) return o;
  const results = o.attributes.last_analysis_results;
  if (!isObject(results)) return o;
  const kept = flaggedOnly(results);
  if (kept === results) return o;
  return { ...o, attributes: { ...o.attributes, last_analysis_results: kept } };
}

/**
 * What is kept of a parsed answer (`{data: object}` or `{data: [objects]}`, as reports, relationship
 * pages and searches come): the same value when nothing in it is left out, so the caller can keep the
 * text it received instead of writing it again.
 */
export function keptAnswer(body: unknown): unknown {
  if (!isObject(body)) return body;
  const data = body.data;
  if (Array.isArray(data)) {
    let changed = false;
    const items = data.map((item) => {
      const k = keptObject(item);
      if (k !== item) changed = true;
      return k;
    });
    return changed ? { ...body, data: items } : body;
  }
  const k = keptObject(data);
  return k === data ? body : { ...body, data: k };
}
