/**
 * The key is cut out of logs (and of upstream error texts) in every form an upstream
 * may give it back: as is, percent-encoded, base64 or base64url (alone or inside a longer encoded
 * string, at any byte alignment, line-wrapped), hex, JSON/HTML escaped, split by spaces, line breaks
 * or quote concatenation, or cut off.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecordedApiOptions } from '../src/demo/recorded-api.js';
import { createLogger, REDACTED, redact, redactDeep } from '../src/log.js';
import { everythingOf, type Harness, startHarness, TEST_KEY } from './helpers/harness.js';
import { answerJson } from './helpers/upstream.js';

const KEY = TEST_KEY;
const HEX_KEY = 'a3f0c1d2e4b5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f'; // a real key's shape

const b64 = (s: string) => Buffer.from(s).toString('base64');
const b64url = (s: string) => Buffer.from(s).toString('base64url');
const pct = (s: string, upper = true) =>
  [...Buffer.from(s)]
    .map((b) => `%${b.toString(16).padStart(2, '0')[upper ? 'toUpperCase' : 'toLowerCase']()}`)
    .join('');

/** The forms of a key an upstream, a proxy or an error page may echo. */
function forms(k: string): Array<[string, string]> {
  return [
    ['as is', k],
    ['encodeURIComponent', encodeURIComponent(k)],
    ['every byte percent-encoded, upper case', pct(k)],
    ['every byte percent-encoded, lower case', pct(k, false)],
    ['percent-encoded twice', encodeURIComponent(pct(k))],
    ['half percent-encoded', `${k.slice(0, 20)}${pct(k.slice(20))}`],
    ['base64', b64(k)],
    ['base64url', b64url(k)],
    ['base64 of "apikey:<key>" (offset 1)', b64(`apikey:${k}`)],
    ['base64 of "x-apikey=<key>" (offset 2)', b64(`x-apikey=${k}`)],
    ['base64 of "Basic <key>;" (offset 0)', b64(`Basic ${k};`)],
    ['base64url inside a token', `eyJ${b64url(`{"k":"${k}","n":1}`)}`],
    ['base64 wrapped at 16 columns', b64(`key=${k}`).replace(/(.{16})/g, '$1\n')],
    ['hex', Buffer.from(k).toString('hex')],
    ['JSON \\u escapes', [...k].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')],
    ['HTML entities', [...k].map((c) => `&#${c.charCodeAt(0)};`).join('')],
    ['split by a space', `${k.slice(0, 25)} ${k.slice(25)}`],
    ['split by line breaks', `${k.slice(0, 10)}\n${k.slice(10, 40)}\r\n${k.slice(40)}`],
    ['split by an escaped line break', JSON.stringify(`${k.slice(0, 30)}\n${k.slice(30)}`).slice(1, -1)],
    ['quote concatenation', `"${k.slice(0, 30)}" + "${k.slice(30)}"`],
    ['implicit concatenation across lines', `'${k.slice(0, 33)}'\n    '${k.slice(33)}'`],
    ['the first 40 characters', k.slice(0, 40)],
    ['the last 20 characters', k.slice(-20)],
    ['upper-cased', k.toUpperCase()],
  ];
}

/** A piece of 12 characters of the key, or a recognisable encoded form, anywhere in the text. */
function carriesKey(text: string, k: string): string | undefined {
  for (const [name, form] of forms(k)) {
    if (form.length >= 16 && text.includes(form)) return name;
  }
  const lower = text.toLowerCase();
  for (let i = 0; i + 12 <= k.length; i++) {
    if (lower.includes(k.slice(i, i + 12).toLowerCase())) return `the piece ${k.slice(i, i + 12)}`;
  }
  // The base64 of the key at each alignment, less the characters that depend on its neighbours.
  for (let off = 0; off < 3; off++) {
    const enc = b64(`${'\0'.repeat(off)}${k}`);
    const core = enc.slice(Math.ceil((8 * off) / 6), Math.floor((8 * (off + k.length)) / 6));
    for (const c of [core, core.replace(/\+/g, '-').replace(/\//g, '_')]) {
      for (let i = 0; i + 16 <= c.length; i++) if (text.includes(c.slice(i, i + 16))) return 'a base64 piece';
    }
  }
  return undefined;
}

describe('redact()', () => {
  for (const k of [KEY, HEX_KEY]) {
    it.each(forms(k))(`cuts the key (${k.slice(0, 8)}…) %s`, (_name, form) => {
      const text = `upstream said: <<${form}>> (end)`;
      const out = redact(text, [k]);
      expect(out).toContain(REDACTED);
      expect(carriesKey(out, k)).toBeUndefined();
      expect(out.startsWith('upstream said: <<')).toBe(true);
      expect(out.endsWith('>> (end)')).toBe(true);
    });
  }

  it('finds the same whether or not a text could only hold the key as plain characters', () => {
    // A text with no %XX, &# or backslash is checked without the full pattern (the key's forms, gaps
    // out, case folded, looked for as they are); the same text with a backslash after it takes the
    // full pattern (after a control character, which no form holds: it cannot extend what is cut).
    // Both must cut the same: texts made of pieces of every form of a key, split by gap characters,
    // in mixed case, between ordinary words.
    const pieces = (k: string) => [
      k,
      b64(k),
      b64url(k),
      b64(`x${k}`),
      b64(`xy${k}`),
      Buffer.from(k).toString('hex'),
    ];
    const gap = fc.constantFrom('', ' ', '\n', '\t', '"', "'", '+', '" + "', '  ');
    for (const k of [KEY, HEX_KEY, 'pass word+with/odd=chars and spaces']) {
      const part = fc.oneof(
        fc.constantFrom(...pieces(k)).chain((f) =>
          fc.tuple(fc.nat(f.length), fc.nat(f.length), gap, fc.boolean()).map(([a, b, g, up]) => {
            const piece = f.slice(Math.min(a, b), Math.max(a, b));
            const cut = Math.floor(piece.length / 2);
            const t = `${piece.slice(0, cut)}${g}${piece.slice(cut)}`;
            return up ? t.toUpperCase() : t;
          }),
        ),
        fc.constantFrom('memory: cache up to 64 MB', 'growth 50%', 'state', ' ', ':', '=', 'key', 'Basic '),
      );
      fc.assert(
        fc.property(fc.array(part, { maxLength: 6 }), (parts) => {
          const text = parts.join('');
          expect(`${redact(text, [k])}\u0001\\`).toBe(redact(`${text}\u0001\\`, [k]));
        }),
        { numRuns: 300 },
      );
    }
  });

  it('leaves ordinary text alone', () => {
    const text =
      'vt_get_report: transient HTTP 503; 0123456789 abcdef TESTKEY do not leak; ' +
      `sha256 ${'ab'.repeat(32)}; ${b64('an ordinary base64 body')}; %41%42%43`;
    expect(redact(text, [KEY, HEX_KEY])).toBe(text);
  });

  // A cut-off key is found in the lowercased text and cut at the same index in the original: both
  // case foldings (the fast one, and ASCII-only where İ lowercases to two characters) must keep them.
  it.each([
    ['after non-ASCII capitals', 'ÉCHO Ünïcode Ω: '],
    ['after an İ, which lowercases to two characters', 'İİİ İSTANBUL: '],
  ])('cuts a cut-off piece of the key in either case %s', (_name, before) => {
    const piece = KEY.slice(3, 27);
    for (const form of [piece, piece.toLowerCase(), piece.toUpperCase()]) {
      const out = redact(`${before}${form} (end)`, [KEY]);
      expect(out).toBe(`${before}${REDACTED} (end)`);
    }
  });

  it('cuts short secrets (tokens) only as they are', () => {
    expect(redact('token=abcd1234 and a b c d 1 2 3 4', ['abcd1234'])).toBe(
      `token=${REDACTED} and a b c d 1 2 3 4`,
    );
  });

  it('is quick on long lines', () => {
    const line = `${'x+/ '.repeat(5_000)}${b64(KEY)}`;
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) redact(line, [KEY, HEX_KEY]);
    expect((performance.now() - t0) / 20).toBeLessThan(50);
    expect(redact(line, [KEY])).not.toContain(b64(KEY).slice(4, 40));
  });

  it('redactDeep cuts it out of every string of a body, keys included, and keeps the shape', () => {
    const body = { error: { code: 'X', message: `bad ${b64(KEY)}`, [KEY]: [pct(KEY), 3, null] } };
    const out = redactDeep(body, [KEY]);
    expect(carriesKey(JSON.stringify(out), KEY)).toBeUndefined();
    expect(out.error.code).toBe('X');
    expect(Object.values(out.error)[2]).toEqual([REDACTED, 3, null]);
    expect(carriesKey(JSON.stringify(body), KEY)).toBeDefined(); // the input is not changed
  });
});

describe('the logger', () => {
  it('writes no form of the key, nor of a bearer token', () => {
    const lines: string[] = [];
    const token = 'tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
    const log = createLogger({ secrets: [KEY, token], level: 'debug', write: (l) => lines.push(l) });
    for (const [name, form] of [...forms(KEY), ...forms(token)]) log.warn(`echo (${name}): ${form}`);
    expect(lines.length).toBe(forms(KEY).length * 2);
    for (const line of lines) {
      expect(carriesKey(line, KEY), line).toBeUndefined();
      expect(carriesKey(line, token), line).toBeUndefined();
    }
  });
});

// The client cuts the key out of an upstream error body before its message is read
// (src/vt/client.ts withoutKey); these echo it in the other forms.
describe('an upstream error that echoes the key encoded', () => {
  const opened: Harness[] = [];
  afterAll(async () => {
    for (const h of opened) await h.close();
  });

  const echoes = forms(KEY).filter(([name]) => !['the last 20 characters'].includes(name));
  it.each(echoes)('%s: not in the answer nor the log', async (_name, form) => {
    const hook: RecordedApiOptions['hook'] = answerJson(400, {
      error: { code: 'InvalidArgumentError', message: `Bad key ${form} sent by the client` },
    });
    const h = await startHarness({ api: { hook } });
    opened.push(h);
    const outputs: string[] = [];
    for (const [tool, args] of [
      ['vt_get_report', { indicator: 'e2a52f78fc1dc2eb561fd5d77892d642' }],
      ['vt_search', { query: 'type:peexe' }],
    ] as const) {
      const r: CallToolResult = await h.call(tool, args);
      outputs.push(everythingOf(r));
    }
    for (const out of [...outputs, ...h.logs])
      expect(carriesKey(out, KEY), out.slice(0, 300)).toBeUndefined();
  });
});

describe('texts found clean are remembered, never a secret', () => {
  const key = 'REMEMBER-0123456789abcdef-0123456789abcdef-XYZ';
  it('a text seen clean is answered at once, and one that holds the key is still cut after it', () => {
    const clean = `report ${'x'.repeat(2000)}`;
    expect(redact(clean, [key])).toBe(clean);
    expect(redact(clean, [key])).toBe(clean);
    // The same words with the key in them: a different text, searched as ever.
    expect(redact(`${clean} ${key}`, [key])).not.toContain(key);
    // Another secret: what was clean for the first is searched again.
    const other = 'OTHERKEY-0123456789abcdef-0123456789';
    expect(redact(`${clean}${other}`, [other])).not.toContain(other);
    expect(redact(clean, [other])).toBe(clean);
  });
  it('keeps a bounded number of characters: many large clean texts do not pile up', () => {
    for (let i = 0; i < 200; i++) redact(`${i} ${'y'.repeat(50_000)}`, [key]);
    // Still correct after the oldest were let go.
    expect(redact(`0 ${'y'.repeat(50_000)}`, [key])).toBe(`0 ${'y'.repeat(50_000)}`);
    expect(redact(`0 ${'y'.repeat(50_000)}${key}`, [key])).not.toContain(key);
  });
});
