/**
 * Sandbox behaviour: the merged behaviour summary of a file (often ~200 KB) and its MITRE ATT&CK
 * trees, reduced to what an analyst acts on. Every list is capped and what was cut is counted; the
 * concise answer keeps the first few of each list, the detailed one more of each and the sandboxes'
 * own words for each technique.
 * Everything here was produced by running the sample, so paths, command lines, registry values and
 * hostnames are attacker-controlled text: cleaned, capped, and labelled as such in the text. What the
 * text cannot hold is in VirusTotal's own sandbox reports, and the last line links to them.
 * Technique and tactic names are MITRE's (attack.ts, offline): VirusTotal's names are used only for an
 * id MITRE does not have, and then quoted like any other untrusted text.
 * The schema is in behaviour-schema.ts, VT JSON → summary in behaviour-summarize.ts (its lists ordered by
 * behaviour-lists.ts, its techniques read by behaviour-attack.ts), summary → text in behaviour-render.ts.
 */

export { behaviourLink, renderBehaviourText } from './behaviour-render.js';
export { behaviourSummarySchema } from './behaviour-schema.js';
export { summarizeBehaviour } from './behaviour-summarize.js';
