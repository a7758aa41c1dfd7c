/**
 * Recognising what a user pasted (src/vt/indicators.ts): hashes, URLs and their VT ids, domains, IPs,
 * defanged forms, the type override, and rejections that explain themselves.
 */
import { describe, expect, it } from 'vitest';
import {
  canonicalUrl,
  type Indicator,
  type IndicatorType,
  parseIndicator,
  refang,
  urlId,
} from '../src/vt/indicators.js';

/** Parses and insists on success, so each test reads as "this input means that". */
function ok(raw: string, type?: IndicatorType): Indicator {
  const r = parseIndicator(raw, type);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(raw)} to parse, got: ${r.reason}`);
  return r.indicator;
}

function reasonFor(raw: string, type?: IndicatorType): string {
  const r = parseIndicator(raw, type);
  if (r.ok)
    throw new Error(`expected ${JSON.stringify(raw)} to be rejected, got ${JSON.stringify(r.indicator)}`);
  return r.reason;
}

/** VT's URL id, derived independently of urlId(): standard base64, made URL-safe, padding dropped. */
function vtUrlId(url: string): string {
  return Buffer.from(url, 'utf8')
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point.
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/;

describe('file hashes', () => {
  it.each([
    ['md5', '44D88612FEA8A8F36DE82E1278ABB02F'],
    ['sha1', '3395856CE81F2B7382DEE72602F798B642F14140'],
    ['sha256', '275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F'],
  ] as const)('%s is recognised and folded to lower case', (kind, hash) => {
    const ind = ok(hash);
    expect(ind).toMatchObject({ type: 'file', collection: 'files', hashKind: kind });
    expect(ind.id).toBe(hash.toLowerCase());
    expect(ind.value).toBe(hash.toLowerCase());
  });

  it('accepts a hash wrapped in whitespace or quotes', () => {
    expect(ok('  "44d88612fea8a8f36de82e1278abb02f"\n').id).toBe('44d88612fea8a8f36de82e1278abb02f');
  });

  it('refuses hex strings of other lengths, also when told they are files', () => {
    for (const len of [31, 33, 39, 41, 44, 63, 65, 128]) {
      const hex = 'ab'.repeat(64).slice(0, len);
      expect(parseIndicator(hex).ok, `length ${len}`).toBe(false);
      expect(parseIndicator(hex, 'file').ok, `length ${len} as file`).toBe(false);
    }
  });
});

describe('URLs and their VirusTotal ids', () => {
  it('gives http://example.com/ the id VT documents', () => {
    const ind = ok('http://example.com/');
    expect(ind).toMatchObject({ type: 'url', collection: 'urls', value: 'http://example.com/' });
    expect(ind.id).toBe('aHR0cDovL2V4YW1wbGUuY29tLw');
  });

  it('urlId is unpadded base64url: no "=", "/" or "+", and it decodes back', () => {
    // Chosen so that standard base64 of it has "+", "/" and padding.
    const url = 'http://example.com/???>>>a';
    const standard = Buffer.from(url).toString('base64');
    expect(standard).toMatch(/\+/);
    expect(standard).toMatch(/\//);
    expect(standard).toMatch(/=$/);
    const id = urlId(url);
    expect(id).not.toMatch(/[=+/]/);
    expect(id).toBe(vtUrlId(url));
    expect(Buffer.from(id, 'base64url').toString('utf8')).toBe(url);
  });

  it('the id of a parsed URL is the base64url of its canonical form', () => {
    for (const raw of [
      'https://example.org/a/b?c=d&e=f',
      'http://1.2.3.4:8080/x',
      'ftp://files.example.net/pub/',
    ]) {
      const ind = ok(raw);
      expect(ind.type).toBe('url');
      expect(ind.id).toBe(vtUrlId(ind.value));
    }
  });

  it('adds http:// to a URL given without a scheme', () => {
    expect(ok('example.com/path?q=1').value).toBe('http://example.com/path?q=1');
    expect(ok('example.com:8080').value).toBe('http://example.com:8080/');
    expect(ok('www.example.com/').value).toBe('http://www.example.com/');
  });

  it('gives every spelling of one URL one id', () => {
    const spellings = [
      'http://example.com/',
      'http://example.com',
      'HTTP://EXAMPLE.COM/',
      'Http://Example.Com',
      'http://example.com:80/',
      'http://example.com:80',
      'http://example.com/#top',
      'example.com/',
      ' http://example.com/ ',
      'hxxp://example[.]com',
    ];
    const ids = new Set(spellings.map((s) => ok(s).id));
    expect([...ids]).toEqual(['aHR0cDovL2V4YW1wbGUuY29tLw']);
    expect(ok('https://example.com:443').id).toBe(ok('https://example.com/').id);
  });

  it('keeps what makes URLs different', () => {
    expect(ok('http://example.com/A').id).not.toBe(ok('http://example.com/a').id);
    expect(ok('https://example.com/').id).not.toBe(ok('http://example.com/').id);
    expect(ok('http://example.com:8080/').id).not.toBe(ok('http://example.com/').id);
    expect(ok('http://example.com/?a=1').id).not.toBe(ok('http://example.com/?a=2').id);
  });

  it('sends an IDN host as punycode', () => {
    expect(ok('http://bücher.example/katalog').value).toBe('http://xn--bcher-kva.example/katalog');
    expect(canonicalUrl('https://BÜCHER.example')).toBe('https://xn--bcher-kva.example/');
  });

  it('keeps IP hosts, IPv6 in brackets', () => {
    expect(ok('http://[2001:DB8::1]:8080/x').value).toBe('http://[2001:db8::1]:8080/x');
    expect(ok('https://1.2.3.4/').value).toBe('https://1.2.3.4/');
  });

  it('keeps a closing parenthesis that belongs to the URL', () => {
    const url = 'https://en.wikipedia.org/wiki/Foo_(bar)';
    expect(ok(url).value).toBe(url);
    expect(ok(`(${url})`).value).toBe(url);
    expect(ok(`<${url}>`).value).toBe(url);
  });

  it('canonicalUrl refuses schemes and hosts that are not web indicators', () => {
    expect(canonicalUrl('javascript:alert(1)')).toBeUndefined();
    expect(canonicalUrl('file:///etc/passwd')).toBeUndefined();
    expect(canonicalUrl('data://text/plain,hi')).toBeUndefined();
    expect(canonicalUrl('http://under_score-/')).toBeUndefined();
  });
});

describe('domains', () => {
  it.each([
    ['example.com', 'example.com'],
    ['EXAMPLE.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['Sub.Example.co.uk', 'sub.example.co.uk'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['BÜCHER.example.', 'xn--bcher-kva.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
  ])('%s → %s', (raw, id) => {
    const ind = ok(raw);
    expect(ind).toMatchObject({ type: 'domain', collection: 'domains', id, value: id });
  });
});

describe('IP addresses', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    [' 8.8.8.8 ', '8.8.8.8'],
    ['[1.2.3.4]', '1.2.3.4'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[::1]', '::1'],
    ['FE80:0:0:0:0:0:0:ABCD', 'fe80::abcd'],
  ])('%s → %s', (raw, id) => {
    const ind = ok(raw);
    expect(ind).toMatchObject({ type: 'ip_address', collection: 'ip_addresses', id, value: id });
  });

  it('one address, one id', () => {
    const ids = new Set(
      ['2001:db8::1', '2001:DB8::1', '[2001:db8:0::1]', '2001:db8:0:0::0:1'].map((s) => ok(s).id),
    );
    expect(ids.size).toBe(1);
  });
});

describe('defanged forms', () => {
  it.each([
    ['hxxp://evil[.]com/a', 'url', 'http://evil.com/a'],
    ['hxxps://x(.)com', 'url', 'https://x.com/'],
    ['HXXPS://evil[.]com/login', 'url', 'https://evil.com/login'],
    ['http[:]//x.com', 'url', 'http://x.com/'],
    ['http[://]x.com/p', 'url', 'http://x.com/p'],
    ['hxxp[://]evil[.]com[/]a', 'url', 'http://evil.com/a'],
    ['1.2.3[.]4', 'ip_address', '1.2.3.4'],
    ['1[.]2[.]3[.]4', 'ip_address', '1.2.3.4'],
    ['evil[.]com', 'domain', 'evil.com'],
    ['evil[dot]com', 'domain', 'evil.com'],
    ['evil(.)co{.}uk', 'domain', 'evil.co.uk'],
  ] as const)('%s is the %s %s', (raw, type, value) => {
    expect(ok(raw)).toMatchObject({ type, value });
  });

  it('a defanged URL gets the same id as the live one', () => {
    expect(ok('hxxp://evil[.]com/a').id).toBe(ok('http://evil.com/a').id);
    expect(ok('hxxps://x(.)com').id).toBe(vtUrlId('https://x.com/'));
  });

  it('refang undoes the usual defanging and leaves live text alone', () => {
    expect(refang('hxxp://evil[.]com')).toBe('http://evil.com');
    expect(refang('hxxps://evil[.]com')).toBe('https://evil.com');
    expect(refang('http[:]//x[.]com')).toBe('http://x.com');
    expect(refang('http[://]x.com')).toBe('http://x.com');
    expect(refang('user[@]evil[.]com')).toBe('user@evil.com');
    expect(refang('https://example.com/a.b')).toBe('https://example.com/a.b');
  });
});

describe('the type override', () => {
  it('domain given a URL answers with its host', () => {
    expect(ok('https://Sub.Example.com/a/b?c=d', 'domain')).toMatchObject({
      type: 'domain',
      id: 'sub.example.com',
    });
    expect(ok('hxxp://evil[.]com/payload.exe', 'domain')).toMatchObject({ type: 'domain', id: 'evil.com' });
  });

  it('url given a bare domain answers with http://domain/', () => {
    const ind = ok('example.com', 'url');
    expect(ind).toMatchObject({ type: 'url', value: 'http://example.com/' });
    expect(ind.id).toBe('aHR0cDovL2V4YW1wbGUuY29tLw');
  });

  it('ip_address and file refuse what they are not', () => {
    expect(reasonFor('example.com', 'file')).toMatch(/hash/i);
    expect(reasonFor('example.com', 'ip_address')).toMatch(/IPv4 or IPv6/);
    expect(ok('1.2.3.4', 'ip_address').id).toBe('1.2.3.4');
  });

  it('no type lets a path through', () => {
    for (const type of ['file', 'url', 'domain', 'ip_address', undefined] as const) {
      expect(parseIndicator('../../users/me', type).ok, String(type)).toBe(false);
    }
  });
});

describe('rejections name the accepted forms', () => {
  const bad: Array<[string, string]> = [
    ['empty string', ''],
    ['whitespace', ' \t\n '],
    ['path traversal', '../../users/me'],
    ['words', 'not an indicator'],
    ['three octets', '1.2.3'],
    ['javascript: URL', 'javascript:alert(1)'],
    ['9,000 characters', 'x'.repeat(9000)],
    ['control characters', 'evil\u0000.com\u0007\u001b[2J'],
    ['octet out of range', '1.2.3.256'],
    ['single label', 'localhost'],
  ];

  it.each(bad)('%s', (_what, raw) => {
    const reason = reasonFor(raw);
    for (const form of ['MD5', 'SHA-1', 'SHA-256', 'URL', 'domain', 'IPv4', 'IPv6', 'hxxp://evil[.]com']) {
      expect(reason).toContain(form);
    }
    expect(reason.length).toBeLessThan(600);
  });

  it('a hex string of the wrong length is named as a cut-off hash, with the lengths of real ones', () => {
    const reason = reasonFor('a'.repeat(44));
    expect(reason).toMatch(/44 hex digits, not a whole hash \(MD5 has 32, SHA-1 40, SHA-256 64\)/);
  });

  it('an indicator of another type than asked for is named for what it is', () => {
    const r = parseIndicator('github.com', 'file');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe('"github.com" is a domain, not an MD5, SHA-1 or SHA-256 hash.');
  });

  it('an email address is refused, pointing at its domain', () => {
    expect(reasonFor('alice@corp.example')).toMatch(/email address.*Look up its domain, corp\.example/);
  });

  it('never echoes control or bidi characters, and does not echo a long input whole', () => {
    const hostile = `\u202egnp.exe\u0000\u0007\u001b[31m\u200bevil\u2066\r\n${'y'.repeat(500)}`;
    const reason = reasonFor(hostile);
    expect(reason).not.toMatch(CONTROL_OR_BIDI);
    expect(reason).toContain('gnp.exe');
    expect(reason).not.toContain('y'.repeat(200));
    expect(reasonFor('x'.repeat(9000)).length).toBeLessThan(600);
  });
});
