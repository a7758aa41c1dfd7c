/**
 * Triage jobs as documents in the key's state store, so that any process (a restarted server, another
 * HTTP replica) can answer a poll and take the work over. Layout, under one job id:
 *   job:<id>          the header: its owner, status, counts, the bytes it keeps, when it stopped
 *   jobc:<id>:<n>     a chunk of CHUNK items with their states (one result rewrites one small chunk)
 *   jobx:<id>         present once its owner asked to stop it (read by the process working it)
 * Only the process holding the job's lease writes the chunks; a header that says the job is over is
 * never turned back to running (a cancel from any process is final).
 *
 * Everything read back is parsed, not trusted: a header or chunk that does not parse is treated as
 * missing. The rows are opaque here (the MCP layer decides what a row holds and parses it when it reads
 * it). This module imports nothing from MCP.
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { DAY_MS } from '../util/time.js';
import { describeError, type StateStore, type StoreHealth } from '../vt/state/store.js';
import { checkRoom, type JobLimits } from './job-bounds.js';
import {
  CHUNK,
  type Chunk,
  chunkSchema,
  headerSchema,
  type ItemState,
  isJobId,
  type JobHeader,
  type JobItem,
  type JobSnapshot,
  type JobStatus,
  newJobId,
} from './job-schemas.js';

const headerKey = (id: string) => `job:${id}`;
const chunkKey = (id: string, n: number) => `jobc:${id}:${n}`;
const cancelKey = (id: string) => `jobx:${id}`;
const HEADER_KEY = /^job:([a-z0-9]{12})$/;

export interface JobStoreOptions {
  store: StateStore;
  /** How long a finished, cancelled or paused job is kept, in ms. */
  keepMs: number;
  limits: JobLimits;
  now?: () => number;
}

const bytesOf = (s: string) => Buffer.byteLength(s, 'utf8');

/** Reads and writes jobs in the store. */
export class TriageJobs {
  readonly #store: StateStore;
  readonly #keepMs: number;
  readonly #now: () => number;
  readonly limits: JobLimits;
  /** Names this process in the lease that serialises job creation across processes. */
  readonly #creator = randomBytes(8).toString('hex');
  #creating: Promise<unknown> = Promise.resolve();

  constructor(opts: JobStoreOptions) {
    this.#store = opts.store;
    this.#keepMs = opts.keepMs;
    this.limits = opts.limits;
    this.#now = opts.now ?? Date.now;
  }

  get keepMs(): number {
    return this.#keepMs;
  }

  /**
   * How long a job's documents live past their last write: a running job is renewed at every write
   * (a week bounds one nobody works); a stopped one goes keepMs after it stopped.
   */
  #ttl(status: JobStatus): number {
    return status === 'running' ? Math.max(this.#keepMs, 7 * DAY_MS) : this.#keepMs;
  }

  /** When a stopped job's documents expire (for "when there will be room"). */
  expiresAt(h: JobHeader): number {
    return h.status === 'running' ? h.updatedAt + this.#ttl('running') : h.updatedAt + this.#keepMs;
  }

  /**
   * Stores a new job for `owner`, or throws JobLimitError naming the bound it would pass. Creation is
   * serialised across processes (a short lease), so two callers cannot both take the last place.
   */
  async create(owner: string, items: JobItem[], notes: unknown): Promise<JobHeader> {
    // One creation at a time in this process (the lease below is this process's whatever call holds
    // it, so it does not serialise calls of one process), and one at a time across processes.
    const turn = this.#creating.then(() => this.#createLocked(owner, items, notes));
    this.#creating = turn.catch(() => {});
    return turn;
  }

  async #createLocked(owner: string, items: JobItem[], notes: unknown): Promise<JobHeader> {
    const lock = 'jobs:create';
    const until = this.#now() + 5_000;
    while (!(await this.#store.lease(lock, this.#creator, 5_000, this.#now()))) {
      if (this.#now() > until) break; // a dead holder's lease lapses by then anyway
      await new Promise((r) => setTimeout(r, 20));
    }
    try {
      return await this.#create(owner, items, notes);
    } finally {
      await this.#store.releaseLease(lock, this.#creator).catch(() => {});
    }
  }

  async #create(owner: string, items: JobItem[], notes: unknown): Promise<JobHeader> {
    const now = this.#now();
    const id = newJobId();
    const kept = items;
    const chunks: string[] = [];
    for (let n = 0; n * CHUNK < kept.length; n++) {
      const part = kept.slice(n * CHUNK, (n + 1) * CHUNK);
      const chunk: Chunk = { items: part, states: part.map(() => ({ s: 'pending' as const })) };
      chunks.push(JSON.stringify(chunk));
    }
    const header: JobHeader = {
      v: 2,
      id,
      owner,
      createdAt: now,
      updatedAt: now,
      status: kept.length === 0 ? 'done' : 'running',
      total: kept.length,
      done: 0,
      failed: 0,
      bytes: 0,
      ...(notes !== undefined ? { notes } : {}),
      ...(kept.length === 0 ? { finishedAt: now } : {}),
    };
    // Each result row repeats its input: a job ends up near twice what it takes at the start.
    header.bytes = 2 * chunks.reduce((n, c) => n + bytesOf(c), 0) + bytesOf(JSON.stringify(header)) + 64;
    checkRoom(this.limits, (h) => this.expiresAt(h), await this.list(), header);
    const ttl = this.#ttl(header.status);
    for (const [n, c] of chunks.entries()) await this.#store.docPut(chunkKey(id, n), c, ttl, now);
    // The header last: a job is listed only once all its items are stored.
    await this.#store.docPut(headerKey(id), JSON.stringify(header), ttl, now);
    return header;
  }

  /** A header as stored; undefined when missing, expired, or not a header this version reads. */
  async header(id: string): Promise<JobHeader | undefined> {
    if (!isJobId(id)) return undefined;
    const raw = await this.#store.docGet(headerKey(id), this.#now());
    return raw === undefined ? undefined : parseJson(headerSchema, raw);
  }

  /** The header, for its owner only: to anyone else a job is as unknown as an id that never existed. */
  headerFor(id: string, owner: string): Promise<JobHeader | undefined> {
    return this.#steady(() => this.#headerFor(id, owner));
  }

  async #headerFor(id: string, owner: string): Promise<JobHeader | undefined> {
    const h = await this.header(id);
    return h?.owner === owner ? h : undefined;
  }

  /**
   * Where the jobs are kept, and whether that store answers now. A read that failed (`failure`) makes
   * it unavailable since now whatever the store says of itself: a job it did not give back may be there.
   */
  health(failure?: unknown): StoreHealth {
    let h: StoreHealth;
    try {
      h = this.#store.health();
    } catch (err) {
      const { kind, location } = this.#store;
      h = { kind, location, shared: kind !== 'memory' };
      failure ??= err;
    }
    if (failure === undefined || h.degradedSince !== undefined) return h;
    return { ...h, degradedSince: this.#now(), reason: h.reason ?? describeError(failure) };
  }

  /**
   * A read for an answer, made on one side of a switch: a store that moves to its stand-in in memory
   * (or back) while a job is read gives part of it from where the job is not (its header as missing,
   * its chunks as lost). Read again once; a store that switches again meanwhile is unavailable.
   */
  async #steady<T>(read: () => Promise<T>): Promise<T> {
    const since = () => {
      try {
        return this.#store.health().degradedSince;
      } catch {
        return undefined;
      }
    };
    for (let tries = 0; tries < 2; tries++) {
      const before = since();
      const out = await read();
      if (since() === before) return out;
    }
    throw new Error('the state store switched to or from memory while the job was read');
  }

  /** Every stored job's header (a few hundred at most: the bounds), without their items. */
  async list(): Promise<JobHeader[]> {
    const keys = await this.#store.docList('job:', this.#now());
    const out: JobHeader[] = [];
    for (const k of keys) {
      const id = HEADER_KEY.exec(k)?.[1];
      if (!id) continue;
      const h = await this.header(id);
      if (h) out.push(h);
    }
    return out;
  }

  /** One chunk, or undefined when the store no longer has it (or it does not parse). */
  async chunk(id: string, n: number): Promise<Chunk | undefined> {
    const raw = await this.#store.docGet(chunkKey(id, n), this.#now());
    return raw === undefined ? undefined : parseJson(chunkSchema, raw);
  }

  chunkCount(h: JobHeader): number {
    return Math.ceil(h.total / CHUNK);
  }

  /** The whole job, for an answer: every chunk, read one after the other. */
  snapshot(id: string, owner: string): Promise<JobSnapshot | undefined> {
    return this.#steady(() => this.#snapshot(id, owner));
  }

  async #snapshot(id: string, owner: string): Promise<JobSnapshot | undefined> {
    const header = await this.#headerFor(id, owner);
    if (!header) return undefined;
    const items: JobItem[] = [];
    const states: ItemState[] = [];
    let missing = 0;
    for (let n = 0; n < this.chunkCount(header); n++) {
      const chunk = await this.chunk(id, n);
      if (chunk) {
        items.push(...chunk.items);
        states.push(...chunk.states);
      } else {
        missing += Math.min(CHUNK, header.total - n * CHUNK);
      }
    }
    const cancelRequested = await this.cancelRequested(id);
    return { header, items, states, missing, cancelRequested };
  }

  /** Asks the process working the job to stop. */
  async requestCancel(id: string): Promise<void> {
    await this.#store.docPut(cancelKey(id), '1', this.#ttl('running'), this.#now());
  }

  async cancelRequested(id: string): Promise<boolean> {
    return (await this.#store.docGet(cancelKey(id), this.#now())) !== undefined;
  }

  /** Writes one chunk back (the lease holder only). */
  async putChunk(h: JobHeader, n: number, chunk: Chunk): Promise<void> {
    await this.#store.docPut(chunkKey(h.id, n), JSON.stringify(chunk), this.#ttl(h.status), this.#now());
  }

  /**
   * Writes a header with `changes`. A job the store already says is over stays over (a cancel written
   * by another process is final; a job done is never worked again): the stored status wins then, and
   * the answer is what is stored. A job that stops takes its chunks' expiry with it.
   */
  async writeHeader(h: JobHeader, changes: Partial<JobHeader> = {}): Promise<JobHeader> {
    const now = this.#now();
    const stored = await this.header(h.id);
    let next: JobHeader = { ...h, ...changes, updatedAt: now };
    if (stored && (stored.status === 'done' || stored.status === 'cancelled')) {
      next = { ...next, status: stored.status, finishedAt: stored.finishedAt ?? now };
      delete next.pausedFor;
      delete next.pausedAt;
    }
    if (next.status === 'running' && next.done + next.failed + (next.lost ?? 0) >= next.total)
      next.status = 'done';
    if ((next.status === 'done' || next.status === 'cancelled') && next.finishedAt === undefined)
      next.finishedAt = now;
    if (next.status !== 'paused') {
      delete next.pausedFor;
      delete next.pausedAt;
    }
    const ttl = this.#ttl(next.status);
    // A paused job carried on keeps its chunks as long as a running one's again, before its header says
    // it runs (no process works it until then): kept until the pause's expiry, the items it had not
    // reached yet and the results it had would go while it runs on past that time.
    if (next.status === 'running' && stored?.status === 'paused') await this.#keepChunks(next, now);
    await this.#store.docPut(headerKey(h.id), JSON.stringify(next), ttl, now);
    if (next.status !== 'running' && (stored?.status ?? 'running') === 'running') await this.expireWith(next);
    return next;
  }

  /**
   * A stopped job's chunks expire with its header (they were kept as long as a running job's). Called
   * when it stops, and again by the process that was working it when that one ends: results it wrote
   * after another process stopped the job (a cancel) were written with a running job's expiry.
   */
  async expireWith(h: JobHeader): Promise<void> {
    if (h.status === 'running') return;
    await this.#keepChunks(h, this.#now());
    await this.#store.docDelete(cancelKey(h.id));
  }

  /** Writes the job's chunks again as they are, to expire as its header does in its status. */
  async #keepChunks(h: JobHeader, now: number): Promise<void> {
    const ttl = this.#ttl(h.status);
    for (let n = 0; n < this.chunkCount(h); n++) {
      const c = await this.chunk(h.id, n);
      if (c) await this.#store.docPut(chunkKey(h.id, n), JSON.stringify(c), ttl, now);
    }
  }

  /** Counts done and failed items from the chunks themselves (a header's counts can lag or drift). */
  async recount(h: JobHeader): Promise<{ done: number; failed: number; missing: number }> {
    let done = 0;
    let failed = 0;
    let missing = 0;
    for (let n = 0; n < this.chunkCount(h); n++) {
      const c = await this.chunk(h.id, n);
      if (!c) {
        missing += Math.min(CHUNK, h.total - n * CHUNK);
        continue;
      }
      for (const s of c.states) {
        if (s.s === 'done') done++;
        else if (s.s === 'failed') failed++;
      }
    }
    return { done, failed, missing };
  }

  /** The lease a process holds while it works the job. */
  lease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.#store.lease(`job:${id}`, owner, ttlMs, this.#now());
  }

  releaseLease(id: string, owner: string): Promise<void> {
    return this.#store.releaseLease(`job:${id}`, owner);
  }
}

function parseJson<T>(schema: z.ZodType<T>, raw: string): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
