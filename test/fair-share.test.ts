/**
 * The day's fair share between clients: a job's lookup is admitted while what is left is more than the
 * other active clients' parts, counted in its owner's minute; asking whether a paused job may carry on
 * spends nothing and makes nobody active.
 */
import { describe, expect, it } from 'vitest';
import { FairShare } from '../src/vt/fair-share.js';

describe('FairShare', () => {
  it("a job stops at half the cap while another client is active, and its lookups count in its owner's minute", () => {
    let used = 0;
    const fair = new FairShare(() => ({ quota: 20, used }), { manyClients: true, callsPerMinute: 100 });
    fair.seen('b');
    let admitted = 0;
    while (fair.admitJob('a') === 'ok') {
      fair.jobLookupDone();
      used++;
      admitted++;
    }
    expect(admitted).toBe(10);
    expect(fair.admitJob('a')).toBe('share');
  });

  it('asking whether a paused job may carry on neither makes its owner active nor spends its minute', () => {
    const fair = new FairShare(() => ({ quota: 20, used: 0 }), { manyClients: true, callsPerMinute: 2 });
    for (let i = 0; i < 50; i++) expect(fair.dayAllows('a')).toBe(true);
    // Nobody was made active by the questions: b's jobs keep only the latecomers' reserve.
    expect(fair.othersActive('b')).toBe(0);
    // a's minute is whole.
    expect(fair.rates.take('a', 2)).toBe(0);
  });
});
