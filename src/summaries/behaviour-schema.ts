/** The behaviour summary's zod schema: also vt_get_behaviour's output schema. */
import { z } from 'zod';

const str = z.string();
const strs = z.array(str).optional();
const more = z.number().optional();

const techniqueSchema = z.object({
  id: str,
  /** MITRE's name when ATT&CK v18.1 has the id; otherwise the sandbox's. */
  name: str.optional(),
  severity: str.optional(),
  /** Ids of the tactics it serves: the sandboxes' mapping, else MITRE's. */
  tactics: strs,
  /** The most severe sandbox observation behind it (the sandbox's words; detailed answers only). */
  seen: str.optional(),
});
export type Technique = z.infer<typeof techniqueSchema>;

export const behaviourSummarySchema = z.object({
  /** The file's SHA-256, when the hash asked with was one (neither response names the file). */
  id: str.optional(),
  /** The hash the behaviour was asked for. */
  input: str,
  verdicts: strs,
  verdict_labels: strs,
  verdict_confidence: z.number().optional(),
  tags: strs,
  tactics: z.array(z.object({ id: str, name: str.optional() })).optional(),
  techniques: z.array(techniqueSchema).optional(),
  techniques_more: more,
  /** "available", "empty" (no mapping) or "unavailable" (the trees could not be fetched). */
  attack_tree: z.enum(['available', 'empty', 'unavailable']),
  dns: z.array(z.object({ host: str, ips: strs })).optional(),
  dns_more: more,
  ip_traffic: strs,
  ip_traffic_more: more,
  http: strs,
  http_more: more,
  /** JA3 fingerprints with the server names they were sent to. */
  tls: strs,
  tls_more: more,
  processes_created: strs,
  processes_created_more: more,
  processes_injected: strs,
  processes_injected_more: more,
  /** Terminated processes that are not among those created or the command lines. */
  processes_terminated: strs,
  processes_terminated_more: more,
  /** Command lines not shown as processes created, the most telling first. */
  command_lines: strs,
  command_lines_more: more,
  files_dropped: z
    .array(z.object({ path: str.optional(), sha256: str.optional(), type: str.optional() }))
    .optional(),
  files_dropped_more: more,
  registry_set: z.array(z.object({ key: str, value: str.optional() })).optional(),
  registry_set_more: more,
  mutexes: strs,
  mutexes_more: more,
  sigma: z.array(z.object({ title: str, level: str.optional() })).optional(),
  sigma_more: more,
  ids: z.array(z.object({ message: str, severity: str.optional() })).optional(),
  ids_more: more,
  signatures: z.array(z.object({ name: str, format: str.optional() })).optional(),
  signatures_more: more,
  /** Fields recorded but not shown, with their sizes. */
  not_shown: z.record(str, z.number()).optional(),
  /** Which answer this is: "concise" keeps the first items of each list, "detailed" more. */
  detail: z.enum(['concise', 'detailed']).optional(),
});
export type BehaviourSummary = z.infer<typeof behaviourSummarySchema>;
