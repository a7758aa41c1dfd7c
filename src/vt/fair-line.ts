/**
 * The line of requests waiting for the window, shared fairly between clients (fair queueing): a
 * waiter's tag is one more than the later of its client's last tag and the tag of the last waiter let
 * go. A client with a thousand waiters holds tags V+1…V+1000; a client arriving then gets V+1 and goes
 * after at most one of them. With one client it is first come, first served. A retry goes to the front:
 * it was waited for once.
 */
export class FairLine<W extends { tag: number }> {
  readonly #line: W[] = [];
  #virtualTime = 0;
  readonly #lastTag = new Map<string, number>();

  get length(): number {
    return this.#line.length;
  }

  /** Puts a waiter in its fair place (at the front for a retry) and returns its index. */
  join(w: W, client: string, front: boolean): number {
    if (front) {
      w.tag = Number.NEGATIVE_INFINITY;
      this.#line.unshift(w);
      return 0;
    }
    w.tag = Math.max(this.#virtualTime, this.#lastTag.get(client) ?? Number.NEGATIVE_INFINITY) + 1;
    this.#lastTag.set(client, w.tag);
    // After every waiter with a tag not above its own (ties keep the order of arrival).
    let i = this.#line.length;
    while (i > 0) {
      const prev = this.#line[i - 1];
      if (prev === undefined || !(prev.tag > w.tag)) break;
      i--;
    }
    this.#line.splice(i, 0, w);
    return i;
  }

  /** The next waiter to let go; the fair order moves on to its tag. */
  next(): W | undefined {
    const w = this.#line.shift();
    if (w && w.tag > this.#virtualTime) {
      this.#virtualTime = w.tag;
      // Clients whose last tag is behind are where a newcomer would be: forgetting them changes nothing.
      if (this.#lastTag.size > 64) {
        for (const [c, t] of this.#lastTag) if (t <= this.#virtualTime) this.#lastTag.delete(c);
      }
    }
    return w;
  }

  /** Takes a waiter out of the line; false when it was not in it. */
  remove(w: W): boolean {
    const i = this.#line.indexOf(w);
    if (i === -1) return false;
    this.#line.splice(i, 1);
    return true;
  }

  indexOf(w: W): number {
    return this.#line.indexOf(w);
  }

  /** The first `n` waiters (all of them without `n`), in order; the line is not changed. */
  first(n?: number): W[] {
    return n === undefined ? [...this.#line] : this.#line.slice(0, n);
  }

  /** Empties the line, returning who was in it. */
  clear(): W[] {
    return this.#line.splice(0);
  }
}
