/**
 * The collection report's schema: the `summary` of vt_get_report's output schema for a collection
 * (collection.ts makes it, collection-text.ts renders it).
 */
import { z } from 'zod';
import { daySchema } from './common.js';

const str = z.string().optional();
const count = z.number().optional();
const day = daySchema.optional();
const list = z.array(z.string()).optional();

/** A capped list of values and how many more there were. */
function listFields<K extends string>(name: K) {
  // TypeScript types a computed key of a generic name as any string: the cast names the two keys made.
  return { [name]: list, [`${name}_more`]: count } as { [P in K]: typeof list } & {
    [P in `${K}_more`]: typeof count;
  };
}

const countersSchema = z
  .object({
    files: count,
    domains: count,
    ip_addresses: count,
    urls: count,
    iocs: count,
    attack_techniques: count,
  })
  .meta({ id: 'collection_counters' });

const reportPartSchema = z.object({
  report_type: str,
  report_id: str,
  author: str,
  confidence: str,
  executive_summary: str,
  threat_scape: list,
  intended_effects: list,
  affected_systems: list,
});

const cvssSchema = z.object({ version: z.string(), score: z.number(), vector: str });

const vulnerabilityPartSchema = z.object({
  cve_id: str,
  cvss: z.array(cvssSchema).optional(),
  risk_rating: str,
  priority: str,
  exploitation_state: str,
  exploit_availability: str,
  exploitation_consequence: str,
  first_exploited: day,
  disclosed: day,
  epss: z.object({ score: z.number(), percentile: count }).optional(),
  cisa_kev_added: day,
  cisa_kev_ransomware: str,
  cwe: str,
  mitigations: list,
  executive_summary: str,
});

export const collectionSummarySchema = z.object({
  type: z.literal('collection'),
  id: z.string(),
  /** threat-actor, malware-family, campaign, report, vulnerability, software-toolkit, collection (user-made). */
  collection_type: z.string(),
  name: str,
  origin: str,
  created: day,
  updated: day,
  first_seen: day,
  last_seen: day,
  ...listFields('aliases'),
  ...listFields('merged_actors'),
  ...listFields('motivations'),
  ...listFields('source_regions'),
  ...listFields('targeted_industries'),
  ...listFields('targeted_regions'),
  ...listFields('tags'),
  /** Malware families and toolkits. */
  ...listFields('malware_roles'),
  ...listFields('operating_systems'),
  ...listFields('capabilities'),
  ...listFields('detection_names'),
  campaign_type: str,
  report: reportPartSchema.optional(),
  vulnerability: vulnerabilityPartSchema.optional(),
  counters: countersSchema.optional(),
  description: str,
  /** The description was cut to fit; detail="detailed" gives more of it. */
  description_cut: z.boolean().optional(),
  /** Relationship names that list its members and linked threats (vt_get_relationships). */
  members: list,
  linked: list,
  link: z.string(),
});
export type CollectionSummary = z.infer<typeof collectionSummarySchema>;
