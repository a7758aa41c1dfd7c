/**
 * The demo tells the truth about what it holds: an indicator outside the
 * recordings is "not in the demo recordings", never "never seen by VirusTotal"; the searches the README
 * leads a newcomer to find what the recordings hold; and the relationships of a file agree with its
 * recorded sandbox behaviour.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchRecordings } from '../src/demo/search.js';
import { cleanUpstreamMessage } from '../src/vt/errors.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

const ORCUS_MD5 = 'e2a52f78fc1dc2eb561fd5d77892d642';
const ORCUS_SHA256 = '6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb';
const SANDBOXED = '03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b';
const SANDBOXED_MD5 = JSON.parse(
  readFileSync(new URL('../fixtures/vt/file_object_msticpy_unwrapped.json', import.meta.url), 'utf8'),
).attributes.md5 as string;
const BEHAVIOUR = JSON.parse(
  readFileSync(new URL('../fixtures/vt/behaviour_summary_msticpy_unwrapped.json', import.meta.url), 'utf8'),
) as {
  dns_lookups: Array<{ hostname: string }>;
  ip_traffic: Array<{ destination_ip: string }>;
  files_dropped: Array<{ sha256?: string }>;
};
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

let demo: Harness;
beforeAll(async () => {
  demo = await startHarness({ demo: true });
});
afterAll(async () => {
  await demo?.close();
});

const ids = (r: { structuredContent?: Record<string, unknown> }) =>
  ((r.structuredContent?.items ?? []) as Array<{ id: string }>).map((i) => i.id);

describe('demo: what is not recorded is said to be not recorded', () => {
  const falsehood = /VirusTotal has never seen|VirusTotal has no record|none recorded by VirusTotal/;

  it('vt_get_report of an unrecorded public IP (8.8.8.8)', async () => {
    const r = await demo.call('vt_get_report', { indicator: '8.8.8.8' });
    const text = textOf(r);
    expect(text).toMatch(/not in the demo recordings/i);
    expect(text).not.toMatch(falsehood);
    expect(text).toMatch(/without --demo/);
    expect(r.structuredContent).toMatchObject({ found: false, id: '8.8.8.8' });
  });

  it('vt_triage, vt_get_relationships and a relationship the recordings lack', async () => {
    const triage = textOf(await demo.call('vt_triage', { indicators: ['8.8.8.8', 'github.com'] }));
    expect(triage).toMatch(/NOT FOUND · ip 8\.8\.8\.8/);
    expect(triage).toMatch(/demo recordings/);
    const unknown = textOf(
      await demo.call('vt_get_relationships', {
        indicator: 'unrecorded.example',
        relationship: 'resolutions',
      }),
    );
    expect(unknown).toMatch(/not in the demo recordings/i);
    // A recorded file without a recording of this relationship: the recordings lack it, not VirusTotal.
    const lacking = textOf(
      await demo.call('vt_get_relationships', { indicator: ORCUS_MD5, relationship: 'contacted_domains' }),
    );
    expect(lacking).toMatch(/not in the demo recordings \(this page was never recorded/);
    for (const t of [triage, unknown, lacking]) expect(t).not.toMatch(falsehood);
  });

  it('real mode keeps saying what VirusTotal answered', async () => {
    const real = await startHarness();
    try {
      const text = textOf(await real.call('vt_get_report', { indicator: '8.8.8.8' }));
      expect(text).toMatch(/VirusTotal has never seen/);
      expect(text).not.toMatch(/demo/i);
    } finally {
      await real.close();
    }
  });
});

describe('demo: the searches the README shows find what the recordings hold', () => {
  it("the OrcusRAT report's own imphash: pivot finds the report's file", async () => {
    const report = textOf(await demo.call('vt_get_report', { indicator: ORCUS_MD5 }));
    const pivot = /Pivots \(vt_search\):.*?(imphash:[0-9a-f]{32})/.exec(report)?.[1];
    expect(pivot).toBeDefined();
    const r = await demo.call('vt_search', { query: pivot, limit: 40 });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent?.total).toBeGreaterThanOrEqual(1);
    expect(ids(r)).toContain(ORCUS_SHA256);
  });

  it('every search the README names or shows has at least one hit', async () => {
    const queries = new Set<string>();
    for (const m of README.matchAll(/the\s+search `([^`]+)`/g)) queries.add(m[1] as string);
    for (const m of README.matchAll(/^> vt_search (\{.*\})$/gm))
      queries.add(JSON.parse(m[1] as string).query);
    expect(queries.size).toBeGreaterThanOrEqual(2);
    for (const query of queries) {
      const r = await demo.call('vt_search', { query });
      expect(r.isError, query).toBeFalsy();
      expect(ids(r).length, query).toBeGreaterThanOrEqual(1);
    }
  });

  it('a search without a recording of its own is matched over the recorded objects', async () => {
    const r = await demo.call('vt_search', { query: 'hostname:example.com and entity:url', limit: 40 });
    const urls = ((r.structuredContent?.items ?? []) as Array<{ url?: string }>).map((i) => i.url);
    expect(urls).toContain('http://example.com/');
    for (const u of urls) expect(new URL(u as string).hostname).toMatch(/(^|\.)example\.com$/);
    const none = await demo.call('vt_search', { query: `md5:${'0'.repeat(32)}` });
    expect(textOf(none)).toMatch(/0 hits\. Nothing in the demo recordings matched/);
  });

  it('a term the demo cannot evaluate is named, not answered with 0 hits', async () => {
    const r = await demo.call('vt_search', { query: 'type:peexe fs:7d+' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Demo search cannot evaluate fs:7d\+; it knows entity .* \(AND only\)/);
    for (const query of ['imphash:a OR imphash:b', '(tag:signed)', 'evil', 'entity:graph']) {
      expect(searchRecordings(query, []).ok, query).toBe(false);
    }
    // The refusal passes whole through the client's cap on upstream messages.
    const long = searchRecordings(`${'x'.repeat(300)}:y`, []);
    expect(long.ok).toBe(false);
    if (!long.ok) expect(cleanUpstreamMessage(long.reason)).toBe(long.reason);
  });
});

describe('demo: the relationships of a file agree with its recorded behaviour', () => {
  const hosts = [...new Set(BEHAVIOUR.dns_lookups.map((d) => d.hostname))];
  const ips = [...new Set(BEHAVIOUR.ip_traffic.map((t) => t.destination_ip))];
  const dropped = [...new Set(BEHAVIOUR.files_dropped.flatMap((f) => (f.sha256 ? [f.sha256] : [])))];

  it('contacted_domains, contacted_ips and dropped_files are what the sandboxes observed', async () => {
    expect(hosts.length).toBeGreaterThan(0);
    const behaviour = textOf(await demo.call('vt_get_behaviour', { indicator: SANDBOXED }));
    for (const h of hosts) expect(behaviour).toContain(h);
    const domains = await demo.call('vt_get_relationships', {
      indicator: SANDBOXED,
      relationship: 'contacted_domains',
      limit: 40,
    });
    expect(ids(domains).sort()).toEqual([...hosts].sort());
    const contactedIps = await demo.call('vt_get_relationships', {
      indicator: SANDBOXED,
      relationship: 'contacted_ips',
      limit: 40,
    });
    expect(ids(contactedIps).sort()).toEqual([...ips].sort());
    const files = await demo.call('vt_get_relationships', {
      indicator: SANDBOXED,
      relationship: 'dropped_files',
      limit: 40,
    });
    expect(ids(files).sort()).toEqual([...dropped].sort());
  });

  it('the same by md5, and in the several-relationships form the README shows', async () => {
    const byMd5 = await demo.call('vt_get_relationships', {
      indicator: SANDBOXED_MD5,
      relationship: 'contacted_domains',
      limit: 40,
    });
    expect(ids(byMd5).sort()).toEqual([...hosts].sort());
    const several = textOf(
      await demo.call('vt_get_relationships', {
        indicator: SANDBOXED,
        relationships: ['contacted_domains', 'contacted_ips', 'dropped_files'],
      }),
    );
    expect(several).toMatch(new RegExp(`contacted_domains: ${hosts.length}\\b`));
    expect(several).toMatch(new RegExp(`contacted_ips: ${ips.length}\\b`));
    expect(several).toMatch(new RegExp(`dropped_files: ${dropped.length}\\b`));
    const behaviourByMd5 = await demo.call('vt_get_behaviour', { indicator: SANDBOXED_MD5 });
    expect(behaviourByMd5.structuredContent?.found).toBe(true);
  });
});
