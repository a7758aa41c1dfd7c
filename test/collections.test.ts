/**
 * Collections and ATT&CK techniques: vt_get_report answers a threat actor, malware family, campaign,
 * report and vulnerability from the recorded collections (the key facts, within the budget, one lookup
 * each) and a technique id offline (no lookup); vt_get_relationships pages a collection's members with a
 * cursor and reads the relationships that lead to collections; a key without access is told in one
 * sentence what grants it, after one request; the demo says "not in the demo recordings" of a page it
 * never recorded; untrusted text in a collection stays quoted and cut.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAnyTarget } from '../src/answers/target.js';
import { type StandInRequest, send } from '../src/demo/recorded-api.js';
import { CONCISE_COLLECTION_MAX } from '../src/summaries/collection.js';
import { parseThreatRef } from '../src/vt/indicators.js';
import { checkCollectionRelationship, checkRelationship } from '../src/vt/relationships.js';
import { HOSTILE, hostileProblems } from './fixtures/hostile-strings.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';
import { type OutputCheck, outputSchemaOf, schemaProblem, vtError } from './helpers/upstream.js';

type Json = Record<string, unknown>;

const THREAT_ACTOR = 'threat-actor--a493b916-d682-66c5-cf1f-438fab1bd398';
const MALWARE = 'malware--5f707471-9b6d-6d47-bf1e-31ccb6f3ffb6';
const CAMPAIGN = 'campaign--1a2b3c4d-5e6f-7890-abcd-ef1234567890';
const REPORT = 'report--25-20031886';
const VULNERABILITY = 'vulnerability--cve-2022-13579';
const USER_COLLECTION = 'c0ffee'.repeat(10).slice(0, 60) + 'beef';
const PE_SHA256 = '6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/vt/${name}`, import.meta.url), 'utf8')) as Json;
const fileObject = (name: string) => fixture(name).data as Json;

/** What each recorded collection's answer must say, concise. */
const KINDS: Array<{ kind: string; indicator: string; id: string; facts: RegExp[] }> = [
  {
    kind: 'threat actor',
    indicator: THREAT_ACTOR,
    id: THREAT_ACTOR,
    facts: [
      /^Threat actor "UNC2180" · collection threat-actor--a493b916/m,
      /Aliases \(untrusted\): "LoremNoroff \(Kasperky\)", .* \(\+8 more\)/,
      /Motivations: Espionage · source region: Belarus/,
      /Targeted industries: Automotive, Financial Services, /,
      /Targeted regions: Portugal, /,
      /Activity: first seen 2019-05-14 · last seen 2026-02-18/,
      /Associated: 709 files · 2,670 domains · 214 IP addresses · 1,183 URLs/,
      /Description \(untrusted text\): "UNC2180 is a suspected Eastern European/,
      /Members: vt_get_relationships with indicator="threat-actor--a493b916-d682-66c5-cf1f-438fab1bd398" and relationship="files" \(or domains, ip_addresses, urls\); linked threats: threat_actors, /,
    ],
  },
  {
    kind: 'malware family',
    indicator: MALWARE,
    id: MALWARE,
    facts: [
      /^Malware family "DOLORVAULT"/m,
      /Roles: Ransomware · operating systems: Windows/,
      /Activity: last seen 2024-11-12/,
      /Associated: 263 files · 32 domains · 0 IP addresses · 28 URLs/,
      /file extension ″\.dolorvault″/,
    ],
  },
  {
    kind: 'campaign',
    indicator: CAMPAIGN,
    id: CAMPAIGN,
    facts: [
      /^Campaign "Exploitation of CVE-2024-1234 in Lorem Ipsum Gateway Appliances"/m,
      /Campaign type: GLOBAL/,
      /Activity: first seen 2023-09-12 · last seen 2024-02-14/,
      /Motivations: Financial Gain, Espionage · source region: United States, China/,
      /Targeted regions: Australia, Belgium, Canada, United States/,
      /Associated: 0 files · 1 domain · 27 IP addresses · 0 URLs/,
    ],
  },
  {
    kind: 'report',
    indicator: REPORT,
    id: REPORT,
    facts: [
      /^Report "Cyber Physical Threat Actor Spotlight: D0l0rIps4m"/m,
      /Report type "Actor Profile" · published 2024-07-24 · report id 25-20031886/,
      /Executive summary \(untrusted text\): "This report is part of the Cyber Physical/,
      /Threat scape: Cyber Physical · intended effects: Disruption, Interference with ICS/,
    ],
  },
  {
    kind: 'vulnerability (by its CVE id)',
    indicator: 'CVE-2022-13579',
    id: VULNERABILITY,
    facts: [
      /^Vulnerability "CVE-2022-13579" · collection vulnerability--cve-2022-13579/m,
      /CVSS 3\.x 9\.8 \(CVSS:3\.1\/AV:N\/AC:L\/PR:N\/UI:N\/S:U\/C:H\/I:H\/A:H\)/,
      /risk CRITICAL · priority P0/,
      /Exploitation Wide · exploits Publicly Available · first exploited 2021-01-15/,
      /CISA KEV since 2021-11-1\d \(ransomware use: Known\)/,
      /EPSS 0\.94346 \(percentile 0\.99951\)/,
      /weakness "CWE-918 Server-Side Request Forgery \(SSRF\)"/,
    ],
  },
];

/** The answer's own text: without the demo banner and the source line. */
const body = (r: CallToolResult) =>
  textOf(r)
    .split('\n')
    .filter((l) => !l.startsWith('[DEMO DATA') && !l.startsWith('Source: VirusTotal'))
    .join('\n');

describe('collection and technique ids (pure)', () => {
  it('reads prefixed collection ids and CVE ids; a bare 64-hex string stays a file hash', () => {
    expect(parseThreatRef(THREAT_ACTOR)).toMatchObject({ type: 'collection', kind: 'threat-actor' });
    expect(parseThreatRef(` "${MALWARE.toUpperCase()}" `)).toMatchObject({ id: MALWARE, kind: 'malware' });
    expect(parseThreatRef(CAMPAIGN)).toMatchObject({ kind: 'campaign' });
    expect(parseThreatRef(REPORT)).toMatchObject({ id: REPORT, kind: 'report' });
    expect(parseThreatRef('report--902f8132-9259-66b1-c47f-8ab680f6d445')).toMatchObject({ kind: 'report' });
    expect(parseThreatRef('vulnerability--cve-2021-44228')).toMatchObject({ kind: 'vulnerability' });
    expect(parseThreatRef('CVE-2021-44228')).toMatchObject({ id: 'vulnerability--cve-2021-44228' });
    for (const no of ['threat-actor--nope', 'campaign--1234', 'report--', 'UNC2180', 'evil.com', PE_SHA256]) {
      expect(parseThreatRef(no), no).toBeUndefined();
    }
    expect(parseAnyTarget(PE_SHA256)).toMatchObject({ type: 'file', hashKind: 'sha256' });
    expect(parseAnyTarget(USER_COLLECTION, 'collection')).toMatchObject({
      type: 'collection',
      id: USER_COLLECTION,
    });
    expect(parseThreatRef(THREAT_ACTOR, 'file')).toBeUndefined();
    expect(() => parseAnyTarget('not a collection!', 'collection')).toThrow(/is not a collection id/);
  });

  it('reads ATT&CK technique ids, sub-techniques and ICS ones', () => {
    expect(parseThreatRef('T1055')).toEqual({ type: 'attack_technique', id: 'T1055', value: 'T1055' });
    expect(parseThreatRef('t1055.012')).toMatchObject({ id: 'T1055.012' });
    expect(parseThreatRef('T0822')).toMatchObject({ id: 'T0822' });
    for (const no of ['T105', 'T10555', 'T1055.12', 'TA0005']) expect(parseThreatRef(no), no).toBeUndefined();
  });

  it('knows the relationships of collections and the ones that lead to them', () => {
    expect(checkCollectionRelationship('Files')).toMatchObject({ ok: true, name: 'files', access: 'all' });
    expect(checkCollectionRelationship('threat_actors')).toMatchObject({ ok: true, access: 'premium' });
    expect(checkCollectionRelationship('filez')).toMatchObject({ ok: false, closest: ['files'] });
    for (const t of ['file', 'url', 'domain', 'ip_address'] as const) {
      for (const n of ['collections', 'related_threat_actors', 'associations', 'malware_families']) {
        expect(checkRelationship(t, n).ok, `${t} ${n}`).toBe(true);
      }
    }
  });
});

describe('vt_get_report of a collection (recorded)', () => {
  let h: Harness;
  let check: OutputCheck;
  const sizes: string[] = [];
  beforeAll(async () => {
    h = await startHarness();
    check = await outputSchemaOf(h.client, 'vt_get_report');
  });
  afterAll(async () => {
    console.log(`collection answers (text characters, structured JSON characters):\n${sizes.join('\n')}`);
    await h.close();
  });

  it.each(KINDS)(
    '$kind: the key facts, within the budget, one lookup',
    async ({ kind, indicator, id, facts }) => {
      const before = h.api.requests.length;
      const concise = await h.call('vt_get_report', { indicator });
      expect(concise.isError, textOf(concise)).toBeFalsy();
      expect(h.api.requests.slice(before).map((r) => decodeURIComponent(r.path))).toEqual([
        `/collections/${id}`,
      ]);
      expect(schemaProblem(check, concise)).toBeUndefined();
      const text = textOf(concise);
      for (const f of facts) expect(text, String(f)).toMatch(f);
      expect(text).toMatch(/^Link: https:\/\/www\.virustotal\.com\/gui\/collection\//m);
      expect(text).not.toMatch(/<\/?p>|<li>|&nbsp;/);
      expect(concise.structuredContent).toMatchObject({
        type: 'collection',
        id,
        found: true,
        summary: { type: 'collection', id },
      });
      expect(body(concise).length).toBeLessThanOrEqual(CONCISE_COLLECTION_MAX);

      const detailed = await h.call('vt_get_report', { indicator, detail: 'detailed' });
      expect(schemaProblem(check, detailed)).toBeUndefined();
      // The same answer, read again from the cache.
      expect(h.api.requests.length - before).toBe(1);
      expect(textOf(detailed).length).toBeGreaterThanOrEqual(text.length - 200);
      expect(textOf(detailed).length).toBeLessThanOrEqual(h.config.maxResponseChars);
      expect(textOf(detailed)).not.toMatch(/^More: detail="detailed"/m);
      const json = (r: CallToolResult) => JSON.stringify(r.structuredContent).length;
      sizes.push(
        `  ${kind}: concise ${textOf(concise).length} / ${json(concise)}, detailed ${textOf(detailed).length} / ${json(detailed)}`,
      );
    },
  );

  it('a concise answer says what the detailed one adds; the detailed one lists every alias', async () => {
    const concise = textOf(await h.call('vt_get_report', { indicator: THREAT_ACTOR }));
    expect(concise).toMatch(/^More: detail="detailed" gives every alias/m);
    const detailed = textOf(await h.call('vt_get_report', { indicator: THREAT_ACTOR, detail: 'detailed' }));
    expect(detailed).toMatch(/"SitAmet \(CISA\)"/);
    expect(detailed).toMatch(/Targeted regions: .*United States/);
  });

  it('a collection VirusTotal does not have: found false, said so', async () => {
    const r = await h.call('vt_get_report', {
      indicator: 'threat-actor--00000000-0000-0000-0000-000000000000',
    });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ type: 'collection', found: false });
    expect(textOf(r)).toMatch(/^Not found: VirusTotal has no collection threat-actor--0{8}-/m);
  });

  it('a user-made collection is asked for by its 64-hex id with type "collection"; without, it is a hash', async () => {
    const before = h.api.requests.length;
    await h.call('vt_get_report', { indicator: USER_COLLECTION, type: 'collection' });
    await h.call('vt_get_report', { indicator: USER_COLLECTION });
    expect(h.api.requests.slice(before).map((r) => r.path)).toEqual([
      `/collections/${USER_COLLECTION}`,
      `/files/${USER_COLLECTION}`,
    ]);
    const bad = await h.call('vt_get_report', { indicator: 'no such id!', type: 'collection' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/"no such id!" is not a collection id\. Give threat-actor--<uuid>/);
    expect(h.api.requests.length - before).toBe(2);
  });

  it('fits a 2,000-character budget, text and structure alike', async () => {
    const small = await startHarness({ env: { VT_MAX_RESPONSE_CHARS: '2000' } });
    try {
      const smallCheck = await outputSchemaOf(small.client, 'vt_get_report');
      for (const { indicator } of KINDS) {
        for (const detail of ['concise', 'detailed']) {
          const r = await small.call('vt_get_report', { indicator, detail });
          expect(schemaProblem(smallCheck, r), indicator).toBeUndefined();
          expect(textOf(r).length, indicator).toBeLessThanOrEqual(2_000);
          expect(JSON.stringify(r.structuredContent).length, indicator).toBeLessThanOrEqual(2_000);
          expect(textOf(r)).toMatch(/^Link: /m);
        }
      }
    } finally {
      await small.close();
    }
  });
});

describe('vt_get_report of an ATT&CK technique (offline)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('a technique, a sub-technique and an ICS technique, with no upstream request', async () => {
    const check = await outputSchemaOf(h.client, 'vt_get_report');
    const before = h.api.requests.length;
    const t = await h.call('vt_get_report', { indicator: 'T1055' });
    const sub = await h.call('vt_get_report', { indicator: 't1055.012', detail: 'detailed' });
    const ics = await h.call('vt_get_report', { indicator: 'T0822' });
    expect(h.api.requests.length - before).toBe(0);
    for (const r of [t, sub, ics]) {
      expect(r.isError).toBeFalsy();
      expect(schemaProblem(check, r)).toBeUndefined();
      expect(textOf(r)).toMatch(/no VirusTotal lookup/);
      expect(textOf(r)).not.toMatch(/^Source: VirusTotal/m);
    }
    expect(textOf(t)).toMatch(/^ATT&CK technique T1055 Process Injection$/m);
    expect(textOf(t)).toMatch(/^Tactics: Defense Evasion, Privilege Escalation$/m);
    expect(textOf(t)).toMatch(/vt_search "attack_technique:T1055" finds files/);
    expect(textOf(t)).toMatch(/^Link: https:\/\/attack\.mitre\.org\/techniques\/T1055$/m);
    expect(textOf(sub)).toMatch(
      /^ATT&CK technique T1055\.012 Process Hollowing \(sub-technique of T1055 Process Injection\)/m,
    );
    expect(textOf(sub)).toMatch(/techniques\/T1055\/012$/m);
    expect(sub.structuredContent).toMatchObject({
      type: 'attack_technique',
      id: 'T1055.012',
      found: true,
      summary: { type: 'attack_technique', parent_id: 'T1055', parent: 'Process Injection' },
    });
    expect(textOf(ics)).toMatch(/^ATT&CK technique T0822 External Remote Services · ICS matrix$/m);
    expect(textOf(ics)).toMatch(/^Tactics: Initial Access$/m);
    console.log(
      `technique answer: ${textOf(t).length} characters (concise and detailed alike), sub-technique ${textOf(sub).length}`,
    );
  });

  it('an unknown technique id is answered clearly, without a lookup', async () => {
    const before = h.api.requests.length;
    const r = await h.call('vt_get_report', { indicator: 'T9999' });
    expect(h.api.requests.length - before).toBe(0);
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ type: 'attack_technique', id: 'T9999', found: false });
    expect(textOf(r)).toMatch(/^T9999 is not a technique of MITRE ATT&CK v18\.1 .*No lookup was made\.$/m);
  });

  it('vt_get_relationships of a technique says where to go, without a lookup', async () => {
    const before = h.api.requests.length;
    const r = await h.call('vt_get_relationships', { indicator: 'T1055', relationship: 'files' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/vt_search attack_technique:T1055/);
    expect(h.api.requests.length - before).toBe(0);
  });
});

/** A members page of the threat actor: two recorded files and a cursor, then the third file. */
const MEMBERS_CURSOR = 'Q1VSU09SLTI=';
const MEMBER_FILES = [
  fileObject('file_report_azul_elf_file.json'),
  fileObject('file_report_azul_macho_file.json'),
  fileObject('file_report_azul_pdf_file.json'),
];

function membersUpstream(req: StandInRequest, res: ServerResponse): boolean {
  if (req.path === `/collections/${THREAT_ACTOR}/files`) {
    if (req.query.cursor === MEMBERS_CURSOR) {
      send(res, 200, { data: MEMBER_FILES.slice(2), meta: { count: 3 }, links: { self: 'x' } });
    } else {
      send(res, 200, {
        data: MEMBER_FILES.slice(0, 2),
        meta: { count: 3, cursor: MEMBERS_CURSOR },
        links: { self: 'x' },
      });
    }
    return true;
  }
  if (req.path === `/files/${PE_SHA256}/malware_families`) {
    send(res, 200, {
      data: [fixture('collection_malware_family_opencti.json').response],
      links: { self: 'x' },
    });
    return true;
  }
  return false;
}

describe('vt_get_relationships of and to collections', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ api: { hook: membersUpstream } });
  });
  afterAll(async () => {
    await h.close();
  });

  it("pages a collection's members with a cursor", async () => {
    const first = await h.call('vt_get_relationships', {
      indicator: THREAT_ACTOR,
      relationship: 'files',
      limit: 2,
    });
    const text = textOf(first);
    expect(text).toMatch(
      /^files of collection threat-actor--a493b916-d682-66c5-cf1f-438fab1bd398: 2 shown of 3\./m,
    );
    expect(text).toMatch(/^1\. file [0-9a-f]{64} · /m);
    expect(text).toContain(
      `More: cursor=${MEMBERS_CURSOR} (call again with the same indicator, relationship and this cursor)`,
    );
    expect(first.structuredContent).toMatchObject({ next_cursor: MEMBERS_CURSOR, total: 3 });
    const second = await h.call('vt_get_relationships', {
      indicator: THREAT_ACTOR,
      relationship: 'files',
      limit: 2,
      cursor: MEMBERS_CURSOR,
    });
    expect(textOf(second)).toMatch(/: 1 shown of 3\./);
    expect(textOf(second)).toMatch(/No more results\./);
    const asked = h.api.requests.filter((r) => r.path === `/collections/${THREAT_ACTOR}/files`);
    expect(asked.map((r) => r.query.cursor)).toEqual([undefined, MEMBERS_CURSOR]);
  });

  it('reads linked threats (recorded descriptors) and an overview of a collection', async () => {
    const page = textOf(
      await h.call('vt_get_relationships', { indicator: REPORT, relationship: 'threat_actors' }),
    );
    expect(page).toMatch(/^1\. collection threat-actor--673ef4f7-d7d8-637f-911f-c744d29ae86d$/m);
    const overview = await h.call('vt_get_relationships', {
      indicator: REPORT,
      relationships: ['threat_actors', 'files'],
    });
    expect(textOf(overview)).toMatch(
      /^Neighbourhood of collection report--25-20031886: collection report--25-20031886 · report · "Cyber Physical/m,
    );
    expect(textOf(overview)).toMatch(/^threat_actors: 1 — threat-actor--673ef4f7/m);
  });

  it('a misspelt relationship of a collection is refused with what was meant, without a lookup', async () => {
    const before = h.api.requests.length;
    const r = await h.call('vt_get_relationships', { indicator: MALWARE, relationship: 'domain' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/"domain" is not a relationship of a collection\. Did you mean domains\?/);
    expect(h.api.requests.length - before).toBe(0);
  });

  it("a file's malware_families: collection items summarised in one line", async () => {
    const r = await h.call('vt_get_relationships', {
      indicator: PE_SHA256,
      relationship: 'malware_families',
    });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(textOf(r)).toMatch(
      /^1\. collection malware--5f707471-9b6d-6d47-bf1e-31ccb6f3ffb6 · malware-family · "DOLORVAULT" · 263 files, 32 domains, 0 IPs, 28 URLs · last seen 2024-11-12$/m,
    );
    expect(((r.structuredContent?.items ?? []) as Json[])[0]).toMatchObject({
      type: 'collection',
      collection_type: 'malware-family',
      name: 'DOLORVAULT',
      files: 263,
    });
  });
});

describe('a key without access to curated collections', () => {
  const SENTENCE =
    /^VirusTotal refused this key \(ForbiddenError\): threat-actor--a493b916-d682-66c5-cf1f-438fab1bd398 is a curated threat collection, which only keys with a Google Threat Intelligence licence \(VT Enterprise with the Threat Landscape module\) may read\.$/;
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      api: {
        hook: (req, res) => {
          if (!req.path.startsWith('/collections/')) return false;
          // VT's error shape (VT-API.md §8); a 403 a key without the licence gets.
          send(
            res,
            403,
            vtError('ForbiddenError', 'You are not authorized to perform the requested operation'),
          );
          return true;
        },
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('vt_get_report: one sentence naming the licence, after exactly one request', async () => {
    const before = h.api.requests.length;
    const r = await h.call('vt_get_report', { indicator: THREAT_ACTOR });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(SENTENCE);
    expect(h.api.requests.length - before).toBe(1);
  });

  it('vt_get_relationships of its members: the same sentence, one request', async () => {
    const before = h.api.requests.length;
    const r = await h.call('vt_get_relationships', { indicator: THREAT_ACTOR, relationship: 'files' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(SENTENCE);
    expect(h.api.requests.length - before).toBe(1);
  });

  it('a user-made collection: private to its owner, or curated', async () => {
    const r = await h.call('vt_get_report', { indicator: USER_COLLECTION, type: 'collection' });
    expect(textOf(r)).toMatch(
      /^VirusTotal refused this key \(ForbiddenError\): collection c0ffee\w+ is private to its owner, or a curated threat collection, which only keys with a Google Threat Intelligence licence/,
    );
  });
});

describe('demo: a relationship page never recorded says so', () => {
  let demo: Harness;
  beforeAll(async () => {
    demo = await startHarness({ demo: true });
  });
  afterAll(async () => {
    await demo.close();
  });

  const NOT_RECORDED = /not in the demo recordings \(this page was never recorded/;
  const WRONG = /none in the demo recordings|no more items|none recorded by VirusTotal/;

  it('members of a recorded collection, a recorded file without that relationship, an unrecorded next page', async () => {
    const calls = [
      { indicator: THREAT_ACTOR, relationship: 'files' },
      { indicator: PE_SHA256, relationship: 'contacted_domains' },
      // The recording of github.com's communicating files ends with VirusTotal's cursor; that page was never recorded.
      { indicator: 'github.com', relationship: 'communicating_files', cursor: 'STEwCi4=' },
    ];
    for (const args of calls) {
      const r = await demo.call('vt_get_relationships', args);
      expect(r.isError, JSON.stringify(args)).toBeFalsy();
      expect(textOf(r), JSON.stringify(args)).toMatch(NOT_RECORDED);
      expect(textOf(r)).not.toMatch(WRONG);
    }
  });

  it('an overview names the relationships it never recorded', async () => {
    const r = await demo.call('vt_get_relationships', {
      indicator: REPORT,
      relationships: ['files', 'threat_actors'],
    });
    expect(textOf(r)).toMatch(/^files: not available \(not in the demo recordings\)$/m);
    expect(textOf(r)).toMatch(/^threat_actors: 1 — /m);
  });

  it('a relationship recorded as empty is still "none", and real mode is unchanged', async () => {
    const siblings = textOf(
      await demo.call('vt_get_relationships', { indicator: 'github.com', relationship: 'siblings' }),
    );
    expect(siblings).toMatch(/siblings of domain github\.com: none in the demo recordings\./);
    const real = await startHarness();
    try {
      const r = textOf(
        await real.call('vt_get_relationships', { indicator: PE_SHA256, relationship: 'contacted_domains' }),
      );
      expect(r).toMatch(/none recorded by VirusTotal\./);
      expect(r).not.toMatch(/demo/);
    } finally {
      await real.close();
    }
  });

  it('a collection outside the recordings is not in them', async () => {
    const r = await demo.call('vt_get_report', {
      indicator: 'campaign--00000000-0000-0000-0000-000000000000',
    });
    expect(textOf(r)).toMatch(/Not in the demo recordings: they hold nothing on collection campaign--0{8}/);
  });
});

/** A collection object with one corpus string in every text field an analyst reads. */
function hostileCollection(id: string, t: string, type: string): Json {
  const entry = (value: string) => ({ value, confidence: t, description: t });
  const place = { country: t, region: t, sub_region: t };
  return {
    type: 'collection',
    id,
    attributes: {
      name: t,
      collection_type: type,
      origin: t,
      description: `<p>${t}</p> ${t}`,
      creation_date: 1_700_000_000,
      alt_names_details: [entry(t), entry(`${t} 2`)],
      merged_actors: [entry(t)],
      motivations: [entry(t)],
      source_regions_hierarchy: [place],
      targeted_industries_tree: [{ industry_group: t, industry: t }],
      targeted_regions_hierarchy: [place],
      tags_details: [entry(t)],
      malware_roles: [entry(t)],
      operating_systems: [entry(t)],
      capabilities: [entry(t)],
      detection_names: [t],
      campaign_type: t,
      first_seen_details: [entry(t)],
      report_type: t,
      author: t,
      executive_summary: `<ul><li>${t}</li></ul>`,
      threat_scape: [t],
      cve_id: t,
      cvss: { cvssv3_x: { base_score: 9.8, vector: t } },
      exploitation_state: t,
      risk_rating: t,
      cwe: { id: t, title: t },
      counters: { files: 1, domains: 2 },
    },
  };
}

describe('hostile text in a collection', () => {
  const types = ['threat-actor', 'malware-family', 'campaign', 'report', 'vulnerability', 'collection'];
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      api: {
        hook: (req, res) => {
          const m = /^\/collections\/campaign--00000000-0000-0000-0000-(\d{12})(\/files)?$/.exec(req.path);
          if (m) {
            const i = Number(m[1]);
            const id = `campaign--00000000-0000-0000-0000-${m[1]}`;
            const o = hostileCollection(
              id,
              HOSTILE[i % HOSTILE.length]?.text ?? '',
              types[i % types.length] ?? '',
            );
            send(res, 200, m[2] ? { data: [o, o], meta: { count: 2 } } : { data: o });
            return true;
          }
          return false;
        },
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('stays quoted and cut in every view, concise and detailed', async () => {
    const problems: string[] = [];
    let largest = 0;
    for (let i = 0; i < HOSTILE.length * 2; i++) {
      const id = `campaign--00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
      const name = `${HOSTILE[i % HOSTILE.length]?.name} as ${types[i % types.length]}`;
      const views = [
        await h.call('vt_get_report', { indicator: id }),
        await h.call('vt_get_report', { indicator: id, detail: 'detailed' }),
        await h.call('vt_get_relationships', { indicator: id, relationship: 'files' }),
      ];
      for (const r of views) {
        expect(r.isError, `${name}: ${textOf(r)}`).toBeFalsy();
        for (const p of hostileProblems(textOf(r), r.structuredContent)) problems.push(`${name}: ${p}`);
      }
      largest = Math.max(largest, body(views[0] as CallToolResult).length);
      expect(body(views[0] as CallToolResult).length, name).toBeLessThanOrEqual(CONCISE_COLLECTION_MAX);
    }
    expect(problems).toEqual([]);
    console.log(`hostile collections: largest concise answer ${largest} characters`);
  });
});
