/**
 * The limiter's line is shared fairly between clients: one client's long queue (a triage job's lookups)
 * does not hold another's request back, and with one client the order stays first come, first served.
 */
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/vt/limiter.js';

const limiter = () =>
  new RateLimiter({ window: { requests: 2, seconds: 0.2 }, maxConcurrency: 4, maxWaitMs: 30_000 });

describe('RateLimiter fairness', () => {
  it("a client's request goes after at most one of another client's queued requests", async () => {
    const lim = limiter();
    const order: string[] = [];
    const job = Array.from({ length: 12 }, (_, i) =>
      lim.run(async () => void order.push(`a${i}`), { client: 'owner-a' }),
    );
    // Queued behind all twelve, and behind the concurrency cap too: it still goes early.
    await new Promise((r) => setTimeout(r, 10));
    const b = lim.run(async () => void order.push('b'), { client: 'caller-b' });
    await Promise.all([...job, b]);
    expect(order).toHaveLength(13);
    // a0 and a1 took the window at once; b is let go with the next window, not after a11.
    expect(order.indexOf('b')).toBeLessThanOrEqual(3);
    // Client a's own requests keep their order.
    expect(order.filter((x) => x !== 'b')).toEqual(Array.from({ length: 12 }, (_, i) => `a${i}`));
  });

  it('two clients with long queues take turns', async () => {
    const lim = limiter();
    const order: string[] = [];
    const runs = [];
    for (let i = 0; i < 6; i++) runs.push(lim.run(async () => void order.push('a'), { client: 'a' }));
    for (let i = 0; i < 6; i++) runs.push(lim.run(async () => void order.push('b'), { client: 'b' }));
    await Promise.all(runs);
    // After the first window (taken by a), they alternate.
    const rest = order.slice(2).join('');
    expect(rest).toMatch(/^(ab|ba)+(a|b)*$/);
    expect(rest.slice(0, 6)).not.toMatch(/aaa|bbb/);
  });

  it('with one client, first come first served', async () => {
    const lim = limiter();
    const order: number[] = [];
    await Promise.all(Array.from({ length: 7 }, (_, i) => lim.run(async () => void order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
