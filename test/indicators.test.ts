/**
 * Recognising what a user pasted (src/vt/indicators.ts): hashes, URLs and their VT ids, domains, IPs,
 * defanged forms, the type override, and rejections that explain themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indicatorProblemText } from '../src/answers/wording.js';
import {
  canonicalUrl,
  extractIndicators,
  type Indicator,
  type IndicatorType,
  nonPublicIp,
  parseIndicator,
  refang,
  urlId,
} from '../src/vt/indicators.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

/** Parses and insists on success, so each test reads as "this input means that". */
function ok(raw: string, type?: IndicatorType): Indicator {
  const r = parseIndicator(raw, type);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(raw)} to parse, got: ${JSON.stringify(r.problem)}`);
  return r.indicator;
}

/** The sentence a rejected input gets (the facts from src/vt, worded by answers/wording.ts). */
function reasonFor(raw: string, type?: IndicatorType): string {
  const r = parseIndicator(raw, type);
  if (r.ok)
    throw new Error(`expected ${JSON.stringify(raw)} to be rejected, got ${JSON.stringify(r.indicator)}`);
  return indicatorProblemText(r.problem);
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
  it('a canonical URL reads back as itself, even ending in a quote or an unbalanced parenthesis', () => {
    // Found by the property test (seed 173901627): "0/'#" gave http://0.0.0.0/' whose quote the next
    // parse took for a wrapping one.
    for (const input of [
      "0/'#",
      "http://a.example/x'#frag",
      'http://a.example/x)#frag',
      'http://a.example/f_(b)',
    ]) {
      const first = parseIndicator(input);
      if (!first.ok) throw new Error(`${input} not accepted`);
      const again = parseIndicator(first.indicator.value);
      expect(again.ok && again.indicator).toEqual(first.indicator);
    }
    const paren = parseIndicator('http://a.example/f_(b)');
    expect(paren.ok && paren.indicator.value).toBe('http://a.example/f_(b)');
  });

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
    expect(!r.ok && r.problem).toEqual({
      kind: 'other_type',
      shown: 'github.com',
      actual: 'domain',
      wanted: 'file',
    });
    expect(reasonFor('github.com', 'file')).toBe(
      '"github.com" is a domain, not an MD5, SHA-1 or SHA-256 hash.',
    );
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

/**
 * Addresses that reach no one on the Internet, or that no one there could reach: each with the words
 * that must name its kind. VirusTotal can tell nothing of them, so they cost no lookup.
 */
const NON_PUBLIC: Array<[string, RegExp]> = [
  // IPv4: RFC 1918, loopback, link-local, CGN, "this network", broadcast, multicast, reserved.
  ['10.0.0.1', /private \(RFC 1918\)/],
  ['172.31.255.254', /private \(RFC 1918\)/],
  ['192.168.1.1', /private \(RFC 1918\)/],
  ['127.0.0.1', /loopback/],
  ['169.254.169.254', /link-local/],
  ['100.64.0.1', /carrier-grade NAT/],
  ['0.0.0.0', /this network/],
  ['0.1.2.3', /this network/],
  ['255.255.255.255', /broadcast/],
  ['224.0.0.251', /multicast/],
  ['239.255.255.250', /multicast/],
  ['240.0.0.1', /reserved/],
  // The IANA special-purpose blocks that ipaddr.js files together as "reserved", each named.
  ['192.0.2.1', /documentation address \(TEST-NET-1/],
  ['198.51.100.7', /documentation address \(TEST-NET-2/],
  ['203.0.113.254', /documentation address \(TEST-NET-3/],
  ['198.18.0.1', /benchmarking/],
  ['198.19.255.255', /benchmarking/],
  ['192.0.0.8', /IETF protocol assignment/],
  ['192.88.99.1', /6to4 relay/],
  ['192.31.196.1', /AS112/],
  ['192.175.48.6', /AS112/],
  ['192.52.193.1', /AMT/],
  // IPv6.
  ['::1', /loopback/],
  ['::', /unspecified/],
  ['fe80::1', /link-local/],
  ['fc00::1', /unique local/],
  ['fd12:3456:789a::1', /unique local/],
  ['fec0::1', /site-local/],
  ['ff02::1', /multicast/],
  ['2001:db8::1', /documentation address \(2001:db8::\/32\)/],
  ['2001:db8:ffff:ffff::1', /documentation address/],
  ['3fff::1', /documentation address \(3fff::\/20\)/],
  ['100::1', /discard/],
  ['2001:2::1', /benchmarking/],
  ['2001:1::1', /IETF protocol assignment/],
  ['2001:20::1', /ORCHIDv2/],
  ['5f00::1', /segment routing/],
  ['64:ff9b:1::a00:1', /local-use NAT64/],
  // Not global unicast at all (only 2000::/3 is): IPv4-compatible, and reserved space.
  ['::a00:1', /outside the IPv6 global unicast space/],
  ['::8.8.8.8', /outside the IPv6 global unicast space/],
  ['4000::1', /outside the IPv6 global unicast space/],
  ['::ffff:0:a00:1', /IPv4-translated/],
  // IPv4 addresses inside IPv6 ones are judged by the IPv4 address they carry.
  ['::ffff:10.0.0.1', /private \(RFC 1918\)/],
  ['::ffff:127.0.0.1', /loopback/],
  ['::ffff:192.0.2.1', /TEST-NET-1/],
  ['64:ff9b::10.0.0.1', /NAT64 \(64:ff9b::\/96\) form of 10\.0\.0\.1, a private \(RFC 1918\) address/],
  ['64:ff9b::7f00:1', /NAT64 .* of 127\.0\.0\.1, a loopback address/],
  ['2002:c0a8:101::1', /6to4 \(2002::\/16\) address of 192\.168\.1\.1, a private/],
  ['2002:7f00:1::1', /6to4 .* of 127\.0\.0\.1/],
  // RFC 4380's own example: client 192.0.2.45 (stored inverted), server 65.54.227.120.
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo address for the client of 192\.0\.2\.45, a documentation/],
  ['2001:0:a00:1:8000:63bf:f7f7:f7f7', /Teredo address with the server of 10\.0\.0\.1/],
];

const PUBLIC = [
  '8.8.8.8',
  '1.1.1.1',
  '9.9.9.9',
  '45.33.32.156',
  '192.0.3.1', // just past TEST-NET-1
  '198.51.99.255', // just before TEST-NET-2
  '203.0.114.1', // just past TEST-NET-3
  '100.128.0.1', // just past the CGN block
  '172.32.0.1', // just past 172.16.0.0/12
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '2001:db9::1', // just past the documentation block
  '2a00:1450:4001:81c::200e',
  '64:ff9b::808:808', // NAT64 of 8.8.8.8: globally reachable (IANA)
  '2002:808:808::1', // 6to4 of 8.8.8.8
  '2001:0:4136:e378:8000:63bf:f7f7:f7f7', // Teredo: server 65.54.227.120, client 8.8.8.8
];

/** The id parseIndicator gives an address: what the tools pass to nonPublicIp. */
function idOf(ip: string): string {
  return ok(ip, 'ip_address').id;
}

describe('non-public addresses (ipaddr.js ranges, plus the IANA gaps it leaves)', () => {
  it.each(NON_PUBLIC)('%s is refused, named for what it is', (ip, words) => {
    expect(nonPublicIp(idOf(ip))).toMatch(words);
    expect(nonPublicIp(ip)).toMatch(words);
  });

  it.each(PUBLIC)('%s is public: looked up', (ip) => {
    expect(nonPublicIp(idOf(ip))).toBeUndefined();
  });

  it('the words, whole', () => {
    expect(nonPublicIp('10.0.0.1')).toBe('a private (RFC 1918) address');
    expect(nonPublicIp('192.0.2.1')).toBe('a documentation address (TEST-NET-1, 192.0.2.0/24)');
    expect(nonPublicIp('2001:db8::1')).toBe('a documentation address (2001:db8::/32)');
    expect(nonPublicIp('64:ff9b::a00:1')).toBe(
      'a NAT64 (64:ff9b::/96) form of 10.0.0.1, a private (RFC 1918) address',
    );
  });

  it('an IPv4-mapped address is its IPv4 address: one host, one id', () => {
    expect(ok('::ffff:8.8.8.8')).toMatchObject({ type: 'ip_address', id: '8.8.8.8', value: '8.8.8.8' });
    expect(ok('[::FFFF:808:808]').id).toBe('8.8.8.8');
    expect(ok('::ffff:10.0.0.1').id).toBe('10.0.0.1');
    expect(nonPublicIp('::ffff:8.8.8.8')).toBeUndefined();
    expect(nonPublicIp('::ffff:10.0.0.1')).toBe(
      'an IPv4-mapped form of 10.0.0.1, a private (RFC 1918) address',
    );
  });

  it('free text: non-public addresses are named once each and never returned for lookup', () => {
    const text = NON_PUBLIC.map(([ip]) => ip).join(' ');
    const { indicators, notLookedUp } = extractIndicators(`${text} ${text} 8.8.8.8`);
    expect(indicators.map((i) => i.id)).toEqual(['8.8.8.8']);
    // Tokens under 4 characters ("::1", "::") are not read from free text at all.
    const named = new Set(NON_PUBLIC.filter(([ip]) => ip.length >= 4).map(([ip]) => idOf(ip)));
    expect(notLookedUp).toHaveLength(named.size);
    expect(notLookedUp).toContain('192.0.2.1 (documentation address (TEST-NET-1, 192.0.2.0/24))');
  });
});

describe('non-public addresses through the tools (MCP)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it.each(NON_PUBLIC)('vt_get_report %s: named, found:false, no upstream request', async (ip, words) => {
    const before = h.api.count();
    const r = await h.call('vt_get_report', { indicator: ip });
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toMatch(words);
    expect(textOf(r)).toMatch(/Not looked up/);
    expect(r.structuredContent).toMatchObject({ type: 'ip_address', found: false });
    expect(h.api.count() - before).toBe(0);
  });

  it('vt_triage with all of them, as a list and as text: no upstream request, every one named', async () => {
    const ips = NON_PUBLIC.map(([ip]) => ip);
    const before = h.api.count();
    // Each job gets one public address as well, so that there is a lookup to make.
    const asList = await h.call('vt_triage', { indicators: [...ips, '1.1.1.1'] });
    const asText = await h.call('vt_triage', { indicators: `${ips.join(' ')} 1.1.1.1` });
    for (const r of [asList, asText]) {
      expect(r.isError, textOf(r)).toBeFalsy();
      const sc = r.structuredContent as {
        status: string;
        total: number;
        counts: { pending: number };
        results: Array<{ id: string }>;
        ignored?: { not_looked_up?: number };
      };
      // Only the public address is in the job; every other one is counted as not looked up.
      expect(sc).toMatchObject({ status: 'done', total: 1 });
      expect(sc.counts.pending).toBe(0);
      expect(sc.results.map((x) => x.id)).toEqual(['1.1.1.1']);
      expect(sc.ignored?.not_looked_up).toBeGreaterThan(0);
      expect(textOf(r)).toMatch(/Nothing to look up: .*TEST-NET-1.*/);
    }
    // Counted as given: every entry of the list but the public one (the text may read some differently).
    expect((asList.structuredContent as { ignored: { not_looked_up: number } }).ignored.not_looked_up).toBe(
      ips.length,
    );
    // 1.1.1.1 once, then from the cache.
    expect(h.api.count() - before).toBe(1);
    expect(
      h.api.requests.some((q) => /\/ip_addresses\/(?!1\.1\.1\.1$)/.test(decodeURIComponent(q.path))),
    ).toBe(false);
  });

  it('only non-public addresses: an input error naming them, no upstream request', async () => {
    const before = h.api.count();
    const r = await h.call('vt_triage', { indicators: ['192.0.2.1', '2001:db8::1', '::ffff:10.0.0.1'] });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/nothing to look up: 192\.0\.2\.1 \(documentation address/);
    expect(h.api.count() - before).toBe(0);
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:9.9.9.9'])(
    'the public address %s is looked up',
    async (ip) => {
      const before = h.api.requests.length;
      await h.call('vt_get_report', { indicator: ip, fresh: true });
      const paths = h.api.requests.slice(before).map((q) => decodeURIComponent(q.path));
      expect(paths).toEqual([`/ip_addresses/${idOf(ip)}`]);
    },
  );
});
