/** Reading the object a tool is about: indicators parsed (and non-public addresses refused) before any request. */
import { z } from 'zod';
import {
  type Indicator,
  type IndicatorType,
  nonPublicIp,
  parseIndicator,
  parseThreatRef,
  type ThreatRef,
} from '../vt/indicators.js';
import { collectionIdProblem, indicatorProblemText, invalidInput } from './wording.js';

/** file, url, domain or ip_address: a type of indicator, as parameters and answers name it. */
export const indicatorTypeSchema = z.enum(['file', 'url', 'domain', 'ip_address']);

/**
 * parseIndicator, plus VT's own URL ids: relationship and search answers name URLs by the SHA-256
 * of the URL, and with type "url" that id is taken as is (a bare 64-hex string is otherwise a file).
 */
export function parseTarget(raw: string, type?: IndicatorType): Indicator {
  const s = typeof raw === 'string' ? raw.trim() : '';
  if (type === 'url' && /^[0-9a-f]{64}$/i.test(s)) {
    const id = s.toLowerCase();
    return { type: 'url', id, value: id, collection: 'urls' };
  }
  const parsed = parseIndicator(raw, type);
  if (!parsed.ok) throw invalidInput(indicatorProblemText(parsed.problem));
  return parsed.indicator;
}

/** Why an indicator is not worth a lookup (a non-public address: VirusTotal has nothing on it), if it is not. */
export function notPublic(ind: Indicator): string | undefined {
  const why = ind.type === 'ip_address' ? nonPublicIp(ind.id) : undefined;
  return (
    why &&
    `${ind.id} is ${why}, not a public internet address, so VirusTotal has nothing on it. Not looked up.`
  );
}

/** parseTarget for tools that pivot from an object: a non-public address is refused before any request. */
export function parsePublicTarget(raw: string, type?: IndicatorType): Indicator {
  const ind = parseTarget(raw, type);
  const why = notPublic(ind);
  if (why) throw invalidInput(why);
  return ind;
}

/**
 * What vt_get_report and vt_get_relationships are pointed at: a collection or ATT&CK technique id (read
 * first: no indicator looks like one), else an indicator as parseTarget reads it.
 */
export function parseAnyTarget(raw: string, type?: IndicatorType | 'collection'): Indicator | ThreatRef {
  const ref = parseThreatRef(raw, type);
  if (ref) return ref;
  if (type === 'collection')
    throw invalidInput(collectionIdProblem(typeof raw === 'string' ? raw.trim() : ''));
  return parseTarget(raw, type);
}

/** parseAnyTarget for tools that pivot from an object: a non-public address is refused before any request. */
export function parsePublicAnyTarget(
  raw: string,
  type?: IndicatorType | 'collection',
): Indicator | ThreatRef {
  const t = parseAnyTarget(raw, type);
  if (t.type === 'collection' || t.type === 'attack_technique') return t;
  const why = notPublic(t);
  if (why) throw invalidInput(why);
  return t;
}
