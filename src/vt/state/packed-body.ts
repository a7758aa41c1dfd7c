/**
 * How a shared store keeps a cached answer's body: VirusTotal's JSON (a few KB to over 1 MB, much of it
 * keys and values every answer repeats) compressed with Node's zlib when that saves room, as is
 * otherwise. The cache's bound counts what is stored, so a compressed store holds several times as many
 * answers in the same bytes and its file stays small.
 *
 * Bodies are compressed with deflate and a preset dictionary of the JSON fragments answers share
 * (body-dictionary.ts): an answer of a few KB cannot teach a compressor its own vocabulary, and the
 * dictionary hands it over. Brotli (encoding 1) is still read: a store written by an earlier version holds it.
 */
import { brotliDecompressSync, deflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import { BODY_DICTIONARY_1 } from './body-dictionary.js';

/**
 * 0: UTF-8 text as received; 1: that text compressed with Brotli; 2: compressed with raw deflate and
 * BODY_DICTIONARY_1.
 */
export type BodyEncoding = 0 | 1 | 2;

export interface PackedBody {
  data: Uint8Array;
  encoding: BodyEncoding;
}

/** Below this a body is stored as it is: compressing would save little and cost a call. */
const MIN_PACK_BYTES = 512;

/**
 * Deflate's level: scripts/body-dictionary.mjs prints what it gives on recorded answers it did not
 * learn from. Speed matters as much as size: this runs on the path of every upstream answer.
 */
export const DEFLATE_LEVEL = 2;

const DICTIONARY = Buffer.from(BODY_DICTIONARY_1, 'latin1');

export function packBody(body: string): PackedBody {
  const text = Buffer.from(body, 'utf8');
  if (text.length < MIN_PACK_BYTES) return { data: text, encoding: 0 };
  return smaller(text, deflateRawSync(text, { level: DEFLATE_LEVEL, dictionary: DICTIONARY }));
}

/**
 * packBody in libuv's thread pool: the event loop is free while a body is compressed, a good part of
 * what an upstream answer costs a store that keeps it.
 */
export function packBodyAsync(body: string): Promise<PackedBody> {
  const text = Buffer.from(body, 'utf8');
  if (text.length < MIN_PACK_BYTES) return Promise.resolve({ data: text, encoding: 0 });
  return new Promise((resolve, reject) => {
    deflateRaw(text, { level: DEFLATE_LEVEL, dictionary: DICTIONARY }, (err, packed) =>
      err ? reject(err) : resolve(smaller(text, packed)),
    );
  });
}

function smaller(text: Buffer, packed: Buffer): PackedBody {
  return packed.length < text.length ? { data: packed, encoding: 2 } : { data: text, encoding: 0 };
}

/** The body as received; throws on data that is not what packBody wrote (the caller treats it as a miss). */
export function unpackBody(data: Uint8Array, encoding: number): string {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (encoding === 0) return buf.toString('utf8');
  if (encoding === 2) return inflateRawSync(buf, { dictionary: DICTIONARY }).toString('utf8');
  if (encoding === 1) return brotliDecompressSync(buf).toString('utf8');
  throw new Error(`unknown body encoding ${encoding}`);
}
