/**
 * Property tests of indicator parsing (fast-check): 10,000 random strings never throw, and none
 * reaches the API unless it is a valid indicator.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractIndicators, parseIndicator } from '../src/vt/indicators.js';
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
            expect(r.reason.length).toBeGreaterThan(0);
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

describe('the tool with random input (property, through MCP)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('10,000 random inputs: never an upstream request for input that is not an indicator', async () => {
    await fc.assert(
      fc.asyncProperty(pasted, async (s) => {
        const before = h.api.count();
        const r = await h.call('vt_get_report', { indicator: s });
        const sent = h.api.count() - before;
        if (!parseIndicator(s).ok) {
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
