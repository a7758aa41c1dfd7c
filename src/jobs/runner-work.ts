/**
 * One pass of the runner over one job (JobWork): the job's chunks in order, a few lookups in flight,
 * each admitted first, results written as they come, and the job's header finished at the end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DailyCapError,
  failureFacts,
  UpstreamRefusedError,
  VtError,
  WaitTooLongError,
} from '../vt/errors.js';
import type { Chunk, FailureWhy, ItemState, JobHeader, JobItem, PauseReason } from './job-schemas.js';
import type { Admit, RunnerOptions } from './runner.js';

/** A chunk a pass holds: its items and states, the lookups of it in flight, its last write. */
interface Held {
  chunk: Chunk;
  inFlight: number;
  writing: Promise<unknown>;
}

/** One pass over one job: its chunks in order, a few lookups in flight, results written as they come. */
export class JobWork {
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
      // A parsed chunk has a state per item, and #next gives a place within it: both are there.
      const item = held.chunk.items[at.i];
      const state = held.chunk.states[at.i];
      if (this.#halted() || item === undefined || state === undefined) {
        held.inFlight--;
        this.o.admit.done();
        return;
      }
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
      } else if (err instanceof DailyCapError) {
        // The day's cap: the item waits, and the job pauses (its owner carries it on another day).
        this.#stop ??= 'daily';
      } else if (err.kind === 'quota' || (err.retryable && tries + 1 < this.o.maxTries)) {
        // Busy (our window, VT's pause) or a passing fault: the item goes back to the end of the line.
        held.chunk.states[at.i] = { s: 'pending', tries: err.kind === 'quota' ? tries : tries + 1 };
        this.#retry.push(at);
        const wait =
          err instanceof WaitTooLongError || err instanceof UpstreamRefusedError
            ? err.resetAt.getTime() - this.o.now()
            : 1_000;
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
  const why: FailureWhy = failureFacts(err);
  return { s: 'failed', at, error: err.kind, ...(Object.keys(why).length > 0 ? { why } : {}) };
}
