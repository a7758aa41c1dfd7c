/**
 * Recognises what a user pasted: a file hash, URL, domain or IP, defanged or not,
 * and turns it into the id VirusTotal uses. Anything else is rejected here, before any request.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { stripUnsafe } from '../util/sanitize.js';

export type IndicatorType = 'file' | 'url' | 'domain' | 'ip_address';
export const INDICATOR_TYPES: readonly IndicatorType[] = ['file', 'url', 'domain', 'ip_address'];

export interface Indicator {
  type: IndicatorType;
  /** The id to put in the API path: sha256/sha1/md5, URL id, domain (punycode) or IP. */
  id: string;
  /** A human form: the hash, the canonical URL, the domain, the IP. */
  value: string;
  /** The collection in VT's API paths. */
  collection: 'files' | 'urls' | 'domains' | 'ip_addresses';
  /** For files: which hash was given. */
  hashKind?: 'md5' | 'sha1' | 'sha256';
}

export type ParseResult = { ok: true; indicator: Indicator } | { ok: false; reason: string };

export const ACCEPTED_FORMS =
  'a file hash (MD5, SHA-1 or SHA-256), a URL (with or without http://), a domain (IDN allowed), ' +
  'or an IPv4/IPv6 address; defanged forms such as hxxp://evil[.]com or 1.2.3[.]4 are accepted';

const COLLECTION: Record<IndicatorType, Indicator['collection']> = {
  file: 'files',
  url: 'urls',
  domain: 'domains',
  ip_address: 'ip_addresses',
};

/** Undoes the usual ways analysts defang indicators. */
export function refang(raw: string): string {
  return raw
    .trim()
    .replace(/^[<"'`(]+|[>"'`)]+$/g, '')
    .replace(/^h(?:xx|\*\*|XX|xX|Xx)p(s?)/i, 'http$1')
    .replace(/^fxp(s?)/i, 'ftp$1')
    .replace(/\[\s*:\s*\/\s*\/\s*\]|\[:\/\/\]/g, '://')
    .replace(/\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\}/gi, '.')
    .replace(/\[\s*:\s*\]/g, ':')
    .replace(/\[\s*@\s*\]|\[at\]/gi, '@')
    .replace(/\[\s*\/\s*\]/g, '/');
}

const HASH_KINDS: Record<number, Indicator['hashKind']> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };

function parseHash(s: string): Indicator | undefined {
  if (!/^[0-9a-fA-F]+$/.test(s)) return undefined;
  const hashKind = HASH_KINDS[s.length];
  if (!hashKind) return undefined;
  const id = s.toLowerCase();
  return { type: 'file', id, value: id, collection: 'files', hashKind };
}

function parseIp(s: string): Indicator | undefined {
  const bare = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  if (isIPv4(bare)) {
    // node accepts only dotted-quad decimal here, which is what VT ids use.
    return { type: 'ip_address', id: bare, value: bare, collection: 'ip_addresses' };
  }
  if (isIPv6(bare)) {
    // Let the URL parser give the canonical compressed form.
    const canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
    return { type: 'ip_address', id: canonical, value: canonical, collection: 'ip_addresses' };
  }
  return undefined;
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Returns the ASCII (punycode) form of a domain name, or undefined if it is not one. */
export function normaliseDomain(s: string): string | undefined {
  let name = s.trim().replace(/\.$/, '');
  if (name === '' || name.length > 253 || /[\s/\\?#@:]/.test(name)) return undefined;
  name = domainToASCII(name.toLowerCase());
  if (name === '' || name.length > 253) return undefined;
  const labels = name.split('.');
  if (labels.length < 2) return undefined;
  if (!labels.every((l) => LABEL.test(l))) return undefined;
  const tld = labels[labels.length - 1] ?? '';
  if (!/^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/.test(tld)) return undefined;
  return name;
}

function parseDomain(s: string): Indicator | undefined {
  const d = normaliseDomain(s);
  return d ? { type: 'domain', id: d, value: d, collection: 'domains' } : undefined;
}

/** URL-safe base64 without padding, as VT's URL ids want. */
export function urlId(url: string): string {
  return Buffer.from(url, 'utf8').toString('base64url');
}

/**
 * Canonicalises a URL so that spellings of one URL share one id (and one cache entry):
 * scheme and host lowercased, IDN to punycode, default port and empty path normalised.
 */
export function canonicalUrl(s: string): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `http://${s}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (!['http:', 'https:', 'ftp:'].includes(u.protocol)) return undefined;
  const host = u.hostname;
  const isIp = isIPv4(host) || (host.startsWith('[') && isIPv6(host.slice(1, -1)));
  if (!isIp && !normaliseDomain(host)) return undefined;
  u.hash = '';
  return u.toString();
}

function parseUrl(s: string): Indicator | undefined {
  const url = canonicalUrl(s);
  return url ? { type: 'url', id: urlId(url), value: url, collection: 'urls' } : undefined;
}

function looksLikeUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /[/?#]/.test(s) || /:\d+$/.test(s) || /@/.test(s);
}

/**
 * Parses one indicator. With `type`, the input is read as that type (a URL given as a domain
 * is reduced to its host; a domain given as a URL becomes http://domain/).
 */
export function parseIndicator(raw: string, type?: IndicatorType): ParseResult {
  if (typeof raw !== 'string' || raw.trim() === '') {
    return { ok: false, reason: `The indicator is empty. Give ${ACCEPTED_FORMS}.` };
  }
  if (raw.length > 8192) {
    return { ok: false, reason: 'The indicator is longer than 8,192 characters; that is not an indicator.' };
  }
  const s = refang(raw);
  const shown = raw.length > 80 ? `${raw.slice(0, 80)}…` : raw;
  const fail = (what: string): ParseResult => ({
    ok: false,
    reason: `"${stripUnsafe(shown)}" is not ${what}. Accepted: ${ACCEPTED_FORMS}.`,
  });

  let found: Indicator | undefined;
  switch (type) {
    case 'file':
      found = parseHash(s);
      return found ? { ok: true, indicator: found } : fail('an MD5, SHA-1 or SHA-256 hash');
    case 'ip_address':
      found = parseIp(s);
      return found ? { ok: true, indicator: found } : fail('an IPv4 or IPv6 address');
    case 'domain': {
      found = parseDomain(s);
      if (!found && looksLikeUrl(s)) {
        const url = canonicalUrl(s);
        if (url) found = parseDomain(new URL(url).hostname);
      }
      return found ? { ok: true, indicator: found } : fail('a domain name');
    }
    case 'url':
      found = parseUrl(s);
      return found ? { ok: true, indicator: found } : fail('an http, https or ftp URL');
    default:
      found =
        parseHash(s) ??
        parseIp(s) ??
        (looksLikeUrl(s) ? parseUrl(s) : undefined) ??
        (/^[0-9a-f]+$/i.test(s) ? undefined : parseDomain(s));
      return found ? { ok: true, indicator: found } : fail('a recognised indicator');
  }
}

export function collectionOf(type: IndicatorType): Indicator['collection'] {
  return COLLECTION[type];
}
