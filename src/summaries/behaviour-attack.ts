/** The ATT&CK tactics and techniques of a sandbox run: from the MITRE trees and from the summary itself. */
import { TECHNIQUE_ID, tacticOf, techniqueOf } from './attack.js';
import { TACTICS } from './attack-table.js';
import { distinct, sevName } from './behaviour-lists.js';
import type { Technique } from './behaviour-schema.js';
import { arr, clean, compact, type Json, obj, severityRank } from './common.js';

/** Enterprise, mobile and ICS tactics by MITRE's name, for a technique's tactics as ids. */
const TACTIC_ID_BY_NAME = new Map(Object.values(TACTICS).map(([id, name]) => [name, id]));

/** The tactics MITRE gives a technique, as ids. */
function mitreTactics(id: string): string[] {
  return (techniqueOf(id)?.tactics ?? [])
    .map((name) => TACTIC_ID_BY_NAME.get(name))
    .filter((t): t is string => !!t);
}

/** Tactics and techniques from /behaviour_mitre_trees, merged over sandboxes. */
export function readTrees(trees: unknown): {
  tactics: Array<{ id: string; name?: string }>;
  techniques: Map<string, Technique>;
} {
  const tactics = new Map<string, { id: string; name?: string }>();
  const techniques = new Map<string, Technique>();
  for (const sandbox of Object.values(obj(trees) ?? {})) {
    for (const t of arr(obj(sandbox)?.tactics)) {
      const tac = obj(t);
      // Ids lead their lines: only ATT&CK's own forms (TA0002, T1059, T1059.001) are taken.
      const tacId = typeof tac?.id === 'string' && /^TA\d{4}$/.test(tac.id) ? tac.id : undefined;
      if (!tac || !tacId) continue;
      if (!tactics.has(tacId))
        tactics.set(tacId, compact({ id: tacId, name: tacticOf(tacId)?.name ?? clean(tac.name, 60) }));
      for (const x of arr(tac.techniques)) {
        const tech = obj(x);
        const id = typeof tech?.id === 'string' && TECHNIQUE_ID.test(tech.id) ? tech.id : undefined;
        if (!tech || !id) continue;
        const sigs = arr(tech.signatures)
          .map((s) => obj(s))
          .filter((s): s is Json => !!s)
          .sort((a, b) => severityRank(sevName(a.severity)) - severityRank(sevName(b.severity)));
        const prev = techniques.get(id);
        const severity = sevName(sigs[0]?.severity);
        const merged: Technique = compact({
          id,
          name: prev?.name ?? techniqueOf(id)?.name ?? clean(tech.name, 70),
          severity: prev && severityRank(prev.severity) <= severityRank(severity) ? prev.severity : severity,
          tactics: distinct([...(prev?.tactics ?? []), tacId]),
          seen: prev?.seen ?? clean(sigs[0]?.description, 90),
        });
        techniques.set(id, merged);
      }
    }
  }
  return { tactics: [...tactics.values()], techniques };
}

/** Techniques named in the summary itself (attack_techniques and mitre_attack_techniques). */
export function summaryTechniques(b: Json, into: Map<string, Technique>): void {
  const add = (id: string | undefined, severity: string | undefined, seen: string | undefined) => {
    if (!id || !TECHNIQUE_ID.test(id)) return;
    const prev = into.get(id);
    const better = !prev || severityRank(severity) < severityRank(prev.severity);
    into.set(
      id,
      compact({
        ...(prev ?? { id }),
        id,
        name: prev?.name ?? techniqueOf(id)?.name,
        severity: better ? (severity ?? prev?.severity) : prev?.severity,
        // A technique no tree placed takes MITRE's tactics.
        tactics: prev?.tactics ?? mitreTactics(id),
        seen: prev?.seen ?? seen,
      }),
    );
  };
  for (const [id, list] of Object.entries(obj(b.attack_techniques) ?? {})) {
    const sigs = arr(list)
      .map((s) => obj(s))
      .filter((s): s is Json => !!s)
      .sort((x, y) => severityRank(sevName(x.severity)) - severityRank(sevName(y.severity)));
    add(clean(id, 20), sevName(sigs[0]?.severity), clean(sigs[0]?.description, 90));
  }
  for (const m of arr(b.mitre_attack_techniques)) {
    const o = obj(m);
    add(clean(o?.id, 20), sevName(o?.severity), clean(o?.signature_description, 90));
  }
}
