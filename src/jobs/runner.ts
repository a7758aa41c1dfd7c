/**
 * Works triage jobs in the background, in whichever process holds a job's lease: it looks up the
 * pending items through the mediated gateway (so the shared limiter paces them, fairly between
 * clients), writes each result as it comes, renews its lease while it works, and lets go when the job
 * is done, cancelled, paused (the day's cap, or its owner's share of the day while others are active)
 * or the process stops. Another process takes a job over when its lease lapses: a restarted server
 * resumes its unfinished jobs, and over HTTP a surviving replica finishes a dead one's.
 *
 * It works at most `maxJobs` jobs at once, and reads a job a chunk at a time: a store full of jobs
 * costs a start no more than an empty one (the scan reads headers only), and a job in progress holds
 * one or two chunks in memory, not its thousand rows.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { CauseLog } from '../vt/state/cause-log.js';
import { describeError, utcDay } from '../vt/state/store.js';
import type { JobHeader, JobItem, PauseReason } from './job-schemas.js';
import { JobWork } from './runner-work.js';
import type { TriageJobs } from './triage-jobs.js';

/** One lookup for the job's owner: the row for the item, or a VtError (not_found is an answer). */
export type Lookup = (item: JobItem, owner: string, signal: AbortSignal) => Promise<unknown>;
/** The row for an item VirusTotal does not know. */
export type NotFoundRow = (item: JobItem) => unknown;
/**
 * Whether a job of this owner may spend another lookup now: 'ok' (then `done` is called when that
 * lookup is over), or why it pauses.
 */
export interface Admit {
  /** 'ok', why the job pauses, or ms to wait before asking again (its owner's minute is spent). */
  admit(owner: string): 'ok' | PauseReason | number;
  done(): void;
  /** Whether a job paused for its share may carry on now (asks only: spends and marks nothing). */
  allows(owner: string): boolean;
}

export interface RunnerOptions {
  jobs: TriageJobs;
  lookup: Lookup;
  notFoundRow: NotFoundRow;
  /** Lookups of one job in flight at once (the limiter paces them anyway). */
  concurrency: number;
  /** Jobs this process works at once; the others wait for a place. */
  maxJobs?: number;
  /** The day's cap and the owner's share of it; every lookup is admitted by it first. */
  admit?: Admit;
  /** False while the shared store cannot be trusted (it is answering from memory): no job is worked. */
  canWork?: () => boolean;
  /** How long a lease holds without renewal; a dead process's jobs move on after this. */
  leaseMs?: number;
  /** How often the runner looks for jobs to run (new, orphaned, or paused by a share that allows them now). */
  scanEveryMs?: number;
  /** Attempts of an item that fails with a transient error before it is marked failed. */
  maxTries?: number;
  now?: () => number;
  log?: (msg: string) => void;
}

export class JobRunner {
  readonly owner = randomUUID();
  readonly #o: Required<Omit<RunnerOptions, 'log' | 'now' | 'admit' | 'canWork'>> & {
    now: () => number;
    log: (m: string) => void;
    admit: Admit;
    canWork: () => boolean;
  };
  readonly #active = new Map<string, { abort: AbortController; done: Promise<void> }>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #abandoned = false;
  readonly #scanFailures = new CauseLog();
  /** Listeners told whenever a job this process runs records a result. */
  readonly #listeners = new Set<(jobId: string) => void>();

  constructor(opts: RunnerOptions) {
    this.#o = {
      leaseMs: 15_000,
      scanEveryMs: 2_000,
      maxJobs: 4,
      // The gateway already retries a passing fault twice: one more try of the item is enough.
      maxTries: 2,
      now: Date.now,
      log: () => {},
      admit: { admit: () => 'ok', done: () => {}, allows: () => true },
      canWork: () => true,
      ...opts,
    };
  }

  /** Starts scanning for work. */
  start(): this {
    this.#schedule(0);
    return this;
  }

  /** Runs this job now if no process holds it and there is a place (called right after a job is created). */
  kick(jobId: string): void {
    if (!this.#stopped) void this.#tryRun(jobId).catch(() => {});
  }

  /** Called with a job's id whenever this process records a result for it. */
  onProgress(fn: (jobId: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  isRunning(jobId: string): boolean {
    return this.#active.has(jobId);
  }

  /** Jobs this process is working now. */
  get activeJobs(): number {
    return this.#active.size;
  }

  /**
   * Stops taking work, lets the lookups in flight finish and be written (bounded), and frees every
   * lease, so another process takes the jobs over at once.
   */
  async stop(drainMs = 5_000): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    const running = [...this.#active.values()];
    const drained = Promise.all(running.map((r) => r.done));
    await Promise.race([drained, sleep(drainMs, undefined, { ref: false })]);
    for (const r of running) r.abort.abort();
    await Promise.race([drained, sleep(200, undefined, { ref: false })]);
  }

  /**
   * Stops at once without freeing any lease, as a process that dies would: another process takes the
   * jobs over only when their leases lapse. For tests of that handover.
   */
  abandon(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#abandoned = true;
    for (const r of this.#active.values()) r.abort.abort();
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#scan(), ms);
    this.#timer.unref();
  }

  async #scan(): Promise<void> {
    try {
      if (this.#o.canWork()) {
        const now = this.#o.now();
        const headers = (await this.#o.jobs.list())
          .filter((h) => h.status === 'running' || this.#mayResume(h, now))
          .sort((a, b) => a.createdAt - b.createdAt);
        for (const h of headers) {
          if (this.#active.size >= this.#o.maxJobs || this.#stopped) break;
          if (!this.#active.has(h.id)) await this.#tryRun(h.id);
        }
      }
    } catch (err) {
      // A store that cannot be read fails every scan (every 2 s): one line per cause per period.
      const reason = describeError(err);
      const again = this.#scanFailures.tell(reason, this.#o.now());
      if (again !== undefined) this.#o.log(`triage jobs: scan failed: ${reason}${again}`);
    }
    this.#schedule(this.#o.scanEveryMs);
  }

  /** A job paused for its share carries on by itself the same UTC day, once its share allows; never a later day. */
  #mayResume(h: JobHeader, now: number): boolean {
    if (h.status !== 'paused' || h.pausedFor !== 'share' || h.pausedAt === undefined) return false;
    return utcDay(h.pausedAt) === utcDay(now) && this.#o.admit.allows(h.owner);
  }

  async #tryRun(id: string): Promise<void> {
    if (this.#active.has(id) || this.#stopped || this.#active.size >= this.#o.maxJobs) return;
    if (!this.#o.canWork()) return;
    if (!(await this.#o.jobs.lease(id, this.owner, this.#o.leaseMs))) return;
    // Read after the lease: what another process wrote before letting go is what counts.
    let header = await this.#o.jobs.header(id);
    const now = this.#o.now();
    const runnable = header && (header.status === 'running' || this.#mayResume(header, now));
    if (!header || !runnable || this.#active.has(id) || this.#stopped) {
      await this.#o.jobs.releaseLease(id, this.owner);
      return;
    }
    if (header.status === 'paused') header = await this.#o.jobs.writeHeader(header, { status: 'running' });
    if (header.status !== 'running') {
      await this.#o.jobs.releaseLease(id, this.owner);
      return;
    }
    const abort = new AbortController();
    // Every lookup in flight listens on it (gateway, limiter, client): up to `concurrency` at once.
    setMaxListeners(Math.max(10, this.#o.concurrency * 4), abort.signal);
    const entry = { abort, done: Promise.resolve() };
    this.#active.set(id, entry);
    const started = header;
    entry.done = this.#run(started, abort.signal)
      .catch((err: unknown) => {
        this.#o.log(`triage job ${id}: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(async () => {
        this.#active.delete(id);
        if (!this.#abandoned) await this.#o.jobs.releaseLease(id, this.owner).catch(() => {});
        // A place is free: the next job waiting for one need not wait for the next scan.
        if (!this.#stopped) this.#schedule(0);
      });
  }

  async #run(header: JobHeader, signal: AbortSignal): Promise<void> {
    const jobs = this.#o.jobs;
    const id = header.id;
    // The lease is renewed while the job runs; losing it (the store says another holds it) stops us.
    let lost = false;
    const renew = setInterval(
      () => {
        jobs
          .lease(id, this.owner, this.#o.leaseMs)
          .then((held) => {
            if (!held) lost = true;
          })
          .catch(() => {});
      },
      Math.max(100, Math.floor(this.#o.leaseMs / 3)),
    );
    renew.unref();
    try {
      await new JobWork(
        this.#o,
        header,
        signal,
        () => lost || this.#stopped,
        (jobId) => {
          for (const fn of this.#listeners) fn(jobId);
        },
      ).run();
    } finally {
      clearInterval(renew);
    }
  }
}
