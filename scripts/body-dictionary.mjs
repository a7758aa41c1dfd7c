#!/usr/bin/env node
/**
 * Made src/vt/state/body-dictionary.ts once: the preset dictionary with which a shared store compresses
 * cached bodies (src/vt/state/packed-body.ts, encoding 2). A dictionary is a fixed part of the storage
 * format: every body compressed with it needs the very same bytes to be read back, so the file is never
 * written again over one in use. A better dictionary is a new file and a new encoding number.
 *
 * What goes in: JSON fragments that most VirusTotal answers share, taken from the recorded answers in
 * fixtures/vt (see ATTRIBUTION.md there) as the server keeps them (src/vt/kept-answer.ts): every key, and
 * the short values that recur (engine names, categories, booleans, tags), each written as it appears in
 * an answer (`"key":` and `"key":"value"`). Fragments in at least MIN_SHARE of the objects, the most
 * common last (closest to the data, so the cheapest to refer to), at most MAX_BYTES in all.
 *
 *   node scripts/body-dictionary.mjs            how well it compresses: trained on half the recordings,
 *                                               measured on the other half (run `npm run build` first)
 *   node scripts/body-dictionary.mjs --write    writes src/vt/state/body-dictionary.ts from all of them
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, deflateRawSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const TARGET = `${root}src/vt/state/body-dictionary.ts`;
const MIN_SHARE = 0.05;
const MAX_BYTES = 32 * 1024; // deflate's window: a longer dictionary is never referred to
const SHORT = 24;

const { RecordedApi } = await import(`${root}dist/demo/recorded-api.js`);
const { keptAnswer } = await import(`${root}dist/vt/kept-answer.js`);
const { DEFLATE_LEVEL } = await import(`${root}dist/vt/state/packed-body.js`);

const REPORTS = new Set(['file', 'url', 'domain', 'ip_address']);
const answers = new RecordedApi()
  .objects()
  .filter((o) => REPORTS.has(o.type))
  .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  .map((o) => Buffer.from(JSON.stringify(keptAnswer({ data: o }))));

function fragments(answer) {
  const seen = new Set();
  const walk = (v) => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const key = `${JSON.stringify(k)}:`;
        seen.add(key);
        if ((typeof x === 'string' && x.length <= SHORT) || typeof x === 'boolean' || x === null) {
          seen.add(key + JSON.stringify(x));
        }
        walk(x);
      }
    }
  };
  walk(JSON.parse(answer.toString('utf8')));
  return seen;
}

function dictionaryOf(sample) {
  const count = new Map();
  for (const a of sample) for (const f of fragments(a)) count.set(f, (count.get(f) ?? 0) + 1);
  const common = [...count]
    .filter(([f, c]) => c >= sample.length * MIN_SHARE && /^[\x20-\x7e]*$/.test(f))
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let out = '';
  for (let i = common.length - 1; i >= 0; i--) {
    const f = common[i][0];
    if (out.length + f.length + 1 > MAX_BYTES) break;
    out = `${f},${out}`;
  }
  return out;
}

if (process.argv.includes('--write')) {
  const dict = dictionaryOf(answers);
  const text = [
    '// Generated once by scripts/body-dictionary.mjs --write from the recorded answers in fixtures/vt',
    '// (their sources and licences: fixtures/vt/ATTRIBUTION.md). Part of the storage format: bodies',
    '// compressed with encoding 2 are read back with exactly these bytes, so this text never changes',
    '// (test/packed-body.test.ts holds its digest); a new dictionary is a new file and encoding.',
    '',
    '/** JSON fragments most VirusTotal answers share, the most common last. */',
    `export const BODY_DICTIONARY_1 = ${JSON.stringify(dict)};`,
    '',
  ].join('\n');
  writeFileSync(TARGET, text);
  console.log(`wrote ${TARGET}: ${dict.length} bytes from ${answers.length} recorded answers`);
} else {
  const train = answers.filter((_, i) => i % 2 === 0);
  const held = answers.filter((_, i) => i % 2 === 1);
  const dictionary = Buffer.from(dictionaryOf(train));
  const raw = held.reduce((n, a) => n + a.length, 0);
  const size = (f) => held.reduce((n, a) => n + f(a).length, 0);
  const brotli = size((a) =>
    brotliCompressSync(a, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 1,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      },
    }),
  );
  const plain = size((a) => deflateRawSync(a, { level: DEFLATE_LEVEL }));
  const withDict = size((a) => deflateRawSync(a, { level: DEFLATE_LEVEL, dictionary }));
  const x = (n) => `${(raw / n).toFixed(2)}× smaller`;
  console.log(
    `${held.length} recorded answers held out (${raw.toLocaleString('en-US')} bytes as kept), dictionary of ` +
      `${dictionary.length.toLocaleString('en-US')} bytes made from the other ${train.length}:\n` +
      `  Brotli quality 1 (encoding 1): ${x(brotli)}\n` +
      `  deflate level ${DEFLATE_LEVEL}, no dictionary: ${x(plain)}\n` +
      `  deflate level ${DEFLATE_LEVEL} with the dictionary (encoding 2): ${x(withDict)}`,
  );
}
