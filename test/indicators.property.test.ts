/**
 * Property tests of indicator parsing (fast-check): 10,000 random strings never throw, and none
 * reaches the API unless it is a valid indicator.
 */
import { BlockList } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indicatorProblemText } from '../src/answers/wording.js';
import { extractIndicators, nonPublicIp, parseIndicator, parseThreatRef } from '../src/vt/indicators.js';
import { type Harness, startHarness } from './helpers/harness.js';

// Strings shaped like what people paste: hex runs, dots, slashes, brackets, schemes, unicode, controls.
const pieces = fc.constantFrom(
  'http://',
  'hxxps://',
  'evil',
  '[.]',
  '(.)',
  '.',
  '..',
  '/',
  '../',
  'com',
  'xn--',
  'bücher',
  '1.2.3.4',
  '::1',
  '[',
  ']',
  ':',
  '@',
  '%2e',
  '?q=1',
  '#x',
  ' ',
  '\u0000',
  '\u202e',
  'a'.repeat(63),
  'deadbeef',
  'e2a52f78fc1dc2eb561fd5d77892d642',
);
const pasted = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.array(pieces, { maxLength: 12 }).map((xs) => xs.join('')),
  fc.stringMatching(/^[0-9a-fA-F]{1,80}$/),
);

describe('parseIndicator (property)', () => {
  it('never throws on 10,000 random inputs, and every accepted indicator has a safe id', () => {
    fc.assert(
      fc.property(
        pasted,
        fc.constantFrom(undefined, 'file', 'url', 'domain', 'ip_address' as const),
        (s, type) => {
          const r = parseIndicator(s, type);
          if (!r.ok) {
            expect(indicatorProblemText(r.problem).length).toBeGreaterThan(0);
            return;
          }
          const id = r.indicator.id;
          // An id is one path segment: no separators, no dot-segments, no controls.
          // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may reach a path.
          expect(id).not.toMatch(/[\s/\\?#\u0000-\u001f]/);
          expect(id === '.' || id === '..').toBe(false);
          if (r.indicator.type === 'file') expect(id).toMatch(/^([0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$/);
          if (r.indicator.type === 'url') expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
          // Parsing is stable: the canonical value parses to the same id.
          const again = parseIndicator(r.indicator.value, r.indicator.type);
          expect(again.ok && again.indicator.id).toBe(id);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('extractIndicators never throws and returns only valid, distinct indicators', () => {
    fc.assert(
      fc.property(
        fc.array(pasted, { maxLength: 20 }).map((xs) => xs.join(' ')),
        (text) => {
          const { indicators } = extractIndicators(text);
          const keys = indicators.map((i) => `${i.type}:${i.id}`);
          expect(new Set(keys).size).toBe(keys.length);
          for (const i of indicators) expect(parseIndicator(i.value, i.type).ok).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

// An oracle written from the IANA IPv4 Special-Purpose Address Registry (plus multicast and the
// limited broadcast), independent of ipaddr.js: what the server refuses must be exactly these.
const IANA_V4 = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.31.196.0', 24],
  ['192.52.193.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['192.175.48.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  IANA_V4.addSubnet(net, bits, 'ipv4');
}

const octet = fc.integer({ min: 0, max: 255 });
// Uniform addresses rarely land in a special block, so half of them are drawn inside one.
const v4 = fc.oneof(
  fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')),
  fc
    .tuple(
      fc.constantFrom(
        '10',
        '127',
        '0',
        '224',
        '240',
        '255',
        '172.16',
        '172.31',
        '192.168',
        '169.254',
        '100.64',
        '100.127',
        '192.0.0',
        '192.0.2',
        '198.51.100',
        '203.0.113',
        '198.18',
        '198.19',
        '192.88.99',
        '192.31.196',
        '192.52.193',
        '192.175.48',
        '192.0.3',
        '100.128',
        '172.32',
        '198.20',
        '203.0.114',
      ),
      fc.array(octet, { minLength: 3, maxLength: 3 }),
    )
    .map(([prefix, rest]) => [...prefix.split('.'), ...rest].slice(0, 4).join('.')),
);
/** An IPv4 address as the two hex groups IPv6 writes it in. */
const hex4 = (a: string): [string, string] => {
  const [o0 = 0, o1 = 0, o2 = 0, o3 = 0] = a.split('.').map(Number);
  return [((o0 << 8) | o1).toString(16), ((o2 << 8) | o3).toString(16)];
};
const idOf = (ip: string) => {
  const r = parseIndicator(ip, 'ip_address');
  if (!r.ok) throw new Error(indicatorProblemText(r.problem));
  return r.indicator.id;
};

describe('non-public addresses (property)', () => {
  it('an IPv4 address is refused exactly when the IANA registry says it is special-purpose', () => {
    fc.assert(
      fc.property(v4, (a) => {
        expect(nonPublicIp(a) !== undefined, a).toBe(IANA_V4.check(a, 'ipv4'));
      }),
      { numRuns: 20_000 },
    );
  });

  it('IPv4-mapped, NAT64, 6to4 and Teredo forms are judged by the IPv4 address they carry', () => {
    fc.assert(
      fc.property(v4, (a) => {
        const [hi, lo] = hex4(a);
        const inner = nonPublicIp(a);
        // Mapped: parsed to the IPv4 address itself.
        expect(idOf(`::ffff:${a}`)).toBe(a);
        expect(nonPublicIp(`::ffff:${a}`) !== undefined).toBe(inner !== undefined);
        for (const carrier of [`64:ff9b::${a}`, `64:ff9b::${hi}:${lo}`, `2002:${hi}:${lo}::1`]) {
          const why = nonPublicIp(idOf(carrier));
          expect(why !== undefined, carrier).toBe(inner !== undefined);
          if (why) expect(why).toContain(a);
        }
        // Teredo (server 65.54.227.120 is public): the client's address is stored with every bit inverted.
        const inv = (x: string | undefined) => (~Number.parseInt(x as string, 16) & 0xffff).toString(16);
        const teredo = `2001:0:4136:e378:8000:63bf:${inv(hi)}:${inv(lo)}`;
        expect(nonPublicIp(idOf(teredo)) !== undefined, teredo).toBe(inner !== undefined);
      }),
      { numRuns: 5_000 },
    );
  });

  it('an IPv6 address outside 2000::/3 is never looked up', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (parts) => {
        const ip = parts.map((p) => p.toString(16)).join(':');
        if ((parts[0] as number) >> 13 !== 1) expect(nonPublicIp(idOf(ip)), ip).toBeDefined();
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('the tool with random input (property, through MCP)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('non-public addresses, however written: answered, never an upstream request', async () => {
    const special = v4.filter((a) => IANA_V4.check(a, 'ipv4'));
    await fc.assert(
      fc.asyncProperty(
        special,
        fc.constantFrom<(a: string) => string>(
          (a) => a,
          (a) => `::ffff:${a}`,
          (a) => `64:ff9b::${a}`,
          (a) => `[${a}]`,
          (a) => a.replace(/\./g, '[.]'),
          (a) => `2002:${hex4(a).join(':')}::1`,
        ),
        async (a, form) => {
          const before = h.api.count();
          const r = await h.call('vt_get_report', { indicator: form(a) });
          expect(r.isError, form(a)).toBeFalsy();
          expect(r.structuredContent).toMatchObject({ found: false });
          expect(h.api.count() - before).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('10,000 random inputs: never an upstream request for input that is not an indicator', async () => {
    await fc.assert(
      fc.asyncProperty(pasted, async (s) => {
        const before = h.api.count();
        const r = await h.call('vt_get_report', { indicator: s });
        const sent = h.api.count() - before;
        // A collection or ATT&CK technique id is answered too (a technique offline, a collection with one lookup).
        if (!parseIndicator(s).ok && !parseThreatRef(s)) {
          expect(r.isError).toBe(true);
          expect(sent).toBe(0);
        } else {
          expect(sent).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 10_000 },
    );
  });
});
