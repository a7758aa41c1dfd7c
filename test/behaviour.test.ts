/**
 * vt_get_behaviour over the recorded behaviour summary (188 KB, msticpy) and the synthetic ATT&CK tree,
 * through the MCP client against the stand-in API; and summarizeBehaviour on hand-made summaries
 * for the sections the recording lacks (Sigma, IDS, signature matches).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_FIXTURES, send } from '../src/demo/recorded-api.js';
import { behaviourLink, renderBehaviourText, summarizeBehaviour } from '../src/summaries/behaviour.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

type Json = Record<string, unknown>;

const SHA = '03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b';
const SUMMARY = JSON.parse(
  readFileSync(`${BUNDLED_FIXTURES}/behaviour_summary_msticpy_unwrapped.json`, 'utf8'),
) as Json;
const TREES = (
  JSON.parse(readFileSync(`${BUNDLED_FIXTURES}/synthetic_behaviour_mitre_trees.json`, 'utf8')) as {
    data: Json;
  }
).data;

function summaryOf(res: { structuredContent?: unknown }): Json {
  return ((res.structuredContent as Json | undefined)?.summary ?? {}) as Json;
}

describe('vt_get_behaviour against the recording', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('fits the 188 KB summary in 8,000 characters, with two upstream requests', async () => {
    expect(JSON.stringify(SUMMARY).length).toBeGreaterThan(150_000);
    const before = h.api.requests.length;
    const res = await h.call('vt_get_behaviour', { indicator: SHA });
    expect(res.isError, textOf(res)).toBeFalsy();
    const text = textOf(res);
    expect(text.length).toBeLessThanOrEqual(8000);
    expect(
      h.api.requests
        .slice(before)
        .map((r) => r.path)
        .sort(),
    ).toEqual([`/files/${SHA}/behaviour_mitre_trees`, `/files/${SHA}/behaviour_summary`]);
    // Nothing was dropped for space at the default budget.
    expect(text).not.toContain('Cut to fit');
    // The last line before the source line points at everything the text could not hold.
    const lines = text.split('\n');
    expect(lines.at(-2)).toBe(`Full sandbox reports: https://www.virustotal.com/gui/file/${SHA}/behavior`);
    expect(lines.at(-1)).toMatch(/^Source: VirusTotal/);
    expect(text).not.toContain('structuredContent');
    // Asked by its SHA-256, the file is identified by it.
    expect(res.structuredContent).toMatchObject({ id: SHA, input: SHA, found: true });
  });

  it('gives no id it cannot know when asked by MD5, and links with that hash', async () => {
    const md5 = 'd'.repeat(32);
    const h2 = await startHarness({
      api: {
        hook: (req, res) => {
          if (req.path === `/files/${md5}/behaviour_summary`) {
            send(res, 200, { data: SUMMARY });
            return true;
          }
          if (req.path === `/files/${md5}/behaviour_mitre_trees`) {
            send(res, 200, { data: TREES });
            return true;
          }
          return false;
        },
      },
    });
    try {
      const res = await h2.call('vt_get_behaviour', { indicator: md5.toUpperCase() });
      expect(res.isError, textOf(res)).toBeFalsy();
      const sc = res.structuredContent as Json;
      expect(sc.input).toBe(md5);
      expect(sc).not.toHaveProperty('id');
      expect(sc.summary as Json).not.toHaveProperty('id');
      expect(textOf(res)).toContain(
        `Full sandbox reports: https://www.virustotal.com/gui/file/${md5}/behavior`,
      );
      const missing = await h2.call('vt_get_behaviour', { indicator: 'e'.repeat(40) });
      expect(missing.structuredContent).toEqual({ input: 'e'.repeat(40), found: false });
    } finally {
      await h2.close();
    }
  });

  it('shows verdicts, ATT&CK tactics and techniques, network, processes, files, registry and mutexes', async () => {
    const res = await h.call('vt_get_behaviour', { indicator: SHA });
    const text = textOf(res);
    const s = summaryOf(res);
    expect(text).toContain(`Sandbox verdict: ${(SUMMARY.verdicts as string[])[0]}`);
    // Tactics come from the tree (the detailed answer lists them first); technique names from MITRE.
    const detailed = textOf(await h.call('vt_get_behaviour', { indicator: SHA, detail: 'detailed' }));
    expect(detailed).toContain('ATT&CK tactics: Execution (TA0002), Persistence (TA0003)');
    expect(text).not.toContain('ATT&CK tactics:');
    expect(text).toContain('T1562.001 Disable or Modify Tools [high] (Defense Evasion)');
    expect(text).toContain('T1053 Scheduled Task/Job [medium] (Execution, Persistence)');
    // T1055 is only in the summary (no name in the tree): named, and placed, by MITRE's ATT&CK.
    expect(text).toContain('- T1055 Process Injection [info] (Defense Evasion, Privilege Escalation)');
    const dns = SUMMARY.dns_lookups as Array<{ hostname: string }>;
    for (const d of dns) expect(text).toContain(d.hostname);
    const firstIp = (SUMMARY.ip_traffic as Array<{ destination_ip: string }>)[0]?.destination_ip;
    expect(text).toContain(String(firstIp));
    // A URL the sample fetched is a code span, so a chat client does not render it as a link.
    expect(text).toContain('CONNECT `https://sanctam.net:58899/assets/txt/resource_url.php?type=xmrig`');
    const dropped = SUMMARY.files_dropped as Array<{ sha256?: string }>;
    expect(text).toContain(String(dropped[0]?.sha256));
    // The key that starts something (the miner's driver service) before the certificate cache.
    expect(text).toContain('HKLM\\System\\CurrentControlSet\\Services\\WinRing0_1_2_0\\ImagePath');
    expect(text).not.toContain('SystemCertificates');
    // Mutexes by name, without the session's namespace Windows puts before each.
    for (const m of SUMMARY.mutexes_created as string[])
      expect(text).toContain(m.replace(/^\\Sessions\\\d+\\BaseNamedObjects\\/, ''));
    expect(text).toContain('untrusted');
    // What was cut is counted: the recording created more processes than are shown (the same
    // process written alike by two sandboxes, and the sample's own start, count once or not at all).
    const created = new Set(SUMMARY.processes_created as string[]).size;
    const shown = (s.processes_created as string[]).length;
    const more = s.processes_created_more as number;
    expect(shown).toBeLessThan(created);
    expect(shown + more).toBeLessThan(created);
    expect(shown + more).toBeGreaterThan(created / 2);
    expect(text).toContain(`(+${more} more)`);
    const notShown = s.not_shown as Record<string, number>;
    expect(notShown.files_opened).toBe((SUMMARY.files_opened as unknown[]).length);
    // Fields not shown at all, the largest first.
    expect(text).toContain(
      `Also recorded, only in the full reports: registry_keys_opened ${(SUMMARY.registry_keys_opened as unknown[]).length}, files_opened ${notShown.files_opened}`,
    );
    expect(s.attack_tree).toBe('available');
  });

  it('still answers with the summary when the ATT&CK tree is unavailable', async () => {
    const h2 = await startHarness({
      api: {
        hook: (req, res) => {
          if (!req.path.endsWith('/behaviour_mitre_trees')) return false;
          send(res, 404, { error: { code: 'NotFoundError', message: 'no tree' } });
          return true;
        },
      },
    });
    try {
      const res = await h2.call('vt_get_behaviour', { indicator: SHA });
      expect(res.isError).toBeFalsy();
      const text = textOf(res);
      expect(text).toContain('ATT&CK tree: unavailable');
      expect(text).toContain('T1055');
      expect(text).not.toContain('ATT&CK tactics:');
      expect(summaryOf(res).attack_tree).toBe('unavailable');
    } finally {
      await h2.close();
    }
  });

  it('says when a file has no behaviour, without an error', async () => {
    const res = await h.call('vt_get_behaviour', { indicator: 'e'.repeat(64) });
    expect(res.isError).toBeFalsy();
    expect(textOf(res)).toContain('No sandbox report available');
    expect((res.structuredContent as Json).found).toBe(false);
  });

  it('refuses anything but a file hash before any request', async () => {
    const before = h.api.requests.length;
    const res = await h.call('vt_get_behaviour', { indicator: 'example.com' });
    expect(res.isError).toBe(true);
    expect(h.api.requests.length).toBe(before);
  });
});

describe('summarizeBehaviour (pure)', () => {
  const many = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));

  it('caps every section and counts the rest', () => {
    const s = summarizeBehaviour(
      'x',
      {
        dns_lookups: many(30, (i) => ({ hostname: `h${i}.example`, resolved_ips: ['10.0.0.1'] })),
        ip_traffic: many(25, (i) => ({ destination_ip: `10.0.0.${i}`, destination_port: 443 })),
        mutexes_created: many(20, (i) => `m${i}`),
        registry_keys_set: many(12, (i) => ({ key: `HKCU\\k${i}`, value: 'v' })),
        sigma_analysis_results: many(9, (i) => ({
          rule_title: `sigma ${i}`,
          rule_level: i === 8 ? 'critical' : 'low',
        })),
        ids_alerts: many(7, (i) => ({ rule_msg: `ids ${i % 3}`, alert_severity: 'medium' })),
        signature_matches: many(3, (i) => ({ name: `sig ${i}`, format: 'SIG_FORMAT_YARA' })),
      },
      undefined,
    );
    expect(s.dns?.length).toBe(10);
    expect(s.dns_more).toBe(20);
    expect(s.ip_traffic_more).toBe(15);
    expect(s.mutexes_more).toBe(12);
    expect(s.registry_set_more).toBe(10);
    // Most severe Sigma rule first; duplicate IDS messages once.
    expect(s.sigma?.[0]).toEqual({ title: 'sigma 8', level: 'critical' });
    expect(s.sigma_more).toBe(3);
    expect(s.ids?.map((i) => i.message)).toEqual(['ids 0', 'ids 1', 'ids 2']);
    expect(s.signatures?.[0]).toEqual({ name: 'sig 0', format: 'YARA' });
    const text = renderBehaviourText(s, 8000);
    expect(text).toContain('Sigma: [critical] sigma 8');
    expect(text).toContain('IDS: [medium] ids 0');
    expect(text).toContain('(+20 more)');
    expect(text).toContain('ATT&CK tree: unavailable (its lookup failed)');
  });

  it('cleans sandbox strings', () => {
    const s = summarizeBehaviour(
      'x',
      { command_executions: ['cmd /c evil\u202e.exe\u0000 --run', 'y'.repeat(500)] },
      TREES,
    );
    // The bidi override goes (the text reads as stored); the NUL becomes a space.
    expect(s.command_lines).toContain('cmd /c evil.exe --run');
    expect(s.command_lines?.every((c) => c.length <= 200)).toBe(true);
  });

  it('keeps the most severe observation of a technique seen by several sandboxes', () => {
    const s = summarizeBehaviour(
      'x',
      { attack_techniques: { T1053: [{ severity: 'INFO', description: 'a' }] } },
      TREES,
    );
    const t = s.techniques?.find((x) => x.id === 'T1053');
    expect(t?.severity).toBe('medium');
    expect(t?.tactics).toEqual(['TA0002', 'TA0003']);
    expect(s.techniques?.[0]?.id).toBe('T1562.001');
  });

  it('drops sections, and names them, when the budget is small', () => {
    const s = summarizeBehaviour(SHA, SUMMARY, TREES);
    const text = renderBehaviourText(s, 2500);
    expect(text.length).toBeLessThanOrEqual(2500);
    expect(text).toMatch(/Cut to fit the size limit: .*mutexes/);
    expect(text).toContain('ATT&CK techniques:');
    expect(text).toContain('DNS: sanctam.net');
    expect(text).toContain('The full sandbox reports (last line) have it all');
    expect(text.split('\n').at(-1)).toBe(`Full sandbox reports: ${behaviourLink(s)}`);
  });

  it('cuts mutexes, registry, dropped files, command lines and processes first; keeps ATT&CK and network', () => {
    const s = summarizeBehaviour(SHA, SUMMARY, TREES);
    const full = renderBehaviourText(s, 100_000);
    // Groups in the order they are kept longest (the first group shares its room).
    const groups = [
      ['ATT&CK techniques:', 'DNS:', 'IP traffic:', 'HTTP:'],
      ['Tags:', 'TLS:'],
      ['Also recorded, only in the full reports'],
      ['Processes created:'],
      ['Other command lines:'],
      ['Files dropped:'],
      ['Registry keys set:'],
      ['Mutexes:'],
    ];
    for (const g of groups.flat()) expect(full).toContain(g);
    // At any budget, a section is never kept while a section of a more important group is cut.
    for (let budget = full.length; budget >= 1200; budget -= 50) {
      const text = renderBehaviourText(s, budget);
      expect(text.length).toBeLessThanOrEqual(budget);
      const last = Math.max(-1, ...groups.map((g, i) => (g.some((h) => text.includes(h)) ? i : -1)));
      for (const g of groups.slice(0, last)) for (const h of g) expect(text, `budget ${budget}`).toContain(h);
      // Network indicators outlast everything else.
      if (budget >= 1400) for (const h of ['DNS:', 'IP traffic:', 'HTTP:']) expect(text).toContain(h);
    }
    // At a tight budget the verdict, techniques (the most severe first) and network indicators are
    // still there, and the note names what went.
    const tight = renderBehaviourText(s, 1600);
    for (const h of ['Sandbox verdict:', 'ATT&CK techniques:\n- T1562.001', 'DNS:', 'IP traffic:', 'HTTP:']) {
      expect(tight).toContain(h);
    }
    expect(tight).toMatch(/\(\+\d+ more techniques\)/);
    expect(tight).toMatch(/Cut to fit the size limit: .*processes created.*mutexes/);
    expect(tight).not.toContain('Mutexes:');
  });

  it('identifies the file by SHA-256 only when given one', () => {
    expect(summarizeBehaviour(SHA.toUpperCase(), {}, undefined)).toMatchObject({ id: SHA });
    const byMd5 = summarizeBehaviour('a'.repeat(32), {}, undefined);
    expect(byMd5.id).toBeUndefined();
    expect(byMd5.input).toBe('a'.repeat(32));
    expect(behaviourLink(byMd5)).toBe(`https://www.virustotal.com/gui/file/${'a'.repeat(32)}/behavior`);
  });
});
