/**
 * Recognises what a user pasted: a file hash, URL, domain or IP, defanged or not,
 * and turns it into the id VirusTotal uses. Anything else is rejected here, before any request.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
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
  return unwrap(raw.trim())
    .replace(/^h(?:xx|\*\*|XX|xX|Xx)p(s?)/i, 'http$1')
    .replace(/^fxp(s?)/i, 'ftp$1')
    .replace(/\[\s*:\s*\/\s*\/\s*\]|\[:\/\/\]/g, '://')
    .replace(/\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\}/gi, '.')
    .replace(/\[\s*:\s*\]/g, ':')
    .replace(/\[\s*@\s*\]|\[at\]/gi, '@')
    .replace(/\[\s*\/\s*\]/g, '/');
}

/**
 * Drops quotes, angle brackets and parentheses wrapped around a pasted indicator. A closing parenthesis
 * also ends many real URLs (https://en.wikipedia.org/wiki/Foo_(bar)), so only an unbalanced one goes.
 */
function unwrap(s: string): string {
  let out = s.replace(/^[<"'`(]+/, '');
  const count = (c: string) => out.split(c).length - 1;
  for (let last = out.at(-1); last !== undefined && '>"\'`)'.includes(last); last = out.at(-1)) {
    if (last === ')' && count('(') >= count(')')) break;
    out = out.slice(0, -1);
  }
  return out;
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
  // A zone id ("fe80::1%eth0") is local to one machine: not something VirusTotal can know.
  if (isIPv6(bare) && !bare.includes('%')) {
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
    return {
      ok: false,
      reason: `The indicator is longer than 8,192 characters; that is not an indicator. Give ${ACCEPTED_FORMS}.`,
    };
  }
  const s = refang(raw);
  const shown = raw.length > 80 ? `${raw.slice(0, 80)}…` : raw;
  const quoted = `"${stripUnsafe(shown)}"`;
  const fail = (what: string): ParseResult => {
    // Say what it is when it is something else, rather than listing every accepted form.
    const actual = type ? detect(s) : undefined;
    if (actual && actual.type !== type) {
      return { ok: false, reason: `${quoted} is ${KIND_NAMES[actual.type]}, not ${what}.` };
    }
    if (/^[0-9a-f]+$/i.test(s) && s.length >= 24 && !HASH_KINDS[s.length]) {
      return {
        ok: false,
        reason: `${quoted} has ${s.length} hex digits, not a whole hash (MD5 has 32, SHA-1 40, SHA-256 64). Was it cut off?`,
      };
    }
    const email = /^[^\s@/:]+@([^\s@/:]+\.[a-z]{2,63})$/i.exec(s);
    if (email) {
      return {
        ok: false,
        reason: `${quoted} is an email address; VirusTotal has no lookups for those. Look up its domain, ${email[1]}.`,
      };
    }
    return { ok: false, reason: `${quoted} is not ${what}. Accepted: ${ACCEPTED_FORMS}.` };
  };

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
      found = detect(s);
      return found ? { ok: true, indicator: found } : fail('a recognised indicator');
  }
}

const KIND_NAMES: Record<IndicatorType, string> = {
  file: 'a file hash',
  url: 'a URL',
  domain: 'a domain',
  ip_address: 'an IP address',
};

/** The type an already refanged string reads as, with no hint given. */
function detect(s: string): Indicator | undefined {
  if (/^[^\s@/:]+@[^\s@/:]+$/.test(s)) return undefined; // an email address, not a URL with credentials
  return (
    parseHash(s) ??
    parseIp(s) ??
    (looksLikeUrl(s) ? parseUrl(s) : undefined) ??
    (/^[0-9a-f]+$/i.test(s) ? undefined : parseDomain(s))
  );
}

// Addresses that no one outside the local network can see: VirusTotal knows nothing useful of them.
const NON_PUBLIC: Array<[string, number, 'ipv4' | 'ipv6', string]> = [
  ['10.0.0.0', 8, 'ipv4', 'a private (RFC 1918) address'],
  ['172.16.0.0', 12, 'ipv4', 'a private (RFC 1918) address'],
  ['192.168.0.0', 16, 'ipv4', 'a private (RFC 1918) address'],
  ['127.0.0.0', 8, 'ipv4', 'a loopback address'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address'],
  ['100.64.0.0', 10, 'ipv4', 'a carrier-grade NAT (RFC 6598) address'],
  ['0.0.0.0', 8, 'ipv4', 'a reserved address'],
  ['224.0.0.0', 4, 'ipv4', 'a multicast address'],
  ['240.0.0.0', 4, 'ipv4', 'a reserved address'],
  ['::1', 128, 'ipv6', 'the loopback address'],
  ['::', 128, 'ipv6', 'the unspecified address'],
  ['fc00::', 7, 'ipv6', 'a unique local (private) address'],
  ['fe80::', 10, 'ipv6', 'a link-local address'],
  ['ff00::', 8, 'ipv6', 'a multicast address'],
];
const nonPublicLists = NON_PUBLIC.map(([net, prefix, family, why]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, family);
  return { list, family, why };
});

/** Why an IP is not worth a lookup (private, loopback, ...), or undefined for a public address. */
export function nonPublicIp(ip: string): string | undefined {
  const family = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined;
  if (!family) return undefined;
  return nonPublicLists.find((n) => n.family === family && n.list.check(ip, family))?.why;
}

export function collectionOf(type: IndicatorType): Indicator['collection'] {
  return COLLECTION[type];
}

// Words that parse as domains but are file names: in free text, "invoice.pdf" is not a lookup.
// Extensions that are also busy TLDs (com, pl, rs, sh, py, md, one...) are left out on purpose.
const FILE_EXTENSIONS = new Set(
  (
    'exe dll sys scr bat cmd ps1 psm1 vbs vbe js jse wsf hta msi msp lnk pif cpl jar apk ipa dmg iso img vhd ' +
    'doc docx docm xls xlsx xlsm ppt pptx pdf rtf txt log csv json xml yml yaml ini cfg conf tmp dat bin ' +
    'png jpg jpeg gif bmp ico svg mp3 mp4 avi wav rar 7z gz tgz bz2 xz tar cab rb php asp aspx jsp ' +
    'cpp java class elf dylib eml msg pst chm'
  ).split(' '),
);

export interface Extracted {
  indicators: Indicator[];
  /** Tokens that looked like file names and were not looked up. */
  skipped: string[];
  /** Private IPs and email addresses, with why: there is nothing to look up. */
  notLookedUp: string[];
}

/**
 * Pulls every indicator out of free text (a pasted report, a log line, a list), defanged ones
 * included, without duplicates. Plain words are ignored; file names are set aside, not looked up.
 */
export function extractIndicators(text: string): Extracted {
  const seen = new Set<string>();
  const indicators: Indicator[] = [];
  const skipped: string[] = [];
  const notLookedUp: string[] = [];
  // Defang brackets may contain a dot, so split only on separators that never occur inside one.
  for (const raw of text.split(/[\s,;|"'<>`]+/)) {
    const token = raw.replace(/^[([{]+(?=[^.\])}])/, '').replace(/[.,:;!?)\]}]+$/, (m) =>
      // Keep a closing bracket that belongs to a defang such as "(.)" or "[.]"; drop sentence punctuation.
      /\[\.\]$|\(\.\)$/.test(raw) ? m.replace(/[.,:;!?]+$/, '') : '',
    );
    if (token.length < 4 || token.length > 2048) continue;
    const parsed = parseIndicator(token);
    if (!parsed.ok) {
      if (/^[^\s@/:]+@[^\s@/:]+\.[a-z]{2,63}$/i.test(token)) notLookedUp.push(`${token} (email address)`);
      continue;
    }
    const ind = parsed.indicator;
    const why = ind.type === 'ip_address' ? nonPublicIp(ind.id) : undefined;
    if (why) {
      notLookedUp.push(`${ind.id} (${why.replace(/^an? |^the /, '')})`);
      continue;
    }
    if (ind.type === 'domain' && !/\[|\(|\{/.test(token)) {
      const tld = ind.id.slice(ind.id.lastIndexOf('.') + 1);
      if (FILE_EXTENSIONS.has(tld)) {
        skipped.push(token);
        continue;
      }
    }
    const key = `${ind.type}:${ind.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    indicators.push(ind);
  }
  return { indicators, skipped, notLookedUp };
}
