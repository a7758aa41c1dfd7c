/**
 * How a shared store keeps a body (src/vt/state/packed-body.ts): what each encoding reads back, that
 * the dictionary of encoding 2 is the one bodies were written with (a changed byte would make every
 * stored body unreadable), and that it earns its place. (On answers it was not made from, it is
 * measured by scripts/body-dictionary.mjs: a test on the recordings it was made from proves less.)
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { keptAnswer } from '../src/vt/kept-answer.js';
import { BODY_DICTIONARY_1 } from '../src/vt/state/body-dictionary.js';
import { DEFLATE_LEVEL, packBody, unpackBody } from '../src/vt/state/packed-body.js';

const answers = new RecordedApi()
  .objects()
  .filter((o) => ['file', 'url', 'domain', 'ip_address'].includes(String(o.type)))
  .map((o) => JSON.stringify(keptAnswer({ data: o })));

describe('a packed body', () => {
  it('reads back as it was, in every encoding', () => {
    const small = '{"data":{"id":"x"}}';
    expect(packBody(small)).toMatchObject({ encoding: 0 });
    expect(unpackBody(packBody(small).data, 0)).toBe(small);
    for (const a of answers.slice(0, 20)) {
      const p = packBody(a);
      expect(p.encoding).toBe(2);
      expect(unpackBody(p.data, p.encoding)).toBe(a);
    }
    // Brotli, as an earlier version stored it, is still read.
    const brotli = brotliCompressSync(Buffer.from(answers[0] as string));
    expect(unpackBody(brotli, 1)).toBe(answers[0]);
    expect(() => unpackBody(brotli, 7)).toThrow(/unknown body encoding 7/);
    // Text that compresses to nothing smaller is kept as it is.
    const noise = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7919) % 251)).toString('latin1');
    expect(unpackBody(packBody(noise).data, packBody(noise).encoding)).toBe(noise);
  });

  it('is written with the dictionary stored bodies were written with', () => {
    // Part of the storage format: a new dictionary is a new encoding, never an edit of this one.
    expect(createHash('sha256').update(BODY_DICTIONARY_1, 'latin1').digest('hex')).toBe(
      '4ed2f8a92d0c281ac14349ce67aef27efa3f3a29eb7360f7a158d77c694a98cb',
    );
    expect(BODY_DICTIONARY_1).toMatch(/^[\x20-\x7e]+$/);
  });

  it('is smaller with the dictionary than without, and than Brotli at the same speed class', () => {
    const size = (f: (b: Buffer) => Buffer) => answers.reduce((n, a) => n + f(Buffer.from(a)).length, 0);
    const packed = answers.reduce((n, a) => n + packBody(a).data.length, 0);
    const plain = size((b) => deflateRawSync(b, { level: DEFLATE_LEVEL }));
    const brotli = size((b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }));
    expect(packed).toBeLessThan(plain * 0.9);
    expect(packed).toBeLessThan(brotli * 0.9);
  });
});
