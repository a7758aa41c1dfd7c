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
import { VtError } from '../vt/errors.js';
import { utcDay } from '../vt/state/store.js';
import type {
  Chunk,
  FailureWhy,
  ItemState,
  JobHeader,
  JobItem,
  PauseReason,
  TriageJobs,
} from './triage-jobs.js';

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
      this.#o.log(`triage jobs: scan failed: ${err instanceof Error ? err.message : String(err)}`);
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

/** A chunk a pass holds: its items and states, the lookups of it in flight, its last write. */
interface Held {
  chunk: Chunk;
  inFlight: number;
  writing: Promise<unknown>;
}

/** One pass over one job: its chunks in order, a few lookups in flight, results written as they come. */
class JobWork {
  #h: JobHeader;
  /** The chunks this pass holds now (the one being worked, and the next while the last of it finishes). */
  readonly #chunks = new Map<number, Held>();
  /** Items to try again at the end (a passing fault, or the window was busy). */
  readonly #retry: Array<{ n: number; i: number }> = [];
  #n = 0;
  #i = 0;
  #stop: 'cancelled' | 'key' | 'daily' | undefined;
  /**
   * Why a worker was refused its next lookup: it stops taking items, while the lookups already admitted
   * finish. The job pauses for it at the end of the pass if items are left.
   */
  #pauseFor: PauseReason | undefined;
  /** Lookups of this pass in flight, and the workers waiting for one of them to be over. */
  #lookups = 0;
  readonly #onLookupDone: Array<() => void> = [];
  #keyError: VtError | undefined;
  /**
   * File lookups in flight, by the length of the hash each was given as. An md5 and a sha256 may name
   * one file, which only VirusTotal's answer tells: they are not looked up at the same time, so that
   * the second finds the first's answer in the cache (filed under every hash of the file) and costs
   * no request. Hashes of one kind are different files and go together.
   */
  readonly #fileLookups = new Map<number, number>();
  #headerWrites: Promise<unknown> = Promise.resolve();

  constructor(
    readonly o: RunnerOptions &
      Required<Pick<RunnerOptions, 'maxTries' | 'concurrency'>> & {
        now: () => number;
        log: (m: string) => void;
        admit: Admit;
      },
    header: JobHeader,
    readonly signal: AbortSignal,
    readonly gone: () => boolean,
    readonly told: (jobId: string) => void,
  ) {
    this.#h = header;
  }

  async run(): Promise<void> {
    const jobs = this.o.jobs;
    const workers = Array.from({ length: Math.max(1, this.o.concurrency) }, () => this.#worker());
    await Promise.all(workers);
    // Whatever the pass saw, the final counts come from the chunks themselves.
    await this.#headerWrites;
    for (const c of this.#chunks.values()) await c.writing;
    if (this.gone() || this.signal.aborted) return;
    if (this.#keyError) await this.#failRest(this.#keyError);
    const counts = await jobs.recount(this.#h);
    const changes: Partial<JobHeader> = { done: counts.done, failed: counts.failed, lost: counts.missing };
    if (this.#stop === 'cancelled' || (await jobs.cancelRequested(this.#h.id))) {
      this.#h = await jobs.writeHeader(this.#h, { ...changes, status: 'cancelled' });
    } else if (
      (this.#stop === 'daily' || this.#pauseFor !== undefined) &&
      counts.done + counts.failed + counts.missing < this.#h.total
    ) {
      const reason: PauseReason = this.#stop === 'daily' ? 'daily' : (this.#pauseFor ?? 'daily');
      this.#h = await jobs.writeHeader(this.#h, {
        ...changes,
        status: 'paused',
        pausedFor: reason,
        pausedAt: this.o.now(),
      });
      this.o.log(
        `triage job ${this.#h.id}: paused (${reason === 'daily' ? "the day's cap is spent" : "its owner's share of the day is spent while other clients are active"})`,
      );
    } else {
      this.#h = await jobs.writeHeader(this.#h, changes);
    }
    // Stopped by another process meanwhile (a cancel): what this pass wrote since expires with it too.
    if (this.#stop === 'cancelled' && this.#h.status === 'cancelled') await jobs.expireWith(this.#h);
    this.told(this.#h.id);
  }

  /**
   * The next pending item, loading chunks as the pass reaches them; undefined when there is none. The
   * item's chunk is counted as in use before this returns, so that no other worker lets it go meanwhile
   * (two copies of one chunk would overwrite each other's results).
   */
  async #next(): Promise<{ n: number; i: number; held: Held } | undefined> {
    const jobs = this.o.jobs;
    const chunks = jobs.chunkCount(this.#h);
    while (this.#n < chunks) {
      let held = this.#chunks.get(this.#n);
      if (!held) {
        const n = this.#n;
        const chunk = await jobs.chunk(this.#h.id, n);
        if (this.#n !== n) continue; // another worker moved on while this one read
        if (!chunk) {
          // The store lost it: its items are counted as lost at the end, not worked.
          this.#n++;
          this.#i = 0;
          continue;
        }
        held = this.#chunks.get(n) ?? { chunk, inFlight: 0, writing: Promise.resolve() };
        this.#chunks.set(n, held);
      }
      const states = held.chunk.states;
      while (this.#i < states.length && states[this.#i]?.s !== 'pending') this.#i++;
      if (this.#i < states.length) {
        held.inFlight++;
        return { n: this.#n, i: this.#i++, held };
      }
      this.#n++;
      this.#i = 0;
      this.#release(this.#n - 1);
    }
    const retry = this.#retry.shift();
    if (!retry) return undefined;
    let held = this.#chunks.get(retry.n);
    if (!held) {
      // A retry of an item whose chunk was let go: read it again.
      const chunk = await jobs.chunk(this.#h.id, retry.n);
      if (!chunk) return this.#next();
      held = this.#chunks.get(retry.n) ?? { chunk, inFlight: 0, writing: Promise.resolve() };
      this.#chunks.set(retry.n, held);
    }
    held.inFlight++;
    return { ...retry, held };
  }

  /** A chunk no worker needs any more is let go (its last write still runs). */
  #release(n: number): void {
    const held = this.#chunks.get(n);
    if (held && held.inFlight === 0 && n < this.#n) this.#chunks.delete(n);
  }

  #halted(): boolean {
    return this.signal.aborted || this.gone() || this.#stop !== undefined;
  }

  async #worker(): Promise<void> {
    const jobs = this.o.jobs;
    for (;;) {
      if (this.#halted()) return;
      if (await jobs.cancelRequested(this.#h.id)) {
        this.#stop ??= 'cancelled';
        return;
      }
      if (this.#pauseFor) return;
      const verdict = this.o.admit.admit(this.#h.owner);
      if (typeof verdict === 'number') {
        await sleep(Math.min(verdict, 10_000), undefined, { signal: this.signal }).catch(() => {});
        continue;
      }
      if (verdict !== 'ok') {
        // Lookups in flight are counted as spent until they are over: the last places of a share are
        // only known once they are. Asked again after each one, the job spends its part exactly.
        if (this.#lookups > 0) {
          await new Promise<void>((resolve) => this.#onLookupDone.push(resolve));
          continue;
        }
        this.#pauseFor ??= verdict;
        for (const wake of this.#onLookupDone.splice(0)) wake();
        return;
      }
      const at = await this.#next().catch((err: unknown) => {
        this.o.admit.done();
        throw err;
      });
      if (!at) {
        this.o.admit.done();
        return;
      }
      const { held } = at;
      if (this.#halted()) {
        held.inFlight--;
        this.o.admit.done();
        return;
      }
      const item = held.chunk.items[at.i] as JobItem;
      const state = held.chunk.states[at.i] as ItemState;
      const tries = state.s === 'pending' ? (state.tries ?? 0) : 0;
      const kind = item.type === 'file' ? item.id.length : undefined;
      if (kind !== undefined) await this.#fileTurn(kind);
      this.#lookups++;
      try {
        if (!this.#halted()) await this.#lookup(at, held, item, tries);
      } finally {
        if (kind !== undefined) this.#fileLookups.set(kind, (this.#fileLookups.get(kind) ?? 1) - 1);
        this.#lookups--;
        for (const wake of this.#onLookupDone.splice(0)) wake();
        this.o.admit.done();
        held.inFlight--;
        this.#release(at.n);
      }
    }
  }

  /** Waits until no file lookup of another kind of hash is in flight, and counts this one in. */
  async #fileTurn(kind: number): Promise<void> {
    const others = () => [...this.#fileLookups].some(([k, n]) => k !== kind && n > 0);
    while (others()) await new Promise<void>((resolve) => this.#onLookupDone.push(resolve));
    this.#fileLookups.set(kind, (this.#fileLookups.get(kind) ?? 0) + 1);
  }

  async #lookup(
    at: { n: number; i: number },
    held: { chunk: Chunk; writing: Promise<unknown> },
    item: JobItem,
    tries: number,
  ): Promise<void> {
    try {
      const row = await this.o.lookup(item, this.#h.owner, this.signal);
      await this.#record(at, held, { s: 'done', at: this.o.now(), row });
    } catch (err) {
      if (!(err instanceof VtError)) throw err;
      if (err.kind === 'not_found') {
        await this.#record(at, held, { s: 'done', at: this.o.now(), row: this.o.notFoundRow(item) });
      } else if (err.kind === 'cancelled') {
        return;
      } else if (err.kind === 'auth' || err.kind === 'not_configured') {
        // The key is wrong: every other lookup would fail the same way and spend a request. Stop.
        this.#keyError ??= err;
        this.#stop ??= 'key';
        await this.#record(at, held, failedState(err, this.o.now()));
      } else if (err.kind === 'quota' && err.quotaScope === 'daily') {
        // The day's cap: the item waits, and the job pauses (its owner carries it on another day).
        this.#stop ??= 'daily';
      } else if (err.kind === 'quota' || (err.retryable && tries + 1 < this.o.maxTries)) {
        // Busy (our window, VT's pause) or a passing fault: the item goes back to the end of the line.
        held.chunk.states[at.i] = { s: 'pending', tries: err.kind === 'quota' ? tries : tries + 1 };
        this.#retry.push(at);
        const wait = err.resetAt ? err.resetAt.getTime() - this.o.now() : 1_000;
        await sleep(Math.min(10_000, Math.max(250, wait)), undefined, { signal: this.signal }).catch(
          () => {},
        );
      } else {
        await this.#record(at, held, failedState(err, this.o.now()));
      }
    }
  }

  /** Writes one item's new state (its chunk, then the header's counts), in order per chunk. */
  async #record(
    at: { n: number; i: number },
    held: { chunk: Chunk; writing: Promise<unknown> },
    state: ItemState,
  ): Promise<void> {
    const jobs = this.o.jobs;
    held.chunk.states[at.i] = state;
    const snapshot: Chunk = { items: held.chunk.items, states: [...held.chunk.states] };
    held.writing = held.writing.then(() => jobs.putChunk(this.#h, at.n, snapshot)).catch(() => {});
    await held.writing;
    const counts =
      state.s === 'done'
        ? { done: this.#h.done + 1 }
        : state.s === 'failed'
          ? { failed: this.#h.failed + 1 }
          : {};
    this.#h = { ...this.#h, ...counts };
    const h = this.#h;
    this.#headerWrites = this.#headerWrites
      .then(async () => {
        const written = await jobs.writeHeader(h);
        // Over from elsewhere (a cancel): stop at once.
        if (written.status !== 'running') this.#stop ??= 'cancelled';
      })
      .catch(() => {});
    await this.#headerWrites;
    this.told(this.#h.id);
  }

  /** The key was refused: what was not sent fails with the same reason, without a request each. */
  async #failRest(err: VtError): Promise<void> {
    const jobs = this.o.jobs;
    for (let n = 0; n < jobs.chunkCount(this.#h); n++) {
      const chunk = this.#chunks.get(n)?.chunk ?? (await jobs.chunk(this.#h.id, n));
      if (!chunk?.states.some((s) => s.s === 'pending')) continue;
      const states = chunk.states.map((s) => (s.s === 'pending' ? failedState(err, this.o.now()) : s));
      await jobs.putChunk(this.#h, n, { items: chunk.items, states });
    }
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
