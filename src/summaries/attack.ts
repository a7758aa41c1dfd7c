/**
 * MITRE ATT&CK names, offline: a technique or tactic that VirusTotal gives only by id is shown with its
 * name (and a technique with its tactics) without a request. The table is MITRE's ATT&CK v18.1
 * (attack-table.ts, generated; © 2025 The MITRE Corporation, reproduced with its permission).
 */
import { TACTICS, TECHNIQUES } from './attack-table.js';

export const ATTACK_VERSION = '18.1';

export interface Technique {
  /** T1055, T1055.012 (enterprise and mobile), T0822 (ICS). */
  id: string;
  name: string;
  /** The parent technique's name, for a sub-technique ("Process Injection" for T1055.012). */
  parent?: string;
  /** Tactic names, in the table's order ("Defense Evasion", "Privilege Escalation"). */
  tactics: string[];
  /** MITRE revoked or deprecated it. */
  retired: boolean;
  url: string;
}

const BY_ID = new Map(TECHNIQUES.map((t) => [t[0], t]));

export { TECHNIQUE_ID } from '../vt/indicators.js';

/** The technique with this id (any case), or undefined when ATT&CK v18.1 has none. */
export function techniqueOf(id: string): Technique | undefined {
  const key = id.trim().toUpperCase();
  const row = BY_ID.get(key);
  if (!row) return undefined;
  const [tid, name, tactics, retired] = row;
  const dot = tid.indexOf('.');
  const parent = dot > 0 ? BY_ID.get(tid.slice(0, dot))?.[1] : undefined;
  return {
    id: tid,
    name,
    ...(parent ? { parent } : {}),
    tactics: tactics
      .split(',')
      .filter(Boolean)
      .map((s) => tacticOf(s)?.name ?? s),
    retired: retired === 1,
    url: `https://attack.mitre.org/techniques/${tid.replace('.', '/')}`,
  };
}

/** A tactic by its shortname ("defense-evasion") or id ("TA0005"). */
export function tacticOf(nameOrId: string): { id: string; name: string } | undefined {
  const k = nameOrId.trim().toLowerCase();
  const byShort = TACTICS[k];
  if (byShort) return { id: byShort[0], name: byShort[1] };
  for (const [id, name] of Object.values(TACTICS)) if (id.toLowerCase() === k) return { id, name };
  return undefined;
}

/** "T1055.012 Process Hollowing (Process Injection)": how a technique is named in one line of text. */
export function techniqueLabel(id: string): string {
  const t = techniqueOf(id);
  if (!t) return id;
  return `${t.id} ${t.parent ? `${t.parent}: ${t.name}` : t.name}`;
}
