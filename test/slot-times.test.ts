/**
 * The memory store's ordered slots against a plain model (a map, sorted on every read): random adds,
 * moves, removals and expiries, with times that repeat and arrive out of order, as settles do.
 */
import { describe, expect, it } from 'vitest';
import { SlotTimes } from '../src/vt/state/slot-times.js';

/** A small deterministic generator, so that a failure replays. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

describe('SlotTimes', () => {
  it('agrees with a sorted map through 20,000 random operations', () => {
    const r = rng(7);
    const slots = new SlotTimes();
    const model = new Map<string, number>();
    let now = 0;
    const earliest = (n: number) => [...model.values()].sort((a, b) => a - b).slice(0, n);
    for (let op = 0; op < 20_000; op++) {
      const roll = r();
      const id = `s${Math.floor(r() * 3_000)}`;
      if (roll < 0.55) {
        // Mostly in time order, sometimes earlier, often the same time as another slot.
        const t = now + Math.floor(r() * 50) - (r() < 0.2 ? 30 : 0);
        slots.set(id, t);
        model.set(id, t);
      } else if (roll < 0.8) {
        expect(slots.delete(id)).toBe(model.delete(id));
      } else {
        now += Math.floor(r() * 20);
        slots.dropUntil(now);
        for (const [k, t] of model) if (t <= now) model.delete(k);
      }
      expect(slots.size).toBe(model.size);
      if (op % 97 === 0) expect(slots.earliest(64)).toEqual(earliest(64));
    }
    expect(slots.earliest(model.size + 5)).toEqual(earliest(model.size));
    expect(slots.earliest(0)).toEqual([]);
  });
});
