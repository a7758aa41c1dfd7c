/**
 * Golden answers: the whole text the model reads for a handful of recorded calls (reports of a
 * malicious file, a URL, a domain and an IP, concise and detailed; an unknown hash; a relationship
 * page and an overview; a search page; a behaviour summary; triage, complete and stopped by the daily
 * cap), approved in test/__golden__/<name>.txt so that a change of wording is reviewed in a diff,
 * not discovered. Only what changes from run to run is normalised: the fetch time in the source line,
 * any time or wait close to the clock of the run (ETAs, reset times), never a recorded date, the age
 * of a recorded verdict (it grows with the calendar; test/verdict-age.test.ts fixes the clock), and a
 * triage job's random id.
 *
 * Accept changes (and create missing files, delete those of cases that are gone):
 *   UPDATE_GOLDEN=true npx vitest run test/golden.test.ts
 * A missing golden file fails.
 */
import { fileURLToPath } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { type Approvals, approve, checkNoStale } from './helpers/approved.js';
import { startHarness, textOf } from './helpers/harness.js';
import { inVirtualTime } from './helpers/virtual-time.js';

const GOLDEN: Approvals = {
  dir: fileURLToPath(new URL('./__golden__/', import.meta.url)),
  variable: 'UPDATE_GOLDEN',
  command: 'UPDATE_GOLDEN=true npx vitest run test/golden.test.ts',
};

const FILE = 'e2a52f78fc1dc2eb561fd5d77892d642';
const BEHAVING_FILE = '03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b';
const URL_ = 'http://nlus-romania.ro/wp-includes/simplepie/data/8dc4cd232ae39c414761cf2d96792dcb';
const DOMAIN = 'ninoseki.xyz';
const IP = '167.179.69.149';
const TICKET =
  'From the ticket: hxxp://example[.]com, github[.]com, 1.1.1[.]1, 10.0.0.1, ' +
  `${FILE} (invoice.pdf) and nlus-romania[.]ro`;

interface Case {
  tool: string;
  args: Record<string, unknown>;
  /** Configuration for this case's server (a fresh one per case, so no answer depends on another's cache). */
  env?: Record<string, string>;
}

/** Each case is one file, test/__golden__/<name>.txt. */
const CASES: Record<string, Case> = {
  'report-file-concise': { tool: 'vt_get_report', args: { indicator: FILE } },
  'report-file-detailed': { tool: 'vt_get_report', args: { indicator: FILE, detail: 'detailed' } },
  'report-url-concise': { tool: 'vt_get_report', args: { indicator: URL_ } },
  'report-url-detailed': { tool: 'vt_get_report', args: { indicator: URL_, detail: 'detailed' } },
  'report-domain-concise': { tool: 'vt_get_report', args: { indicator: DOMAIN } },
  'report-domain-detailed': { tool: 'vt_get_report', args: { indicator: DOMAIN, detail: 'detailed' } },
  'report-ip-concise': { tool: 'vt_get_report', args: { indicator: IP } },
  'report-ip-detailed': { tool: 'vt_get_report', args: { indicator: IP, detail: 'detailed' } },
  'report-not-found': { tool: 'vt_get_report', args: { indicator: 'f'.repeat(64) } },
  'relationships-page': {
    tool: 'vt_get_relationships',
    args: { indicator: '1.1.1.1', relationship: 'resolutions', limit: 5 },
  },
  'relationships-overview': {
    tool: 'vt_get_relationships',
    args: {
      indicator: BEHAVING_FILE,
      relationships: ['contacted_domains', 'contacted_ips', 'dropped_files'],
    },
  },
  'search-page': { tool: 'vt_search', args: { query: 'imphash:f34d5f2d4577ed6d9ceec516c1f5a744', limit: 5 } },
  behaviour: { tool: 'vt_get_behaviour', args: { indicator: BEHAVING_FILE } },
  triage: { tool: 'vt_triage', args: { indicators: TICKET } },
  'triage-daily-cap': {
    tool: 'vt_triage',
    args: { indicators: TICKET },
    env: { VT_DAILY_QUOTA: '2' },
  },
};

const ISO = /\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{3})?)?Z\b/g;
/** Two days: a reset at the next 00:00 UTC, a pause or an ETA; no recording is that recent. */
const NEAR_MS = 2 * 24 * 3600_000;

/** The answer with what changes from run to run replaced by placeholders. */
function normalise(text: string, now = Date.now()): string {
  return text
    .replace(/(Source: VirusTotal, fetched )\S+?(\.| \()/g, '$1<time>$2')
    .replace(ISO, (iso) => (Math.abs(Date.parse(iso) - now) < NEAR_MS ? '<time>' : iso))
    .replace(/\b(wait|in|after|for) about \d+(?:\.\d+)? (s|seconds|min|minutes)\b/g, '$1 about <n> $2')
    .replace(/(\(analysed \d{4}-\d\d-\d\d), \d+ (?:days|months|years) ago\)/g, '$1, <age> ago)');
}

/** A golden file: the call as `> tool {json}`, whether it is an error, then the answer's text. */
function rendered(c: Case, r: CallToolResult): string {
  const setting = c.env
    ? ` (${Object.entries(c.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')})`
    : '';
  const head = `> ${c.tool} ${JSON.stringify(c.args)}${setting}`;
  // A triage job's id is random: named by what it is.
  const job = (r.structuredContent as { job?: unknown } | undefined)?.job;
  let text = normalise(textOf(r));
  if (typeof job === 'string' && job.length >= 4) text = text.split(job).join('<job id>');
  return [head, ...(r.isError ? ['(isError: true)'] : []), text, ''].join('\n');
}

describe('golden answers (test/__golden__)', () => {
  // On a virtual clock (helpers/virtual-time.ts): an answer that waits (a queue, a job's budget) waits
  // the same virtual time on every run, and takes no real time.
  it.each(Object.keys(CASES))('%s', (name) =>
    inVirtualTime(async () => {
      const c = CASES[name] as Case;
      const h = await startHarness(c.env ? { env: c.env } : {});
      try {
        approve(GOLDEN, `${name}.txt`, rendered(c, await h.call(c.tool, c.args)));
      } finally {
        await h.close();
      }
    }),
  );

  it('there is no golden answer of a case that is gone', () => {
    checkNoStale(
      GOLDEN,
      Object.keys(CASES).map((n) => `${n}.txt`),
      /\.txt$/,
    );
  });

  it('normalises only what changes between runs', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(normalise('Source: VirusTotal, fetched 2026-12-01T09:59:58Z.', now)).toBe(
      'Source: VirusTotal, fetched <time>.',
    );
    expect(normalise('Source: VirusTotal, fetched 2026-12-01T09:00:00Z (from cache).', now)).toBe(
      'Source: VirusTotal, fetched <time> (from cache).',
    );
    expect(normalise('It resets at 2026-12-02T00:00:00Z (00:00 UTC); wait about 37 s.', now)).toBe(
      'It resets at <time> (00:00 UTC); wait about <n> s.',
    );
    expect(
      normalise('Verdict: MALICIOUS, 54/75 engines malicious (analysed 2024-07-29, 2 years ago)', now),
    ).toBe('Verdict: MALICIOUS, 54/75 engines malicious (analysed 2024-07-29, <age> ago)');
    // Recorded dates stay: they are what the golden files are about.
    expect(normalise('first submitted 2024-07-29T04:22:49Z', now)).toBe(
      'first submitted 2024-07-29T04:22:49Z',
    );
  });
});
