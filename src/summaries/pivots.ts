/**
 * Ready-to-run VT Intelligence queries built from a file's similarity features, for vt_search.
 * Each value is checked against its expected form first: a query is only offered when it is well
 * formed, and text from the file (the signer) can never close its quotes or add terms.
 */
import { z } from 'zod';
import { clean, type Json, obj } from './common.js';

export const pivotSchema = z.object({ feature: z.string(), query: z.string() });
export type Pivot = z.infer<typeof pivotSchema>;

const FORMS: Record<string, RegExp> = {
  imphash: /^[0-9a-f]{32}$/i,
  // vhash is alphanumeric with "z" and "!" marks, and is quoted. Some hold a '"', which no quoting can
  // carry (VT documents no escape), so those are not offered.
  vhash: /^[0-9a-z!]{8,128}$/i,
  ssdeep: /^\d{1,10}:[A-Za-z0-9/+]{1,128}:[A-Za-z0-9/+]{0,128}$/,
  tlsh: /^(?:T1)?[0-9A-F]{70}$/i,
  main_icon_dhash: /^[0-9a-f]{16}$/i,
  telfhash: /^(?:t1)?[0-9a-f]{70}$/i,
};

function valid(feature: string, v: unknown): string | undefined {
  return typeof v === 'string' && FORMS[feature]?.test(v) ? v : undefined;
}

/** The first (leaf) signer of "Leaf; Intermediate; Root", without characters that break a quoted term. */
export function signerOf(a: Json): string | undefined {
  const sig = obj(a.signature_info);
  const first = typeof sig?.signers === 'string' ? sig.signers.split(';')[0] : undefined;
  const c = clean(first?.replace(/["\\]/g, ' '), 80);
  return c && c.length >= 3 ? c : undefined;
}

/** File attributes in, queries out; features the file lacks are skipped. */
export function pivotQueries(attributes: Json): Pivot[] {
  const a = attributes;
  const out: Pivot[] = [];
  const add = (feature: string, query: string | undefined) => {
    if (query) out.push({ feature, query });
  };
  const imphash = valid('imphash', obj(a.pe_info)?.imphash);
  add('imphash', imphash && `imphash:${imphash.toLowerCase()}`);
  const vhash = valid('vhash', a.vhash);
  add('vhash', vhash && `vhash:"${vhash}"`);
  const ssdeep = valid('ssdeep', a.ssdeep);
  add('ssdeep', ssdeep && `ssdeep:"${ssdeep}"`);
  const tlsh = valid('tlsh', a.tlsh);
  add('tlsh', tlsh && `tlsh:${tlsh}`);
  const dhash = valid('main_icon_dhash', obj(a.main_icon)?.dhash);
  add('main_icon_dhash', dhash && `main_icon_dhash:${dhash.toLowerCase()}`);
  const telfhash = valid('telfhash', obj(a.elf_info)?.telfhash);
  add('telfhash', telfhash && `telfhash:${telfhash}`);
  const signer = signerOf(a);
  add('signer', signer && `signature:"${signer}"`);
  return out;
}
