/** A 200 answer that echoes the key (in any encoding) never carries it to the model. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { everythingOf, type Harness, startHarness, TEST_KEY } from './helpers/harness.js';
import { answerJson } from './helpers/upstream.js';

let h: Harness;
beforeAll(async () => {
  const b64 = Buffer.from(`key=${TEST_KEY}`).toString('base64');
  const file = {
    data: {
      type: 'file',
      id: 'a'.repeat(64),
      attributes: {
        sha256: 'a'.repeat(64),
        meaningful_name: `${TEST_KEY}.exe`,
        names: [encodeURIComponent(TEST_KEY), b64, `${TEST_KEY.slice(0, 30)} ${TEST_KEY.slice(30)}`],
        tags: [TEST_KEY],
        last_analysis_stats: { malicious: 1, undetected: 60 },
      },
    },
  };
  h = await startHarness({ api: { hook: answerJson(200, file) } });
});
afterAll(() => h.close());

it('neither the text nor the structured content holds the key', async () => {
  for (const detail of ['concise', 'detailed']) {
    const r = await h.call('vt_get_report', { indicator: 'a'.repeat(64), detail, fresh: true });
    const all = everythingOf(r);
    expect(all).not.toContain(TEST_KEY);
    expect(all).not.toContain(encodeURIComponent(TEST_KEY));
    expect(all).not.toContain(TEST_KEY.slice(0, 30));
    expect(all).not.toContain(Buffer.from(`key=${TEST_KEY}`).toString('base64').slice(4, 40));
  }
});
