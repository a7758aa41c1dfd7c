/**
 * The API key never reaches the model or the log. Every call path of vt_get_report (found, not found,
 * invalid input, each upstream error, a timeout, and upstream bodies that echo the key back) runs with
 * the harness's recognisable TEST_KEY; no tool result, thrown error or log line may hold the key or any
 * 12-character piece of it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { BUNDLED_FIXTURES, type RecordedApiOptions, type StandInRequest } from '../src/demo/recorded-api.js';
import { everythingOf, type Harness, startHarness, TEST_KEY } from './helpers/harness.js';
import { answerJson, answerRaw, neverAnswer, recordInto, vtError } from './helpers/upstream.js';
import { virtualTimeForAllTests } from './helpers/virtual-time.js';

const TOOL = 'vt_get_report';
const PE_MD5 = 'e2a52f78fc1dc2eb561fd5d77892d642';

/**
 * Every 12-character piece of the key, except pieces the recordings themselves contain (an IDS rule in
 * one of them holds "0123456789abcdef"): finding those in an answer would prove nothing about the key.
 */
const RECORDED = readdirSync(BUNDLED_FIXTURES)
  .map((n) => readFileSync(`${BUNDLED_FIXTURES}/${n}`, 'utf8'))
  .join('\n')
  .toLowerCase();
const PIECES = [
  ...new Set(Array.from({ length: TEST_KEY.length - 11 }, (_, i) => TEST_KEY.slice(i, i + 12))),
].filter((p) => !RECORDED.includes(p.toLowerCase()));

function leaks(text: string): string[] {
  const t = text.toLowerCase();
  return PIECES.filter((p) => t.includes(p.toLowerCase()));
}

interface Scenario {
  name: string;
  api?: RecordedApiOptions;
  env?: Record<string, string>;
  calls: Array<Record<string, unknown>>;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'found, every type, both details',
    calls: [
      { indicator: PE_MD5 },
      { indicator: PE_MD5, detail: 'detailed' },
      { indicator: 'hxxp://example[.]com/' },
      { indicator: 'github.com', detail: 'detailed' },
      { indicator: '1.1.1.1', detail: 'detailed' },
      { indicator: 'https://github.com/x', type: 'domain' },
    ],
  },
  { name: 'not found', calls: [{ indicator: 'f'.repeat(64) }, { indicator: 'never-seen.example' }] },
  {
    name: 'invalid input',
    calls: [
      { indicator: '../../users/me' },
      { indicator: 'a'.repeat(44) },
      { indicator: '' },
      { indicator: 'x'.repeat(9000) },
      { indicator: 'javascript:alert(1)' },
    ],
  },
  {
    name: '401',
    api: { hook: answerJson(401, vtError('WrongCredentialsError')) },
    calls: [{ indicator: PE_MD5 }],
  },
  { name: 'wrong key at the stand-in', api: { apiKey: 'another-key' }, calls: [{ indicator: PE_MD5 }] },
  { name: '403', api: { hook: answerJson(403, vtError('ForbiddenError')) }, calls: [{ indicator: PE_MD5 }] },
  {
    name: '429',
    api: { hook: answerJson(429, vtError('QuotaExceededError'), { 'retry-after': '3600' }) },
    env: { VT_MAX_WAIT_SECONDS: '1' },
    calls: [{ indicator: PE_MD5 }],
  },
  { name: '503', api: { hook: answerJson(503, vtError('TransientError')) }, calls: [{ indicator: PE_MD5 }] },
  { name: 'not JSON', api: { hook: answerRaw(200, 'this is not json') }, calls: [{ indicator: PE_MD5 }] },
  {
    name: 'timeout',
    api: { hook: neverAnswer() },
    env: { VT_TIMEOUT_SECONDS: '1' },
    calls: [{ indicator: PE_MD5 }],
  },
  // Upstreams (a proxy, a misconfigured VIRUSTOTAL_API_URL) that echo the key they were sent.
  ...(
    [
      [400, 'InvalidArgumentError'],
      [401, 'WrongCredentialsError'],
      [403, 'ForbiddenError'],
      [404, 'NotFoundError'],
      [429, 'QuotaExceededError'],
    ] as const
  ).map(([status, code]) => ({
    name: `${status} ${code} whose message echoes the key`,
    api: { hook: echoKey(status, code) },
    env: { VT_MAX_WAIT_SECONDS: '1' },
    calls: [{ indicator: PE_MD5 }],
  })),
  {
    name: 'an error message that ends in the first part of the key',
    api: { hook: echoKey(400, 'InvalidArgumentError', 'x'.repeat(175)) },
    calls: [{ indicator: PE_MD5 }],
  },
  {
    name: 'a non-JSON error page that echoes the key',
    api: {
      hook: (req, res) => {
        const body = `<html>bad key ${String(req.headers['x-apikey'])}</html>`;
        res.writeHead(502, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return true;
      },
    },
    calls: [{ indicator: PE_MD5 }],
  },
];

function echoKey(status: number, code: string, pad = ''): NonNullable<RecordedApiOptions['hook']> {
  return (req, res) => {
    answerJson(status, {
      error: { code, message: `${pad}Bad key "${String(req.headers['x-apikey'])}" sent by the client` },
    })(req, res);
    return true;
  };
}

// Concurrent: several scenarios wait on retries or a timeout; each has its own harness and stand-in.
// Retries, the 429 pause and the timeout pass on one virtual clock (helpers/virtual-time.ts).
describe.concurrent('the key never leaks', () => {
  const opened: Harness[] = [];
  virtualTimeForAllTests({
    closeFirst: async () => {
      for (const h of opened.splice(0)) await h.close();
    },
  });

  it.each(SCENARIOS)('$name', async (sc) => {
    const seen: StandInRequest[] = [];
    const hook = sc.api?.hook;
    const h = await startHarness({
      ...(sc.env ? { env: sc.env } : {}),
      api: {
        ...sc.api,
        // Record what the stand-in receives, then play the scenario's own behaviour.
        hook: async (req, res) => {
          recordInto(seen)(req, res);
          return hook ? hook(req, res) : false;
        },
      },
    });
    opened.push(h);
    const outputs: string[] = [];
    for (const args of sc.calls) {
      try {
        const r: CallToolResult = await h.call(TOOL, args);
        outputs.push(everythingOf(r));
      } catch (err) {
        outputs.push(err instanceof Error ? `${err.message}\n${err.stack}` : String(err));
      }
    }
    for (const out of outputs) expect(leaks(out), out.slice(0, 400)).toEqual([]);
    for (const line of h.logs) expect(leaks(line), line).toEqual([]);
    // Meaningful only if the key really went upstream, in the header and nowhere else.
    if (seen.length > 0) {
      for (const req of seen) {
        expect(req.headers['x-apikey']).toBe(TEST_KEY);
        expect(leaks(req.path + JSON.stringify(req.query))).toEqual([]);
      }
    }
  });

  it('the checks above can see a leak', () => {
    expect(PIECES.length).toBeGreaterThan(20);
    expect(leaks(`... ${TEST_KEY} ...`).length).toBe(PIECES.length);
    expect(leaks(`key starts ${TEST_KEY.slice(0, 14)}`)).not.toEqual([]);
    expect(leaks(`key ends ${TEST_KEY.slice(-14)}`)).not.toEqual([]);
    expect(leaks('nothing to see')).toEqual([]);
  });

  it('calls that reach upstream send the key there', async () => {
    const seen: StandInRequest[] = [];
    const h = await startHarness({ api: { hook: recordInto(seen) } });
    opened.push(h);
    const r = await h.call(TOOL, { indicator: PE_MD5 });
    expect(r.isError).toBeFalsy();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers['x-apikey']).toBe(TEST_KEY);
  });
});
