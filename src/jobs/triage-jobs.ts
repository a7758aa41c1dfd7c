/**
 * Triage jobs as documents in the key's state store, so that any process (a restarted server, another
 * HTTP replica) can answer a poll and take the work over. Layout, under one job id:
 *   job:<id>          the job's header: status, totals, plan, when it may run next
 *   job:<id>:c:<n>    a chunk of CHUNK items with their states (so one result rewrites one small chunk)
 *   job:<id>:cancel   present once someone asked to stop it (written by any process, read by the runner)
 * Only the process holding the job's lease writes the header and the chunks.
 *
 * The rows are opaque JSON here: the MCP layer decides what a row holds (it summarises the objects).
 * This module imports nothing from MCP.
 */
import { randomBytes } from 'node:crypto';
import { DAY_MS } from '../util/time.js';
import type { StateStore } from '../vt/state/store.js';

/** Items per chunk document: small enough to rewrite on every result, few enough to read at once. */
export const CHUNK = 50;

export interface JobItem {
  /** As the user wrote it (capped), for the answer. */
  input: string;
  type: string;
  /** VirusTotal's id and collection: what is looked up. */
  id: string;
  collection: string;
}

/**
 * What a failed item keeps of its error besides the kind: the facts the answer words it from
 * (src/tools/wording.ts): "could not be reached (ECONNREFUSED), no quota was used" is not "VirusTotal is
 * unavailable", and a rejected key is told as such.
 */
export interface FailureWhy {
  reason?: string;
  networkCode?: string;
  vtCode?: string;
  timeoutSeconds?: number;
}

export type ItemState =
  | { s: 'pending'; tries?: number }
  | { s: 'done'; at: number; row: unknown }
  | { s: 'failed'; at: number; error: string; why?: FailureWhy; row?: unknown };

export type JobStatus = 'running' | 'done' | 'cancelled';

export interface JobHeader {
  v: 1;
  id: string;
  createdAt: number;
  updatedAt: number;
  status: JobStatus;
  total: number;
  done: number;
  failed: number;
  /** Items not in the job at all (skipped, not indicators), for the answer. Opaque here. */
  notes?: unknown;
  /** Set while the daily cap holds the job: it carries on at this time (00:00 UTC). */
  notBefore?: number;
  finishedAt?: number;
}

interface Chunk {
  items: JobItem[];
  states: ItemState[];
}

export interface JobSnapshot {
  header: JobHeader;
  items: JobItem[];
  states: ItemState[];
  cancelRequested: boolean;
}

/** 16 characters of base32-ish randomness: unguessable, short to send back. */
export function newJobId(): string {
  return randomBytes(10).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12).toLowerCase();
}

export const isJobId = (s: string): boolean => /^[a-z0-9]{12}$/.test(s);

const headerKey = (id: string) => `job:${id}`;
const chunkKey = (id: string, n: number) => `job:${id}:c:${n}`;
const cancelKey = (id: string) => `job:${id}:cancel`;

export interface JobStoreOptions {
  store: StateStore;
  /** How long a finished (or cancelled) job is kept, in ms. */
  keepMs: number;
  now?: () => number;
}

/** Reads and writes jobs in the store. */
export class TriageJobs {
  readonly #store: StateStore;
  readonly #keepMs: number;
  readonly #now: () => number;

  constructor(opts: JobStoreOptions) {
    this.#store = opts.store;
    this.#keepMs = opts.keepMs;
    this.#now = opts.now ?? Date.now;
  }

  /** A running job stays while it runs; its documents live `keepMs` past the last write either way. */
  #ttl(status: JobStatus): number {
    // A running job's documents are renewed at every write; a week bounds one nobody ever finishes.
    return status === 'running' ? Math.max(this.#keepMs, 7 * DAY_MS) : this.#keepMs;
  }

  async create(items: JobItem[], notes: unknown): Promise<JobHeader> {
    const now = this.#now();
    const id = newJobId();
    const header: JobHeader = {
      v: 1,
      id,
      createdAt: now,
      updatedAt: now,
      status: items.length === 0 ? 'done' : 'running',
      total: items.length,
      done: 0,
      failed: 0,
      ...(notes !== undefined ? { notes } : {}),
      ...(items.length === 0 ? { finishedAt: now } : {}),
    };
    const ttl = this.#ttl(header.status);
    for (let n = 0; n * CHUNK < items.length; n++) {
      const part = items.slice(n * CHUNK, (n + 1) * CHUNK);
      const chunk: Chunk = { items: part, states: part.map(() => ({ s: 'pending' })) };
      await this.#store.docPut(chunkKey(id, n), JSON.stringify(chunk), ttl, now);
    }
    // The header last: a job is listed only once all its items are stored.
    await this.#store.docPut(headerKey(id), JSON.stringify(header), ttl, now);
    return header;
  }

  async header(id: string): Promise<JobHeader | undefined> {
    const raw = await this.#store.docGet(headerKey(id), this.#now());
    return raw === undefined ? undefined : (JSON.parse(raw) as JobHeader);
  }

  async snapshot(id: string): Promise<JobSnapshot | undefined> {
    const now = this.#now();
    const header = await this.header(id);
    if (!header) return undefined;
    const items: JobItem[] = [];
    const states: ItemState[] = [];
    for (let n = 0; n * CHUNK < header.total; n++) {
      const raw = await this.#store.docGet(chunkKey(id, n), now);
      const chunk: Chunk = raw ? (JSON.parse(raw) as Chunk) : { items: [], states: [] };
      items.push(...chunk.items);
      states.push(...chunk.states);
    }
    const cancelRequested = (await this.#store.docGet(cancelKey(id), now)) !== undefined;
    return { header, items, states, cancelRequested };
  }

  /** Ids of the jobs still running (their header says so), oldest first. */
  async running(): Promise<string[]> {
    const now = this.#now();
    const keys = await this.#store.docList('job:', now);
    const ids = keys.filter((k) => /^job:[a-z0-9]{12}$/.test(k)).map((k) => k.slice(4));
    const out: Array<{ id: string; createdAt: number }> = [];
    for (const id of ids) {
      const h = await this.header(id);
      if (h?.status === 'running') out.push({ id, createdAt: h.createdAt });
    }
    return out.sort((a, b) => a.createdAt - b.createdAt).map((j) => j.id);
  }

  /** Asks for the job to stop (any process may); the runner marks it cancelled. */
  async requestCancel(id: string): Promise<void> {
    await this.#store.docPut(cancelKey(id), '1', this.#ttl('running'), this.#now());
  }

  async cancelRequested(id: string): Promise<boolean> {
    return (await this.#store.docGet(cancelKey(id), this.#now())) !== undefined;
  }

  /** Writes one item's new state (the lease holder only). */
  async setState(id: string, index: number, state: ItemState, snapshot: JobSnapshot): Promise<void> {
    snapshot.states[index] = state;
    const n = Math.floor(index / CHUNK);
    const chunk: Chunk = {
      items: snapshot.items.slice(n * CHUNK, (n + 1) * CHUNK),
      states: snapshot.states.slice(n * CHUNK, (n + 1) * CHUNK),
    };
    await this.#store.docPut(
      chunkKey(id, n),
      JSON.stringify(chunk),
      this.#ttl(snapshot.header.status),
      this.#now(),
    );
  }

  /** Recounts and writes the header (the lease holder only). */
  async writeHeader(snapshot: JobSnapshot, changes: Partial<JobHeader> = {}): Promise<JobHeader> {
    const now = this.#now();
    const h = snapshot.header;
    const done = snapshot.states.filter((s) => s.s === 'done').length;
    const failed = snapshot.states.filter((s) => s.s === 'failed').length;
    const next: JobHeader = { ...h, ...changes, done, failed, updatedAt: now };
    if (next.status === 'running' && done + failed >= next.total) next.status = 'done';
    if (next.status !== 'running' && next.finishedAt === undefined) next.finishedAt = now;
    if (next.status !== 'running') delete next.notBefore;
    snapshot.header = next;
    const ttl = this.#ttl(next.status);
    await this.#store.docPut(headerKey(h.id), JSON.stringify(next), ttl, now);
    if (next.status !== 'running') {
      // The chunks expire with the header.
      for (let n = 0; n * CHUNK < next.total; n++) {
        const chunk: Chunk = {
          items: snapshot.items.slice(n * CHUNK, (n + 1) * CHUNK),
          states: snapshot.states.slice(n * CHUNK, (n + 1) * CHUNK),
        };
        await this.#store.docPut(chunkKey(h.id, n), JSON.stringify(chunk), ttl, now);
      }
    }
    return next;
  }

  /** The lease a process holds while it runs the job. */
  lease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.#store.lease(`job:${id}`, owner, ttlMs, this.#now());
  }

  releaseLease(id: string, owner: string): Promise<void> {
    return this.#store.releaseLease(`job:${id}`, owner);
  }
}
