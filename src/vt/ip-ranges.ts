/**
 * Which IP addresses are public, beside indicators.ts: nonPublicIp says in words why an address is not worth
 * a lookup (private, loopback, documentation, reserved, or a form that carries such an IPv4 address).
 */
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

// Which addresses are looked up is decided by ipaddr.js's table of special-purpose ranges (it follows the
// IANA IPv4 and IPv6 Special-Purpose Address Registries): only what it calls 'unicast' is. The tables below
// only put its range names into words, and name the blocks it files together under 'reserved'.
const IPV4_RANGE_NAMES: Record<string, string> = {
  unspecified: 'a "this network" address (0.0.0.0/8)',
  broadcast: 'the limited broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT (RFC 6598) address',
  private: 'a private (RFC 1918) address',
  reserved: 'a reserved address',
  benchmarking: 'a benchmarking (RFC 2544) address',
  as112: 'an AS112 DNS sink (RFC 7534) address',
  amt: 'an AMT relay anycast (RFC 7450) address',
};

const IPV6_RANGE_NAMES: Record<string, string> = {
  unspecified: 'the unspecified address',
  loopback: 'the loopback address',
  linkLocal: 'a link-local address',
  multicast: 'a multicast address',
  uniqueLocal: 'a unique local (private) address',
  deprecatedSiteLocal: 'a site-local (private, deprecated) address',
  discard: 'a discard-only (RFC 6666) address',
  rfc6145: 'an IPv4-translated (RFC 6145) address, used only inside a translator',
  benchmarking: 'a benchmarking (RFC 5180) address',
  amt: 'an AMT relay anycast (RFC 7450) address',
  as112v6: 'an AS112 DNS sink (RFC 7534) address',
  deprecatedOrchid: 'an ORCHID identifier (RFC 4843), not a routable address',
  orchid2: 'an ORCHIDv2 identifier (RFC 7343), not a routable address',
  droneRemoteIdProtocolEntityTags: 'a drone remote ID tag (RFC 9374), not a routable address',
  segmentRouting: 'a segment routing identifier (RFC 9602)',
  reserved: 'a reserved address',
};

// ipaddr.js files these blocks of the IANA special-purpose registries under one 'reserved' (or 'rfc6052')
// range; named one by one here so that the answer says which. Order matters: most specific first.
const NAMED_BLOCKS: Array<[ipaddr.IPv4 | ipaddr.IPv6, number, string]> = (
  [
    ['192.0.2.0/24', 'a documentation address (TEST-NET-1, 192.0.2.0/24)'],
    ['198.51.100.0/24', 'a documentation address (TEST-NET-2, 198.51.100.0/24)'],
    ['203.0.113.0/24', 'a documentation address (TEST-NET-3, 203.0.113.0/24)'],
    ['192.0.0.0/24', 'an IETF protocol assignment (192.0.0.0/24)'],
    ['198.18.0.0/15', 'a benchmarking (RFC 2544) address'],
    ['192.88.99.0/24', 'a retired 6to4 relay anycast address (RFC 7526)'],
    ['240.0.0.0/4', 'a reserved address (240.0.0.0/4, for future use)'],
    ['2001:db8::/32', 'a documentation address (2001:db8::/32)'],
    ['3fff::/20', 'a documentation address (3fff::/20)'],
    ['2001::/23', 'an IETF protocol assignment (2001::/23)'],
    ['64:ff9b:1::/48', 'a local-use NAT64 (RFC 8215) address'],
  ] as const
).map(([cidr, why]) => [...ipaddr.parseCIDR(cidr), why]);

// Gap in ipaddr.js, closed here: it calls 'unicast' every IPv6 address outside its special ranges, but the
// IANA IPv6 Address Space registry allocates only 2000::/3 as global unicast; the rest (the remainder of
// ::/8, IPv4-compatible ::a.b.c.d, 4000::/2 ...) is reserved by the IETF and reaches no one.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

function namedBlock(addr: ipaddr.IPv4 | ipaddr.IPv6): string | undefined {
  return NAMED_BLOCKS.find(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits))?.[2];
}

function v4FromParts(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

function classifyV4(addr: ipaddr.IPv4): string | undefined {
  const range = addr.range();
  if (range === 'unicast') return undefined;
  return (
    (range === 'reserved' ? namedBlock(addr) : undefined) ??
    IPV4_RANGE_NAMES[range] ??
    `a special-purpose address (${range})`
  );
}

/** For an address with an IPv4 address inside it: why that one is not public, in words. */
function embedded(what: string, v4: ipaddr.IPv4): string | undefined {
  const why = classifyV4(v4);
  return why && `${what} of ${v4.toString()}, ${why}`;
}

function classifyV6(addr: ipaddr.IPv6): string | undefined {
  const range = addr.range();
  const p = addr.parts;
  switch (range) {
    case 'unicast':
      return addr.match(GLOBAL_UNICAST_V6)
        ? undefined
        : 'an address outside the IPv6 global unicast space 2000::/3, reserved by the IETF';
    // Addresses that carry an IPv4 address are as public as the address they carry.
    case 'ipv4Mapped':
      return embedded('an IPv4-mapped form', addr.toIPv4Address());
    case 'rfc6052':
      return namedBlock(addr) ?? embedded('a NAT64 (64:ff9b::/96) form', v4FromParts(p[6] ?? 0, p[7] ?? 0));
    case '6to4':
      return embedded('a 6to4 (2002::/16) address', v4FromParts(p[1] ?? 0, p[2] ?? 0));
    case 'teredo':
      // RFC 4380: the Teredo server's IPv4 address, then the client's public one with every bit inverted.
      return (
        embedded(
          'a Teredo address for the client',
          v4FromParts(~(p[6] ?? 0) & 0xffff, ~(p[7] ?? 0) & 0xffff),
        ) ?? embedded('a Teredo address with the server', v4FromParts(p[2] ?? 0, p[3] ?? 0))
      );
    default:
      return (
        (range === 'reserved' ? namedBlock(addr) : undefined) ??
        IPV6_RANGE_NAMES[range] ??
        `a special-purpose address (${range})`
      );
  }
}

/**
 * Why an IP is not worth a lookup (private, loopback, documentation, reserved, an IPv4-mapped or NAT64
 * form of such an address ...), or undefined for a public one. VirusTotal knows nothing useful of an
 * address that does not reach, or come from, the Internet.
 */
export function nonPublicIp(ip: string): string | undefined {
  if (!isIPv4(ip) && !isIPv6(ip)) return undefined;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // IPv6 in the URL parser's canonical form first: ipaddr.js reads "::8.8.8.8" (IPv4-compatible) as if
    // it were "::ffff:8.8.8.8" (IPv4-mapped), but not "::808:808".
    addr = ipaddr.parse(isIPv6(ip) ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip);
  } catch {
    // Node calls it an address and ipaddr.js cannot read it: refuse rather than spend quota on it.
    return 'an address that could not be classified';
  }
  return addr instanceof ipaddr.IPv4 ? classifyV4(addr) : classifyV6(addr);
}
