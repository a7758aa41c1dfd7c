/**
 * The stand-in's VT Intelligence search over its own recordings: a query made of simple field terms
 * (`entity:url hostname:example.com`, `imphash:…`, `tag:signed p:5+`) is matched against every recorded
 * file, URL, domain and IP object. It is a small, honest subset of VT's language: a query it cannot
 * evaluate (OR, NOT, parentheses, free text, other modifiers) is refused by name, never answered with
 * made-up hits or a silent "0 hits".
 */
import { type Json, jsonObject as obj } from '../util/json.js';

/** What a search can look for: the `entity:` values VT accepts, by the object type they select. */
const ENTITIES: Record<string, string> = {
  file: 'file',
  url: 'url',
  domain: 'domain',
  ip: 'ip_address',
  ip_address: 'ip_address',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v.toLowerCase() : undefined);
const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string').map((s) => s.toLowerCase()) : [];

/** A host name and its parents: "a.b.example.com" is under "example.com" and "b.example.com". */
const under = (host: string | undefined, v: string) => !!host && (host === v || host.endsWith(`.${v}`));

function urlHost(a: Json): string | undefined {
  try {
    return new URL(String(a.url)).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

function malicious(a: Json): number | undefined {
  const n = obj(a.last_analysis_stats)?.malicious;
  return typeof n === 'number' ? n : undefined;
}

/** `5+` (at least), `5-` (at most) or `5` (exactly). */
function countMatches(n: number | undefined, v: string): boolean {
  const m = /^(\d+)([+-]?)$/.exec(v);
  if (!m || n === undefined) return false;
  const want = Number(m[1]);
  return m[2] === '+' ? n >= want : m[2] === '-' ? n <= want : n === want;
}

/** Each modifier the demo evaluates: whether object `o` (attributes `a`) matches value `v` (lowercased). */
const MODIFIERS: Record<string, (o: Json, a: Json, v: string) => boolean> = {
  md5: (_o, a, v) => str(a.md5) === v,
  sha1: (_o, a, v) => str(a.sha1) === v,
  sha256: (_o, a, v) => str(a.sha256) === v,
  imphash: (_o, a, v) => str(obj(a.pe_info)?.imphash) === v,
  vhash: (_o, a, v) => str(a.vhash) === v,
  ssdeep: (_o, a, v) => str(a.ssdeep) === v,
  tlsh: (_o, a, v) => str(a.tlsh) === v,
  authentihash: (_o, a, v) => str(a.authentihash) === v,
  main_icon_dhash: (_o, a, v) => str(obj(a.main_icon)?.dhash) === v,
  name: (_o, a, v) => [str(a.meaningful_name), ...strs(a.names)].some((n) => n?.includes(v)),
  tag: (_o, a, v) => strs(a.tags).includes(v),
  type: (_o, a, v) => [str(a.type_tag), str(a.type_extension), ...strs(a.type_tags)].includes(v),
  engines: (_o, a, v) =>
    Object.values(obj(a.last_analysis_results) ?? {}).some((r) => str(obj(r)?.result)?.includes(v)),
  p: (_o, a, v) => countMatches(malicious(a), v),
  positives: (_o, a, v) => countMatches(malicious(a), v),
  hostname: (o, a, v) => under(o.type === 'url' ? urlHost(a) : str(o.id), v),
  domain: (o, a, v) => (o.type === 'url' ? urlHost(a) : str(o.id))?.includes(v) ?? false,
  ip: (o, _a, v) => o.type === 'ip_address' && str(o.id) === v,
  url: (o, a, v) => o.type === 'url' && !!str(a.url)?.includes(v),
};

/** The modifiers named in the refusal, so the user knows what the demo can search ("positives" is p). */
const DEMO_SEARCH_MODIFIERS = ['entity', ...Object.keys(MODIFIERS).filter((m) => m !== 'positives')];

type DemoSearch = { ok: true; hits: Json[] } | { ok: false; reason: string };

/**
 * Matches `query` against `objects`: every term must hold (VT's implicit AND; a literal "and" is
 * allowed). Without `entity:` the search is over files, as on VT. Hits keep the order of `objects`.
 */
export function searchRecordings(query: string, objects: Json[]): DemoSearch {
  const terms = [...query.matchAll(/([A-Za-z_][A-Za-z0-9_]*):(?:"([^"]*)"|(\S+))|(\S+)/g)];
  let entity = 'file';
  const checks: Array<(o: Json, a: Json) => boolean> = [];
  for (const t of terms) {
    const [whole, mod, quoted, plain, bare] = t;
    if (bare !== undefined) {
      if (bare.toLowerCase() === 'and') continue;
      return { ok: false, reason: refusal(whole) };
    }
    const name = (mod ?? '').toLowerCase();
    const value = (quoted ?? plain ?? '').toLowerCase();
    if (name === 'entity') {
      const e = ENTITIES[value];
      if (!e) return { ok: false, reason: refusal(whole) };
      entity = e;
      continue;
    }
    const test = MODIFIERS[name];
    if (!test || value === '') return { ok: false, reason: refusal(whole) };
    checks.push((o, a) => test(o, a, value));
  }
  if (checks.length === 0 && terms.length === 0) return { ok: false, reason: refusal(query) };
  const hits = objects.filter((o) => {
    if (o.type !== entity) return false;
    const a = obj(o.attributes) ?? {};
    return checks.every((c) => c(o, a));
  });
  return { ok: true, hits };
}

/** Short enough to pass whole through the client's cap on upstream messages (200 characters). */
function refusal(term: string): string {
  const shown = term.length > 20 ? `${term.slice(0, 20)}…` : term;
  return `Demo search cannot evaluate ${shown}; it knows ${DEMO_SEARCH_MODIFIERS.join(' ')} (AND only).`;
}
