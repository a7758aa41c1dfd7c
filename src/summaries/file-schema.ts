/**
 * The file report's schema: the `summary` of vt_get_report's output schema for files, with the detailed
 * view's file structure (file.ts makes it, file-details.ts the structure part).
 */
import { z } from 'zod';
import {
  analysisAgeShape,
  countedSchema,
  dateTimeSchema,
  detectionStatsSchema,
  verdictSchema,
} from './common.js';
import { pivotSchema } from './pivots.js';

const str = z.string();
const count = z.number();

/** The detailed view's file structure and engine list. */
const fileDetailsSchema = z.object({
  magic: str.optional(),
  type_tags: z.array(str).optional(),
  trid: z.array(str).optional(),
  packers: z.array(str).optional(),
  detectiteasy: z.array(str).optional(),
  compile_time: dateTimeSchema.optional(),
  first_seen_in_the_wild: dateTimeSchema.optional(),
  unique_sources: count.optional(),
  pe_sections: z
    .array(
      z.object({
        name: str.optional(),
        virtual_size: count.optional(),
        raw_size: count.optional(),
        entropy: count.optional(),
        flags: str.optional(),
      }),
    )
    .optional(),
  pe_sections_more: count.optional(),
  pe_imports: z.array(z.object({ library: str, count, functions: z.array(str) })).optional(),
  pe_imports_more: count.optional(),
  pe_exports: z.array(str).optional(),
  pe_resource_langs: z.array(str).optional(),
  pe_overlay: z.object({ size: count.optional(), type: str.optional() }).optional(),
  signers: z
    .array(
      z.object({
        name: str.optional(),
        status: str.optional(),
        valid_from: str.optional(),
        valid_to: str.optional(),
        thumbprint: str.optional(),
      }),
    )
    .optional(),
  android_package: str.optional(),
  android_main_activity: str.optional(),
  android_permissions_count: count.optional(),
  exiftool: z.record(str, str).optional(),
  engines: z.array(str).optional(),
});
export type FileDetails = z.infer<typeof fileDetailsSchema>;

export const fileSummarySchema = z.object({
  type: z.literal('file'),
  id: str,
  sha256: str.optional(),
  md5: str.optional(),
  sha1: str.optional(),
  verdict: verdictSchema,
  stats: detectionStatsSchema.optional(),
  threat_label: str.optional(),
  threat_categories: z.array(countedSchema).optional(),
  threat_families: z.array(countedSchema).optional(),
  type_description: str.optional(),
  size: count.optional(),
  meaningful_name: str.optional(),
  names: z.array(str).optional(),
  names_more: count.optional(),
  first_submission: dateTimeSchema.optional(),
  last_submission: dateTimeSchema.optional(),
  last_analysis: dateTimeSchema.optional(),
  ...analysisAgeShape,
  times_submitted: count.optional(),
  reputation: count.optional(),
  votes: z.object({ harmless: count, malicious: count }).optional(),
  tags: z.array(str).optional(),
  detection_labels: z.array(countedSchema).optional(),
  detection_labels_more: count.optional(),
  sandbox_verdicts: z
    .array(z.object({ sandbox: str, category: str, malware: z.array(str).optional() }))
    .optional(),
  yara_rules: z.array(z.object({ rule: str, ruleset: str.optional(), source: str.optional() })).optional(),
  yara_more: count.optional(),
  sigma_rules: z.array(z.object({ title: str, level: str.optional() })).optional(),
  sigma_more: count.optional(),
  ids_alerts: z.array(z.object({ message: str, severity: str.optional() })).optional(),
  ids_more: count.optional(),
  /** VirusTotal's Code Insight: a model's reading of the code, cut to an excerpt (untrusted text). */
  code_insight: z.object({ verdict: str.optional(), analysis: str, source: str.optional() }).optional(),
  signature: z
    .object({
      status: str.optional(),
      signers: str.optional(),
      product: str.optional(),
      description: str.optional(),
    })
    .optional(),
  similarity: z
    .object({
      imphash: str.optional(),
      vhash: str.optional(),
      ssdeep: str.optional(),
      tlsh: str.optional(),
      authentihash: str.optional(),
      main_icon_dhash: str.optional(),
      telfhash: str.optional(),
    })
    .optional(),
  /** Ready VT Intelligence queries from the similarity features, for vt_search. */
  pivots: z.array(pivotSchema).optional(),
  link: str,
  details: fileDetailsSchema.optional(),
});
export type FileSummary = z.infer<typeof fileSummarySchema>;
