/**
 * What a stored triage job is (see triage-jobs.ts for where each part is kept): its header, its chunks
 * of items with their states, a failed item's kind and reason as VtError names them. Each is a zod
 * schema: what is read back is parsed, and what this version does not know reads as unknown, never as a
 * value it is not.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { VtErrorKind, VtErrorReason } from '../vt/errors.js';

/** Items per chunk document: small enough to rewrite on every result, few enough to read at once. */
export const CHUNK = 50;

const itemSchema = z.object({
  input: z.string(),
  type: z.enum(['file', 'url', 'domain', 'ip_address']),
  id: z.string(),
  collection: z.enum(['files', 'urls', 'domains', 'ip_addresses']),
});
export type JobItem = z.infer<typeof itemSchema>;

/**
 * VtError's kinds and reasons, each as itself, as a failed item stores them: a kind or reason added to
 * VtError and not here, or one here that VtError lacks, fails to compile.
 */
const FAILURE_KINDS = {
  not_configured: 'not_configured',
  not_found: 'not_found',
  auth: 'auth',
  forbidden: 'forbidden',
  quota: 'quota',
  invalid_argument: 'invalid_argument',
  transient: 'transient',
  cancelled: 'cancelled',
} as const satisfies { [K in VtErrorKind]: K };

const FAILURE_REASONS = {
  timeout: 'timeout',
  unreachable: 'unreachable',
  connection: 'connection',
  bad_json: 'bad_json',
  too_large: 'too_large',
  unexpected_shape: 'unexpected_shape',
  foreign_upload_url: 'foreign_upload_url',
  key_user_path: 'key_user_path',
} as const satisfies { [K in VtErrorReason]: K };

/**
 * A stored name that should be one of `values`: one this version does not know (written by another
 * version) reads as undefined, an unknown failure.
 */
function knownName<const T extends Record<string, string>>(values: T) {
  const names = z.enum(values);
  return (stored: string | undefined) => {
    const name = names.safeParse(stored);
    return name.success ? name.data : undefined;
  };
}

/**
 * What a failed item keeps of its error besides the kind: the facts the answer words it from
 * (src/answers/wording.ts): "could not be reached (ECONNREFUSED), no quota was used" is not "VirusTotal is
 * unavailable", and a rejected key is told as such.
 */
const failureWhySchema = z.object({
  reason: z.string().transform(knownName(FAILURE_REASONS)).optional(),
  networkCode: z.string().optional(),
  vtCode: z.string().optional(),
  timeoutSeconds: z.number().optional(),
});
export type FailureWhy = z.infer<typeof failureWhySchema>;

const itemStateSchema = z.discriminatedUnion('s', [
  z.object({ s: z.literal('pending'), tries: z.number().int().nonnegative().optional() }),
  z.object({ s: z.literal('done'), at: z.number(), row: z.unknown() }),
  z.object({
    s: z.literal('failed'),
    at: z.number(),
    /**
     * The error's kind; undefined for a kind this version does not know, which a chunk written back
     * leaves out (and still reads).
     */
    error: z.string().optional().transform(knownName(FAILURE_KINDS)),
    why: failureWhySchema.optional(),
    row: z.unknown().optional(),
  }),
]);
export type ItemState = z.infer<typeof itemStateSchema>;

export const chunkSchema = z
  .object({ items: z.array(itemSchema).max(CHUNK), states: z.array(itemStateSchema).max(CHUNK) })
  .refine((c) => c.items.length === c.states.length, 'a state per item');
export type Chunk = z.infer<typeof chunkSchema>;

/**
 * running: worked by whichever process holds its lease. paused: it cannot go on now, and is not worked:
 * `daily`, the day's cap is spent (only its owner carries it on, on a later day's quota); `share`, it
 * reached its share of the day while other clients are active (it carries on by itself the same day
 * when its share allows). done, cancelled: over.
 */
export const JOB_STATUSES = ['running', 'paused', 'done', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type PauseReason = 'daily' | 'share';

export const headerSchema = z.object({
  v: z.literal(2),
  id: z.string(),
  /** Who started it: only they see it (see TriageJobs.headerFor). */
  owner: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
  status: z.enum(JOB_STATUSES),
  pausedFor: z.enum(['daily', 'share']).optional(),
  pausedAt: z.number().optional(),
  total: z.number().int().nonnegative(),
  done: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  /** Items the store lost (their chunk could not be read back): counted so that the tally adds up. */
  lost: z.number().int().nonnegative().optional(),
  /** What its documents take in the store (for the bounds), as of its last write. */
  bytes: z.number().int().nonnegative(),
  /** Items not in the job at all (skipped, not indicators), for the answer. Opaque here. */
  notes: z.unknown().optional(),
  finishedAt: z.number().optional(),
});
export type JobHeader = z.infer<typeof headerSchema>;

export interface JobSnapshot {
  header: JobHeader;
  items: JobItem[];
  states: ItemState[];
  /** Items whose chunk could not be read back (the store lost it): counted, never shown as pending. */
  missing: number;
  cancelRequested: boolean;
}

/** 12 characters of base32-ish randomness (60 bits): unguessable, short to send back. */
export function newJobId(): string {
  return randomBytes(10).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12).toLowerCase();
}

export const isJobId = (s: string): boolean => /^[a-z0-9]{12}$/.test(s);
