/**
 * One kind of live slot (pending or settled) in the memory store, ordered by its time. A window of
 * 100,000 requests holds tens of thousands of slots; every grant drops the expired ones and reads the
 * earliest few, so those two cost what they drop or read, never what the set holds (a scan of every
 * slot per grant made a request cost 400 µs at 20,000 live slots). Adding and removing find their
 * place by binary search; slots mostly come in time order, so an add is usually an append.
 */
export class SlotTimes {
  readonly #at = new Map<string, number>();
  /** Ascending times from #head on, and the slot of each; the part before #head is spent. */
  #times: number[] = [];
  #ids: string[] = [];
  #head = 0;

  get size(): number {
    return this.#at.size;
  }

  /** Files `id` at time `t` (moving it if it is there already). */
  set(id: string, t: number): void {
    if (this.#at.has(id)) this.delete(id);
    const i = this.#after(t);
    if (i === this.#times.length) {
      this.#times.push(t);
      this.#ids.push(id);
    } else {
      this.#times.splice(i, 0, t);
      this.#ids.splice(i, 0, id);
    }
    this.#at.set(id, t);
  }

  /** Removes `id`; false when it is not there. */
  delete(id: string): boolean {
    const t = this.#at.get(id);
    if (t === undefined) return false;
    this.#at.delete(id);
    for (let i = this.#from(t); i < this.#times.length && this.#times[i] === t; i++) {
      if (this.#ids[i] === id) {
        this.#times.splice(i, 1);
        this.#ids.splice(i, 1);
        break;
      }
    }
    return true;
  }

  /** Drops every slot whose time is `now` or earlier. */
  dropUntil(now: number): void {
    let h = this.#head;
    while ((this.#times[h] ?? Number.POSITIVE_INFINITY) <= now) {
      const id = this.#ids[h];
      if (id !== undefined) this.#at.delete(id);
      h++;
    }
    this.#head = h;
    // Give the spent part back once it is most of the arrays (each slot is copied O(1) times).
    if (h >= 1024 && h * 2 >= this.#times.length) {
      this.#times = this.#times.slice(h);
      this.#ids = this.#ids.slice(h);
      this.#head = 0;
    }
  }

  /** The earliest `n` times, ascending. */
  earliest(n: number): number[] {
    return this.#times.slice(this.#head, this.#head + Math.max(0, n));
  }

  /** The first index from #head whose time is >= t. */
  #from(t: number): number {
    let lo = this.#head;
    let hi = this.#times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#times[mid] ?? Number.POSITIVE_INFINITY) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first index from #head whose time is > t (a new slot goes after those of equal time). */
  #after(t: number): number {
    const n = this.#times.length;
    if (n === this.#head || (this.#times[n - 1] ?? Number.NEGATIVE_INFINITY) <= t) return n;
    let lo = this.#head;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#times[mid] ?? Number.POSITIVE_INFINITY) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
