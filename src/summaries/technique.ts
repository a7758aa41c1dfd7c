/**
 * An ATT&CK technique, answered offline: its name, parent, tactics and MITRE page from the bundled
 * ATT&CK table (attack.ts), and the VirusTotal search that finds files showing it. No request is made:
 * VirusTotal's own attack_technique objects are MITRE's text, which the table already names.
 */
import { z } from 'zod';
import { ATTACK_VERSION, techniqueOf } from './attack.js';
import { TextBuilder } from './text.js';

export const techniqueSummarySchema = z.object({
  type: z.literal('attack_technique'),
  id: z.string(),
  name: z.string(),
  /** For a sub-technique: its parent's id and name. */
  parent_id: z.string().optional(),
  parent: z.string().optional(),
  tactics: z.array(z.string()),
  /** MITRE revoked or deprecated it. */
  retired: z.boolean().optional(),
  /** ICS techniques (T0800–T0899) are a matrix of their own. */
  matrix: z.enum(['enterprise_or_mobile', 'ics']),
  url: z.string(),
  attack_version: z.string(),
  /** The vt_search query for files whose sandbox behaviour maps to it (VT Intelligence keys). */
  search: z.string(),
});
export type TechniqueSummary = z.infer<typeof techniqueSummarySchema>;

/** The technique with this id (any case), or undefined when ATT&CK v18.1 has none. */
export function summarizeTechnique(id: string): TechniqueSummary | undefined {
  const t = techniqueOf(id);
  if (!t) return undefined;
  const dot = t.id.indexOf('.');
  return {
    type: 'attack_technique',
    id: t.id,
    name: t.name,
    ...(dot > 0 && t.parent ? { parent_id: t.id.slice(0, dot), parent: t.parent } : {}),
    tactics: t.tactics,
    ...(t.retired ? { retired: true } : {}),
    matrix: t.id.startsWith('T0') ? 'ics' : 'enterprise_or_mobile',
    url: t.url,
    attack_version: ATTACK_VERSION,
    search: `attack_technique:${t.id}`,
  };
}

export function renderTechniqueText(s: TechniqueSummary, maxChars: number): string {
  const t = new TextBuilder();
  const parent = s.parent_id && s.parent ? ` (sub-technique of ${s.parent_id} ${s.parent})` : '';
  t.line(`ATT&CK technique ${s.id} ${s.name}${parent}${s.matrix === 'ics' ? ' · ICS matrix' : ''}`);
  if (s.retired) {
    t.line(
      'MITRE has revoked or deprecated it: reports may still use the id, new mappings use its replacement.',
    );
  }
  t.line(`Tactics: ${s.tactics.length ? s.tactics.join(', ') : 'none listed'}`);
  t.line(
    `Samples: vt_search "${s.search}" finds files whose sandbox behaviour maps to it (VT Intelligence key); ` +
      'vt_get_behaviour of a file lists the techniques it showed.',
  );
  t.line(
    `Answered offline from MITRE ATT&CK v${s.attack_version} (© The MITRE Corporation), no VirusTotal lookup.`,
  );
  t.line(`Link: ${s.url}`);
  return t.render(maxChars);
}
