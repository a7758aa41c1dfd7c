/**
 * Recognises what a user pasted: a file hash, URL, domain or IP, defanged or not, and turns it into the
 * id VirusTotal uses; apart from those, a collection id or an ATT&CK technique id (parseThreatRef).
 * Anything else is rejected here, before any request. Whether an IP is public, in words, is ip-ranges.ts's
 * (nonPublicIp, re-exported here).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';
import { nonPublicIp } from './ip-ranges.js';

export { nonPublicIp } from './ip-ranges.js';

export type IndicatorType = 'file' | 'url' | 'domain' | 'ip_address';

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

/**
 * Why an input is not an indicator, as facts (answers/wording.ts words them). `shown` is the input as
 * given, cut to 80 characters; untrusted, so wording cleans it.
 */
export type IndicatorProblem =
  | { kind: 'empty' }
  | { kind: 'too_long'; max: number }
  /** Read as `actual` when the caller asked for `wanted`. */
  | { kind: 'other_type'; shown: string; actual: IndicatorType; wanted: IndicatorType }
  /** Hex digits of no hash's length (24 or more): probably a hash cut off. */
  | { kind: 'partial_hash'; shown: string; digits: number }
  | { kind: 'email'; shown: string; domain: string }
  /** Nothing recognised; `wanted` is the type asked for, if any. */
  | { kind: 'unrecognised'; shown: string; wanted?: IndicatorType };

type ParseResult = { ok: true; indicator: Indicator } | { ok: false; problem: IndicatorProblem };

/** The longest input read as an indicator. */
const MAX_INDICATOR_CHARS = 8192;

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
    // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 address (RFC 4291, 2.5.5.2): one host, one id.
    const v6 = ipaddr.IPv6.isValid(canonical) ? ipaddr.IPv6.parse(canonical) : undefined;
    if (v6?.isIPv4MappedAddress()) {
      const v4 = v6.toIPv4Address().toString();
      return { type: 'ip_address', id: v4, value: v4, collection: 'ip_addresses' };
    }
    return { type: 'ip_address', id: canonical, value: canonical, collection: 'ip_addresses' };
  }
  return undefined;
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Returns the ASCII (punycode) form of a domain name, or undefined if it is not one. */
function normaliseDomain(s: string): string | undefined {
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
  // The canonical form must read back as itself: a quote or an unbalanced parenthesis at its very end
  // would be taken for one wrapped around a pasted URL (unwrap drops it), so it is written escaped.
  const out = u.toString();
  const count = (c: string) => out.split(c).length - 1;
  if (out.endsWith("'")) return `${out.slice(0, -1)}%27`;
  if (out.endsWith(')') && count('(') < count(')')) return `${out.slice(0, -1)}%29`;
  return out;
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
  if (typeof raw !== 'string' || raw.trim() === '') return { ok: false, problem: { kind: 'empty' } };
  if (raw.length > MAX_INDICATOR_CHARS) {
    return { ok: false, problem: { kind: 'too_long', max: MAX_INDICATOR_CHARS } };
  }
  const s = refang(raw);
  const shown = raw.length > 80 ? `${raw.slice(0, 80)}…` : raw;
  const fail = (): ParseResult => {
    // What it is when it is something else, rather than every accepted form.
    const actual = type ? detect(s) : undefined;
    if (type && actual && actual.type !== type) {
      return { ok: false, problem: { kind: 'other_type', shown, actual: actual.type, wanted: type } };
    }
    if (/^[0-9a-f]+$/i.test(s) && s.length >= 24 && !HASH_KINDS[s.length]) {
      return { ok: false, problem: { kind: 'partial_hash', shown, digits: s.length } };
    }
    const domain = /^[^\s@/:]+@([^\s@/:]+\.[a-z]{2,63})$/i.exec(s)?.[1];
    if (domain !== undefined) return { ok: false, problem: { kind: 'email', shown, domain } };
    return { ok: false, problem: { kind: 'unrecognised', shown, ...(type ? { wanted: type } : {}) } };
  };

  let found: Indicator | undefined;
  switch (type) {
    case 'file':
      found = parseHash(s);
      return found ? { ok: true, indicator: found } : fail();
    case 'ip_address':
      found = parseIp(s);
      return found ? { ok: true, indicator: found } : fail();
    case 'domain': {
      found = parseDomain(s);
      if (!found && looksLikeUrl(s)) {
        const url = canonicalUrl(s);
        if (url) found = parseDomain(new URL(url).hostname);
      }
      return found ? { ok: true, indicator: found } : fail();
    }
    case 'url':
      found = parseUrl(s);
      return found ? { ok: true, indicator: found } : fail();
    default:
      found = detect(s);
      return found ? { ok: true, indicator: found } : fail();
  }
}

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

/**
 * A VirusTotal collection: a curated threat object of Google Threat Intelligence (threat actor, campaign,
 * malware family, report, vulnerability) or a user-made IoC collection.
 */
export interface CollectionRef {
  type: 'collection';
  /** The id in GET /collections/{id}: "threat-actor--<uuid>", "vulnerability--cve-2021-44228", 64 hex… */
  id: string;
  value: string;
  collection: 'collections';
  /** What the id's prefix says it is; a user-made IoC collection's 64-hex id says nothing. */
  kind?: CollectionIdKind;
}

export type CollectionIdKind = 'threat-actor' | 'campaign' | 'malware' | 'report' | 'vulnerability';

/** A MITRE ATT&CK technique id (T1055, T1055.012, ICS T0822): answered offline, never looked up. */
export interface TechniqueRef {
  type: 'attack_technique';
  /** Upper case, as MITRE writes it. */
  id: string;
  value: string;
}

export type ThreatRef = CollectionRef | TechniqueRef;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
// The prefixes Google Threat Intelligence gives its curated collections. Report ids are Mandiant's
// report numbers ("25-20031886") or uuids; vulnerabilities are named by their CVE.
const CURATED_ID = new RegExp(
  `^(?:(threat-actor|campaign|malware)--${UUID}|(report)--[0-9a-z]{1,32}(?:-[0-9a-z]{1,32}){0,6}|` +
    `(vulnerability)--(?:cve-\\d{4}-\\d{4,7}|${UUID}))$`,
);
const CVE = /^cve-\d{4}-\d{4,7}$/;
/** Any other collection id given with type "collection": VT's ids are letters, digits, "-" and "_". */
const OTHER_COLLECTION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$/;
/** A technique id as MITRE writes it: T, four digits, and an optional .three-digit sub-technique. */
export const TECHNIQUE_ID = /^T\d{4}(?:\.\d{3})?$/;

/** The kind a curated collection id's prefix names (CURATED_ID captures one of these). */
function collectionIdKind(prefix: string | undefined): CollectionIdKind | undefined {
  switch (prefix) {
    case 'threat-actor':
    case 'campaign':
    case 'malware':
    case 'report':
    case 'vulnerability':
      return prefix;
    default:
      return undefined;
  }
}

function collectionRef(id: string, kind?: CollectionIdKind): CollectionRef {
  return { type: 'collection', id, value: id, collection: 'collections', ...(kind ? { kind } : {}) };
}

/**
 * A collection id or an ATT&CK technique id, or undefined. Without `type`, only ids no indicator can
 * have are read (prefixed collection ids, a bare CVE id, T-numbers); a bare 64-hex string stays a
 * SHA-256 hash. With type "collection", a user-made collection's 64-hex id (or another plain id) too.
 */
export function parseThreatRef(raw: string, type?: IndicatorType | 'collection'): ThreatRef | undefined {
  if (typeof raw !== 'string' || raw.length > 300) return undefined;
  if (type !== undefined && type !== 'collection') return undefined;
  const s = unwrap(raw.trim());
  if (type === undefined && TECHNIQUE_ID.test(s.toUpperCase())) {
    const id = s.toUpperCase();
    return { type: 'attack_technique', id, value: id };
  }
  const lower = s.toLowerCase();
  const m = CURATED_ID.exec(lower);
  if (m) return collectionRef(lower, collectionIdKind(m[1] ?? m[2] ?? m[3]));
  if (CVE.test(lower)) return collectionRef(`vulnerability--${lower}`, 'vulnerability');
  if (type !== 'collection') return undefined;
  if (/^[0-9a-f]{64}$/.test(lower)) return collectionRef(lower);
  return OTHER_COLLECTION_ID.test(s) ? collectionRef(s) : undefined;
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

interface Extracted {
  indicators: Indicator[];
  /** For each indicator, the token it was read from, as written (defanged, say): to point into the text. */
  tokens: string[];
  /** Tokens that looked like file names and were not looked up. */
  skipped: string[];
  /** Non-public IPs and email addresses, with why, each once: there is nothing to look up. */
  notLookedUp: string[];
}

/**
 * Pulls every indicator out of free text (a pasted report, a log line, a list), defanged ones
 * included, without duplicates. Plain words are ignored; file names are set aside, not looked up.
 */
export function extractIndicators(text: string): Extracted {
  const seen = new Set<string>();
  const indicators: Indicator[] = [];
  const tokens: string[] = [];
  const skipped: string[] = [];
  const notLookedUp: string[] = [];
  // Each set-aside token or address is named once, however often the text repeats it.
  const noted = new Set<string>();
  const note = (key: string, entry: string, list = notLookedUp) => {
    if (noted.has(key)) return;
    noted.add(key);
    list.push(entry);
  };
  // Defang brackets may contain a dot, so split only on separators that never occur inside one.
  for (const raw of text.split(/[\s,;|"'<>`]+/)) {
    const token = raw.replace(/^[([{]+(?=[^.\])}])/, '').replace(/[.,:;!?)\]}]+$/, (m) =>
      // Keep a closing bracket that belongs to a defang such as "(.)" or "[.]"; drop sentence punctuation.
      /\[\.\]$|\(\.\)$/.test(raw) ? m.replace(/[.,:;!?]+$/, '') : '',
    );
    if (token.length < 4 || token.length > 2048) continue;
    const parsed = parseIndicator(token);
    if (!parsed.ok) {
      if (/^[^\s@/:]+@[^\s@/:]+\.[a-z]{2,63}$/i.test(token))
        note(token.toLowerCase(), `${token} (email address)`);
      continue;
    }
    const ind = parsed.indicator;
    const why = ind.type === 'ip_address' ? nonPublicIp(ind.id) : undefined;
    if (why) {
      note(ind.id, `${ind.id} (${why.replace(/^an? |^the /, '')})`);
      continue;
    }
    if (ind.type === 'domain' && !/\[|\(|\{/.test(token)) {
      const tld = ind.id.slice(ind.id.lastIndexOf('.') + 1);
      if (FILE_EXTENSIONS.has(tld)) {
        note(`skip:${token}`, token, skipped);
        continue;
      }
    }
    const key = `${ind.type}:${ind.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    indicators.push(ind);
    tokens.push(token);
  }
  return { indicators, tokens, skipped, notLookedUp };
}
