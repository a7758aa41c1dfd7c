/**
 * A fixed-capacity ring of non-decreasing times: pushing onto a full ring drops the oldest. O(1)
 * push, shift and indexed read; it never holds more than its capacity.
 */
export class TimeRing {
  readonly #buf: Float64Array;
  #head = 0;
  #len = 0;

  constructor(capacity: number) {
    this.#buf = new Float64Array(Math.max(1, capacity));
  }

  get length(): number {
    return this.#len;
  }

  /** The i-th oldest (0 = oldest). */
  at(i: number): number {
    // Within the buffer for any i >= 0 (taken modulo its length); past it, NaN is what a read of
    // undefined would have become in any arithmetic or comparison.
    return this.#buf[(this.#head + i) % this.#buf.length] ?? Number.NaN;
  }

  last(): number {
    return this.#len === 0 ? Number.NEGATIVE_INFINITY : this.at(this.#len - 1);
  }

  push(t: number): void {
    const cap = this.#buf.length;
    if (this.#len === cap) {
      this.#head = (this.#head + 1) % cap;
      this.#len--;
    }
    this.#buf[(this.#head + this.#len) % cap] = t;
    this.#len++;
  }

  shift(): void {
    if (this.#len === 0) return;
    this.#head = (this.#head + 1) % this.#buf.length;
    this.#len--;
  }
}
