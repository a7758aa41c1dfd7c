/** Every path that pivots from an address refuses a non-public one before any request. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('non-public addresses are never looked up', () => {
  it.each(['10.0.0.1', '192.0.2.7', '::ffff:192.168.1.1', '2001:db8::5'])(
    'vt_get_relationships on %s answers why, with no request',
    async (ip) => {
      const before = h.api.count();
      const r = await h.call('vt_get_relationships', { indicator: ip, relationship: 'resolutions' });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/not a public internet address.*Not looked up/);
      expect(h.api.count()).toBe(before);
    },
  );

  it('vt_get_report names the kind of address and sends nothing', async () => {
    const before = h.api.count();
    const r = await h.call('vt_get_report', { indicator: '198.51.100.9' });
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toMatch(/198\.51\.100\.9 is .*documentation.*not a public internet address/);
    expect(h.api.count()).toBe(before);
  });

  it('resources/read vt://ip_address/{ip} refuses a private address, with no request', async () => {
    const before = h.api.count();
    await expect(h.client.readResource({ uri: 'vt://ip_address/172.16.0.1' })).rejects.toThrow(
      /not a public internet address/,
    );
    expect(h.api.count()).toBe(before);
  });
});
