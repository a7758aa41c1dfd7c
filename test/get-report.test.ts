/**
 * vt_get_report end to end: MCP client → server → stand-in VT API (test/helpers/harness.ts).
 * Each case starts its own harness, so no answer comes from another case's cache.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedApiOptions } from '../src/demo/recorded-api.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';
import {
  answerJson,
  answerRaw,
  neverAnswer,
  type OutputCheck,
  outputSchemaOf,
  RAW_BODY_MARKER,
  schemaProblem,
  vtError,
} from './helpers/upstream.js';
import { virtualTimeForAllTests } from './helpers/virtual-time.js';

const TOOL = 'vt_get_report';
const PE = {
  sha256: '6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb',
  md5: 'e2a52f78fc1dc2eb561fd5d77892d642',
  sha1: 'ffe1dd532e08911537d01f51f21c1ce181f4ac71',
};
const EXAMPLE_URL_SHA256 = '2a1b402420ef46577471cdc7409b0fa2c6a204db316e59ade2d805435489a067';
const UNKNOWN_SHA256 = '0000000000000000000000000000000000000000000000000000000000000001';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(
  opts: Parameters<typeof startHarness>[0] = {},
): Promise<{ h: Harness; check: OutputCheck }> {
  h = await startHarness(opts);
  return { h, check: await outputSchemaOf(h.client, TOOL) };
}

/** Calls the tool and returns the answer with the upstream requests it caused. */
async function call(
  hh: Harness,
  args: Record<string, unknown>,
): Promise<{ r: CallToolResult; paths: string[] }> {
  const before = hh.api.requests.length;
  const r = await hh.call(TOOL, args);
  // VT reads %3A as ":" in a path segment; compare decoded paths.
  return { r, paths: hh.api.requests.slice(before).map((q) => decodeURIComponent(q.path)) };
}

interface Structured {
  type: string;
  id: string;
  found: boolean;
  summary?: Record<string, unknown> & { id: string; type: string; link: string };
  fetched_at: string;
}

describe('found', () => {
  it.each([
    ['file by md5', PE.md5, 'file', `/files/${PE.md5}`],
    ['file by sha1 (upper case)', PE.sha1.toUpperCase(), 'file', `/files/${PE.sha1}`],
    ['file by sha256', PE.sha256, 'file', `/files/${PE.sha256}`],
    ['defanged URL', 'hxxp://example[.]com/', 'url', '/urls/aHR0cDovL2V4YW1wbGUuY29tLw'],
    ['domain', 'github[.]com', 'domain', '/domains/github.com'],
    ['IP', '1.1.1[.]1', 'ip_address', '/ip_addresses/1.1.1.1'],
  ])('%s', async (_what, indicator, type, path) => {
    const { h, check } = await harness();
    const { r, paths } = await call(h, { indicator });
    const text = textOf(r);
    expect(r.isError, text).toBeFalsy();
    expect(paths).toEqual([path]);
    expect(schemaProblem(check, r)).toBeUndefined();

    const sc = r.structuredContent as unknown as Structured;
    expect(sc.found).toBe(true);
    expect(sc.type).toBe(type);
    expect(sc.summary?.type).toBe(type);
    expect(sc.id).toBe(sc.summary?.id);
    if (type === 'file') expect(sc.id).toBe(PE.sha256);
    if (type === 'url') expect(sc.id).toBe(EXAMPLE_URL_SHA256);
    // The text says what structuredContent says.
    expect(text).toContain(sc.id);
    expect(text).toContain(sc.summary?.link as string);
    const stats = sc.summary?.stats as { malicious: number; total: number } | undefined;
    if (stats) expect(text).toContain(`${stats.malicious}/${stats.total} engines`);
    expect(Number.isNaN(Date.parse(sc.fetched_at))).toBe(false);
    expect(text).toContain(`Source: VirusTotal, fetched ${sc.fetched_at.replace(/\.\d{3}Z$/, 'Z')}`);
  });

  it('the file report carries its key facts in text and structure alike', async () => {
    const { h } = await harness();
    const { r } = await call(h, { indicator: PE.md5 });
    const sc = r.structuredContent as unknown as Structured;
    const s = sc.summary as Record<string, unknown>;
    expect(s).toMatchObject({
      md5: PE.md5,
      sha1: PE.sha1,
      sha256: PE.sha256,
      threat_label: 'trojan.orcusrat/msil',
    });
    for (const v of [s.md5, s.sha1, s.threat_label, s.first_submission])
      expect(textOf(r)).toContain(v as string);
  });
});

describe('invalid input', () => {
  it.each([
    ['path traversal', '../../users/me'],
    ['words', 'not an indicator'],
    ['javascript: URL', 'javascript:alert(1)'],
    ['empty', ''],
  ])('%s: isError, a helpful message, zero upstream requests', async (_what, indicator) => {
    const { h } = await harness();
    const { r, paths } = await call(h, { indicator });
    expect(r.isError).toBe(true);
    const text = textOf(r);
    for (const form of ['MD5', 'SHA-256', 'URL', 'domain', 'IPv4']) expect(text).toContain(form);
    expect(paths).toEqual([]);
    expect(h.api.requests).toHaveLength(0);
  });

  it('an indicator over 8,192 characters is refused before any request', async () => {
    const { h } = await harness();
    const { r, paths } = await call(h, { indicator: 'x'.repeat(9000) });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/8192|8,192/);
    expect(paths).toEqual([]);
  });

  it('a type the indicator does not fit is refused before any request', async () => {
    const { h } = await harness();
    const { r, paths } = await call(h, { indicator: 'github.com', type: 'file' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/hash/i);
    expect(paths).toEqual([]);
  });
});

describe('not found', () => {
  it('answers found:false, says VT never saw it and that this is no evidence of safety', async () => {
    const { h, check } = await harness();
    const { r, paths } = await call(h, { indicator: UNKNOWN_SHA256 });
    expect(r.isError).toBeFalsy();
    expect(paths).toEqual([`/files/${UNKNOWN_SHA256}`]);
    expect(schemaProblem(check, r)).toBeUndefined();
    const sc = r.structuredContent as unknown as Structured;
    expect(sc).toMatchObject({ type: 'file', id: UNKNOWN_SHA256, found: false });
    expect(sc.summary).toBeUndefined();
    const text = textOf(r);
    expect(text).toContain(UNKNOWN_SHA256);
    expect(text).toMatch(/VirusTotal has never seen/);
    expect(text).toMatch(/not evidence that it is safe/);
  });

  it('an IPv6 address is looked up in its canonical form', async () => {
    const { h } = await harness();
    // A public address (2001:db8::/32 is for documentation, and is not looked up).
    const { r, paths } = await call(h, { indicator: '[2606:4700:0:0:0:0:0:ABCD]' });
    expect(paths).toEqual(['/ip_addresses/2606:4700::abcd']);
    expect(r.structuredContent).toMatchObject({ type: 'ip_address', id: '2606:4700::abcd', found: false });
  });
});

describe('the type override', () => {
  it('domain given a URL looks up its host', async () => {
    const { h } = await harness();
    const { r, paths } = await call(h, { indicator: 'https://github.com/some/repo?tab=1', type: 'domain' });
    expect(paths).toEqual(['/domains/github.com']);
    expect(r.structuredContent).toMatchObject({ type: 'domain', id: 'github.com', found: true });
  });

  it('url given a bare domain looks up http://domain/', async () => {
    const { h } = await harness();
    const { r, paths } = await call(h, { indicator: 'example.com', type: 'url' });
    expect(paths).toEqual(['/urls/aHR0cDovL2V4YW1wbGUuY29tLw']);
    expect(r.structuredContent).toMatchObject({ type: 'url', id: EXAMPLE_URL_SHA256, found: true });
    expect(textOf(r)).toContain('URL "http://example.com/"');
  });

  it('without the override the same input is a domain', async () => {
    const { h } = await harness();
    const { paths } = await call(h, { indicator: 'example.com' });
    expect(paths).toEqual(['/domains/example.com']);
  });
});

describe('detail', () => {
  it('"detailed" says more than "concise"', async () => {
    const { h } = await harness();
    for (const indicator of [PE.sha256, 'github.com', '1.1.1.1', 'http://example.com/']) {
      const concise = textOf((await call(h, { indicator })).r);
      const detailed = textOf((await call(h, { indicator, detail: 'detailed' })).r);
      expect(detailed.length, indicator).toBeGreaterThan(concise.length);
    }
  });

  it('stays within VT_MAX_RESPONSE_CHARS and names what it left out', async () => {
    const { h, check } = await harness({ env: { VT_MAX_RESPONSE_CHARS: '3000' } });
    const { r } = await call(h, { indicator: PE.sha256, detail: 'detailed' });
    const text = textOf(r);
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text).toMatch(/Cut to fit the size limit: \w/);
    expect(text).toContain(`https://www.virustotal.com/gui/file/${PE.sha256}`);
    expect(schemaProblem(check, r)).toBeUndefined();
    const concise = textOf((await call(h, { indicator: PE.md5 })).r);
    expect(concise.length).toBeLessThanOrEqual(3000);
  });
});

// Concurrent: several of these wait on retries or a timeout. Each one starts and closes its own harness.
describe.concurrent('upstream errors', () => {
  // Retries back off and the timeout runs out on one virtual clock (helpers/virtual-time.ts); each
  // test closes its own harness before the clock stops.
  virtualTimeForAllTests();

  /** Each answer: isError, actionable text, nothing of the upstream body or the request URL. */
  async function failing(api: RecordedApiOptions, env: Record<string, string> = {}) {
    const own = await startHarness({ api, env });
    const { r, paths } = await call(own, { indicator: PE.sha256 }).finally(() => own.close());
    const text = textOf(r);
    expect(r.isError, text).toBe(true);
    expect(paths.length).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(RAW_BODY_MARKER);
    expect(text).not.toContain('127.0.0.1');
    expect(text).not.toContain('/api/v3');
    expect(text).not.toMatch(/[{}]/);
    return { text, paths };
  }

  it('401 WrongCredentialsError: check VIRUSTOTAL_API_KEY', async () => {
    const { text, paths } = await failing({ hook: answerJson(401, vtError('WrongCredentialsError')) });
    expect(text).toMatch(/VIRUSTOTAL_API_KEY/);
    expect(text).toMatch(/rejected the API key/);
    expect(paths).toHaveLength(1);
  });

  it('a wrong key, as the stand-in itself answers it', async () => {
    const { text } = await failing({ apiKey: 'some-other-key' });
    expect(text).toMatch(/VIRUSTOTAL_API_KEY/);
  });

  it('403 ForbiddenError: premium', async () => {
    const { text, paths } = await failing({ hook: answerJson(403, vtError('ForbiddenError')) });
    expect(text).toMatch(/premium/i);
    expect(paths).toHaveLength(1);
  });

  it('429 QuotaExceededError: quota, and when to try again', async () => {
    const { text } = await failing(
      { hook: answerJson(429, vtError('QuotaExceededError'), { 'retry-after': '3600' }) },
      { VT_MAX_WAIT_SECONDS: '1' },
    );
    expect(text).toMatch(/quota/i);
    expect(text).toMatch(/try again|wait/i);
  });

  it('503 TransientError: temporary, try again', async () => {
    const { text } = await failing({ hook: answerJson(503, vtError('TransientError')) });
    expect(text).toMatch(/unavailable right now.*try again/i);
    expect(text).toMatch(/try again/i);
  });

  it('a 200 whose body is not JSON', async () => {
    const { text } = await failing({ hook: answerRaw(200, `<html>${RAW_BODY_MARKER}</html>`) });
    expect(text).toMatch(/not valid JSON/);
  });

  it('a 502 HTML page from a proxy', async () => {
    const { text } = await failing({
      hook: answerRaw(502, `<html><h1>Bad gateway</h1>${RAW_BODY_MARKER}</html>`),
    });
    expect(text).toMatch(/temporar|try again/i);
  });

  it('an upstream that never answers times out with a clear message (VT_TIMEOUT_SECONDS=1)', async () => {
    const { text, paths } = await failing({ hook: neverAnswer() }, { VT_TIMEOUT_SECONDS: '1' });
    expect(text).toMatch(/did not answer within 1 s/);
    expect(paths).toHaveLength(1);
  });
});

describe('no key configured', () => {
  it('still lists the tools; a call explains how to set VIRUSTOTAL_API_KEY and sends nothing', async () => {
    const { h } = await harness({ noKey: true });
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name)).toContain(TOOL);
    const { r, paths } = await call(h, { indicator: PE.sha256 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/VIRUSTOTAL_API_KEY/);
    expect(textOf(r)).toMatch(/--demo/);
    expect(paths).toEqual([]);
    expect(h.api.requests).toHaveLength(0);
  });
});

describe('demo mode', () => {
  it('every answer with data says it is demo data', async () => {
    const { h } = await harness({ demo: true });
    for (const indicator of [PE.md5, 'github.com', UNKNOWN_SHA256]) {
      // Sent raw: the validating client would throw before we could read the text (see next test).
      const r = await h.callRaw(TOOL, { indicator });
      expect(r.isError, indicator).toBeFalsy();
      expect(textOf(r).split('\n')[0], indicator).toMatch(/DEMO DATA/);
      // The banner lives in the text; structuredContent is exactly what the output schema describes.
      expect(r.structuredContent, indicator).not.toHaveProperty('demo');
    }
    // Errors say it too.
    const bad = await h.callRaw(TOOL, { indicator: '../../users/me' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad).split('\n')[0]).toMatch(/DEMO DATA/);
  });

  it('demo answers still match the outputSchema', async () => {
    const { h, check } = await harness({ demo: true });
    for (const indicator of [PE.md5, UNKNOWN_SHA256]) {
      const r = await h.callRaw(TOOL, { indicator });
      expect(schemaProblem(check, r), indicator).toBeUndefined();
    }
  });
});

describe('the schema check itself', () => {
  it('rejects answers that break the outputSchema', async () => {
    const { check } = await harness();
    const at = '2026-01-01T00:00:00Z';
    expect(check({ type: 'file', id: 'x', found: true, fetched_at: at }).valid).toBe(true);
    expect(check({ type: 'file', id: 'x', fetched_at: at }).valid).toBe(false);
    expect(check({ type: 'file', id: 'x', found: 'yes', fetched_at: at }).valid).toBe(false);
    // The output schema types its fields: an ISO date, a known type, a verdict from the list.
    expect(check({ type: 'file', id: 'x', found: true, fetched_at: 'now' }).valid).toBe(false);
    expect(check({ type: 'hash', id: 'x', found: true, fetched_at: at }).valid).toBe(false);
    const summary = {
      type: 'file',
      id: 'x',
      verdict: 'clean',
      link: 'https://www.virustotal.com/gui/file/x',
    };
    expect(check({ type: 'file', id: 'x', found: true, fetched_at: at, summary }).valid).toBe(false);
    expect(
      check({
        type: 'file',
        id: 'x',
        found: true,
        fetched_at: at,
        summary: { ...summary, verdict: 'malicious' },
      }).valid,
    ).toBe(true);
  });
});
