/**
 * Indicators for a batch (vt_triage): a list taken entry by entry, or pasted text mined for them
 * (extractIndicators), each looked up once however it was written, up to a cap; what is not an
 * indicator, or nothing to look up, or a file name, is set aside and counted. Pure: no I/O, no wording.
 */
import { extractIndicators, type Indicator, nonPublicIp, parseIndicator } from './indicators.js';

export interface Item {
  /** As given (a list entry) or as read (the canonical form of what was found in a text). */
  input: string;
  ind: Indicator;
  /** Where it stands in the input, as written there: the token in a text, the entry in a list. */
  at: string;
}

export interface Collected {
  items: Item[];
  rejected: string[];
  skipped: string[];
  /** Non-public IPs and email addresses: nothing VirusTotal could tell. */
  notLookedUp: string[];
  /** Beyond the per-call maximum: returned as unchecked. */
  overflow: Item[];
  /** Inputs that name an indicator already found (the same id, however it was written). */
  merged: number;
  fromText: boolean;
}

/**
 * A list is taken as given (each entry must be an indicator); text is mined for indicators. The first
 * `max` distinct ones are the items; the rest are the overflow.
 */
export function collect(input: string[] | string, max: number): Collected {
  const rejected: string[] = [];
  let skipped: string[] = [];
  let notLookedUp: string[] = [];
  const found: Item[] = [];
  if (typeof input === 'string') {
    const ex = extractIndicators(input);
    skipped = ex.skipped;
    notLookedUp = ex.notLookedUp;
    ex.indicators.forEach((ind, i) => {
      found.push({ input: ind.value, ind, at: ex.tokens[i] ?? ind.value });
    });
  } else {
    for (const raw of input) {
      const p = parseIndicator(raw);
      const why = p.ok && p.indicator.type === 'ip_address' ? nonPublicIp(p.indicator.id) : undefined;
      if (p.ok && why) notLookedUp.push(`${p.indicator.id} (${why.replace(/^an? |^the /, '')})`);
      else if (p.ok) found.push({ input: raw.trim(), ind: p.indicator, at: raw.trim() });
      else if (raw.trim() !== '') rejected.push(raw);
    }
  }
  // Duplicates (the same id, however it was written) are looked up once.
  const seen = new Set<string>();
  const unique = found.filter(({ ind }) => {
    const k = `${ind.type}:${ind.id}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return {
    items: unique.slice(0, max),
    rejected,
    skipped,
    notLookedUp,
    overflow: unique.slice(max),
    merged: found.length - unique.length,
    fromText: typeof input === 'string',
  };
}
