/**
 * Runs triage jobs in the background, in whichever process holds a job's lease: it looks up the
 * pending items through the mediated gateway (so the shared limiter and daily cap pace it), writes
 * each result as it comes, renews its lease while it works, and lets go when the job is done,
 * cancelled, held by the daily cap (it carries on after 00:00 UTC) or the process stops. Another
 * process takes a job over when its lease lapses: a restarted server resumes its unfinished jobs,
 * and over HTTP a surviving replica finishes a dead one's.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { VtError } from '../vt/errors.js';
import type { FailureWhy, ItemState, JobItem, JobSnapshot, TriageJobs } from './triage-jobs.js';

/** One lookup: the row for the item, or a VtError (not_found is an answer, not a failure). */
export type Lookup = (item: JobItem, signal: AbortSignal) => Promise<unknown>;
/** The row for an item VirusTotal does not know. */
export type NotFoundRow = (item: JobItem) => unknown;

export interface RunnerOptions {
  jobs: TriageJobs;
  lookup: Lookup;
  notFoundRow: NotFoundRow;
  /** Lookups of one job in flight at once (the limiter paces them anyway). */
  concurrency: number;
  /** How long a lease holds without renewal; a dead process's jobs move on after this. */
  leaseMs?: number;
  /** How often the runner looks for jobs to run (new, orphaned, or due after the daily cap). */
  scanEveryMs?: number;
  /** Attempts of an item that fails with a transient error before it is marked failed. */
  maxTries?: number;
  now?: () => number;
  log?: (msg: string) => void;
}

export class JobRunner {
  readonly owner = randomUUID();
  readonly #o: Required<Omit<RunnerOptions, 'log' | 'now'>> & { now: () => number; log: (m: string) => void };
  readonly #active = new Map<string, { abort: AbortController; done: Promise<void> }>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #abandoned = false;
  /** Listeners told whenever a job this process runs records a result. */
  readonly #listeners = new Set<(jobId: string) => void>();

  constructor(opts: RunnerOptions) {
    this.#o = {
      leaseMs: 15_000,
      scanEveryMs: 2_000,
      // The gateway already retries a passing fault twice: one more try of the item is enough.
      maxTries: 2,
      now: Date.now,
      log: () => {},
      ...opts,
    };
  }

  /** Starts scanning for work. */
  start(): this {
    this.#schedule(0);
    return this;
  }

  /** Runs this job now if no process holds it (called right after a job is created). */
  kick(jobId: string): void {
    if (!this.#stopped) void this.#tryRun(jobId);
  }

  /** Called with a job's id whenever this process records a result for it. */
  onProgress(fn: (jobId: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  isRunning(jobId: string): boolean {
    return this.#active.has(jobId);
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
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
    await Promise.race([drained, timeout]);
    for (const r of running) r.abort.abort();
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 200).unref())]);
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
      const ids = await this.#o.jobs.running();
      for (const id of ids) if (!this.#active.has(id)) await this.#tryRun(id);
    } catch (err) {
      this.#o.log(`triage jobs: scan failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.#schedule(this.#o.scanEveryMs);
  }

  async #tryRun(id: string): Promise<void> {
    if (this.#active.has(id) || this.#stopped) return;
    const header = await this.#o.jobs.header(id);
    if (header?.status !== 'running') return;
    if (header.notBefore !== undefined && header.notBefore > this.#o.now()) return;
    if (!(await this.#o.jobs.lease(id, this.owner, this.#o.leaseMs))) return;
    if (this.#active.has(id) || this.#stopped) {
      await this.#o.jobs.releaseLease(id, this.owner);
      return;
    }
    const abort = new AbortController();
    // Every lookup in flight listens on it (gateway, limiter, client): up to `concurrency` at once.
    setMaxListeners(Math.max(10, this.#o.concurrency * 4), abort.signal);
    const entry = { abort, done: Promise.resolve() };
    this.#active.set(id, entry);
    entry.done = this.#run(id, abort.signal)
      .catch((err: unknown) => {
        this.#o.log(`triage job ${id}: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(async () => {
        this.#active.delete(id);
        if (!this.#abandoned) await this.#o.jobs.releaseLease(id, this.owner).catch(() => {});
      });
  }

  async #run(id: string, signal: AbortSignal): Promise<void> {
    const jobs = this.#o.jobs;
    const snap = await jobs.snapshot(id);
    if (snap?.header.status !== 'running') return;
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
      await this.#work(id, snap, signal, () => lost);
    } finally {
      clearInterval(renew);
    }
  }

  async #work(id: string, snap: JobSnapshot, signal: AbortSignal, lost: () => boolean): Promise<void> {
    const jobs = this.#o.jobs;
    const pending = snap.states.flatMap((s, i) => (s.s === 'pending' ? [i] : []));
    let next = 0;
    let heldUntil: number | undefined;
    let cancelled = false;
    let keyError: VtError | undefined;
    // Header writes are serialised: results arrive from several lookups at once.
    let writing: Promise<unknown> = Promise.resolve();
    const writeHeader = (changes = {}) => {
      writing = writing.then(() => jobs.writeHeader(snap, changes)).catch(() => {});
      return writing;
    };
    const record = async (i: number, state: ItemState) => {
      await jobs.setState(id, i, state, snap);
      await writeHeader();
      for (const fn of this.#listeners) fn(id);
    };

    const worker = async () => {
      while (next < pending.length) {
        if (signal.aborted || this.#stopped || lost() || heldUntil !== undefined || cancelled || keyError)
          return;
        if (await jobs.cancelRequested(id)) {
          cancelled = true;
          return;
        }
        // Another worker may have taken the last item while this one was asking the store.
        if (next >= pending.length) return;
        const i = pending[next++] as number;
        const item = snap.items[i] as JobItem;
        const tries = (snap.states[i] as { tries?: number }).tries ?? 0;
        try {
          const row = await this.#o.lookup(item, signal);
          await record(i, { s: 'done', at: this.#o.now(), row });
        } catch (err) {
          if (!(err instanceof VtError)) throw err;
          if (err.kind === 'not_found') {
            await record(i, { s: 'done', at: this.#o.now(), row: this.#o.notFoundRow(item) });
          } else if (err.kind === 'cancelled') {
            return;
          } else if (err.kind === 'auth' || err.kind === 'not_configured') {
            // The key is wrong: every other lookup would fail the same way and spend a request. Stop.
            keyError ??= err;
            await record(i, failedState(err, this.#o.now()));
            return;
          } else if (err.kind === 'quota' && err.quotaScope === 'daily') {
            // The day's cap: the item waits for tomorrow, and so does the job.
            heldUntil = err.resetAt?.getTime() ?? this.#o.now() + 3_600_000;
            return;
          } else if (err.kind === 'quota' || (err.retryable && tries + 1 < this.#o.maxTries)) {
            // Busy (our window, VT's pause) or a passing fault: the item goes back to the end of the line.
            snap.states[i] = { s: 'pending', tries: err.kind === 'quota' ? tries : tries + 1 };
            pending.push(i);
            const wait = err.resetAt ? err.resetAt.getTime() - this.#o.now() : 1_000;
            await sleep(Math.min(10_000, Math.max(250, wait)), signal);
          } else {
            await record(i, failedState(err, this.#o.now()));
          }
        }
      }
    };

    await Promise.all(Array.from({ length: Math.max(1, this.#o.concurrency) }, worker));
    await writing;
    if (lost()) return;
    if (keyError) {
      // What was not sent fails with the same reason, without a request each.
      for (const i of pending.slice(next)) {
        if (snap.states[i]?.s === 'pending')
          await jobs.setState(id, i, failedState(keyError, this.#o.now()), snap);
      }
    }
    if (cancelled || (await jobs.cancelRequested(id))) {
      await writeHeader({ status: 'cancelled' });
    } else if (heldUntil !== undefined) {
      await writeHeader({ notBefore: heldUntil });
      this.#o.log(
        `triage job ${id}: daily cap reached; it carries on at ${new Date(heldUntil).toISOString()}`,
      );
    } else {
      await writeHeader();
    }
    for (const fn of this.#listeners) fn(id);
  }
}

/** A failed item keeps its error's kind and, in `why`, the facts the answer words it from. */
function failedState(err: VtError, at: number): ItemState {
  const why: FailureWhy = {
    // A request that never left is "unreachable" whatever the client called it.
    ...(err.notSent ? { reason: 'unreachable' } : err.reason ? { reason: err.reason } : {}),
    ...(err.networkCode ? { networkCode: err.networkCode } : {}),
    ...(err.vtCode ? { vtCode: err.vtCode } : {}),
    ...(err.timeoutSeconds !== undefined ? { timeoutSeconds: err.timeoutSeconds } : {}),
  };
  return { s: 'failed', at, error: err.kind, ...(Object.keys(why).length > 0 ? { why } : {}) };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
