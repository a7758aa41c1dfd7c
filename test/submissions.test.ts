/**
 * Submissions: off unless enabled, annotated as writes, never retried, never done by a read tool;
 * vt_submit_file reads only regular files inside VT_UPLOAD_DIRS; vt_get_analysis waits, bounded and
 * cancellable, with progress.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../src/demo/recorded-api.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';
import { sleep } from './helpers/limits.js';
import { virtualTimeForEachTest } from './helpers/virtual-time.js';

// vt_get_analysis polls and waits, the cancellation test waits out a poll: on a virtual clock
// (helpers/virtual-time.ts), registered first so that the afterEach below closes the server before it stops.
virtualTimeForEachTest();

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const posts = (h: Harness) => h.api.requests.filter((r) => r.method === 'POST');

let dir: string;
let outside: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vt-upload-'));
  outside = mkdtempSync(join(tmpdir(), 'vt-outside-'));
  writeFileSync(join(dir, 'sample.bin'), 'MZ this is not really malware');
  writeFileSync(join(outside, 'secret.txt'), 'do not upload');
  symlinkSync(join(outside, 'secret.txt'), join(dir, 'link-to-secret'));
  mkdirSync(join(dir, 'sub'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('gating', () => {
  it('lists no submission tool unless VT_ENABLE_SUBMISSIONS=true, and then annotates them as writes', async () => {
    h = await startHarness();
    const names = (await h.client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('vt_submit_url');
    expect(names).not.toContain('vt_submit_file');
    // An unlisted tool is unknown: invalid params, as the SDK answers it in either era.
    await expect(h.call('vt_submit_url', { url: 'http://example.com/' })).rejects.toMatchObject({
      code: -32602,
      message: expect.stringMatching(/vt_submit_url not found/),
    });
    expect(posts(h)).toHaveLength(0);
    await h.close();

    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
    const tools = (await h.client.listTools()).tools;
    for (const name of ['vt_submit_url', 'vt_submit_file']) {
      const t = tools.find((x) => x.name === name);
      expect(t?.annotations).toMatchObject({
        readOnlyHint: false,
        openWorldHint: true,
        destructiveHint: false,
      });
      expect(t?.description).toMatch(/available to VirusTotal.s community/);
    }
    expect(tools.find((x) => x.name === 'vt_get_analysis')?.annotations?.readOnlyHint).toBe(true);
  });

  it('no read tool ever sends a POST', async () => {
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
    await h.call('vt_get_report', { indicator: 'hxxp://never-seen-before[.]example/x' });
    await h.call('vt_get_report', { indicator: 'f'.repeat(64) });
    await h.call('vt_triage', { indicators: 'http://a.example/ b.example 9.9.9.9' });
    await h.call('vt_get_relationships', { indicator: 'github.com', relationship: 'resolutions' });
    await h.call('vt_search', { query: 'type:peexe p:5+' });
    await h.call('vt_get_behaviour', { indicator: 'f'.repeat(64) });
    await h.call('vt_quota', { include_vt: true });
    expect(h.api.requests.length).toBeGreaterThan(5);
    expect(posts(h)).toHaveLength(0);
  });
});

describe('vt_submit_url and vt_get_analysis', () => {
  it('submits the canonical URL once, then waits for the analysis with progress', async () => {
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
    const r = await h.call('vt_submit_url', { url: 'hxxp://EXAMPLE[.]com' });
    expect(r.isError).toBeFalsy();
    const id = (r.structuredContent as { analysis_id: string }).analysis_id;
    expect(id).toMatch(/^u-2a1b4024[0-9a-f]{56}-\d+$/);
    expect(h.api.submissions.received).toEqual([{ kind: 'url', value: 'http://example.com/' }]);
    expect(textOf(r)).toContain('vt_get_analysis');

    const progress: string[] = [];
    const a = await h.client.callTool(
      { name: 'vt_get_analysis', arguments: { id, wait_seconds: 20 } },
      undefined,
      {
        onprogress: (p) => {
          progress.push(p.message ?? '');
        },
      },
    );
    const sc = a.structuredContent as { status: string; summary: { stats: { harmless: number } } };
    expect(sc.status).toBe('completed');
    expect(sc.summary.stats.harmless).toBeGreaterThan(0);
    expect(progress.some((m) => /queued; checking again in \d+ s/.test(m))).toBe(true);
    expect(textOf(a as CallToolResult)).toMatch(/Target: url "http:\/\/example.com\/"/);
    expect(posts(h)).toHaveLength(1);
  });

  it('answers at once with the status when asked not to wait, and stops polling when cancelled', async () => {
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
    const r = await h.call('vt_submit_url', { url: 'github.com/login' });
    const id = (r.structuredContent as { analysis_id: string }).analysis_id;
    const now = await h.call('vt_get_analysis', { id, wait_seconds: 0 });
    expect((now.structuredContent as { status: string }).status).toBe('queued');
    expect(textOf(now)).toContain('call vt_get_analysis again');

    const r2 = await h.call('vt_submit_url', { url: 'github.com/other' });
    const id2 = (r2.structuredContent as { analysis_id: string }).analysis_id;
    const ac = new AbortController();
    const waiting = h.client
      .callTool({ name: 'vt_get_analysis', arguments: { id: id2, wait_seconds: 50 } }, undefined, {
        signal: ac.signal,
      })
      .catch(() => 'cancelled');
    await sleep(300);
    ac.abort();
    expect(await waiting).toBe('cancelled');
    const polls = h.api.count(`/analyses/${id2}`);
    await sleep(2500);
    expect(h.api.count(`/analyses/${id2}`)).toBe(polls);
  });

  it('a failed submission is never retried', async () => {
    for (const status of [503, 429]) {
      h = await startHarness({
        env: { VT_ENABLE_SUBMISSIONS: 'true' },
        api: {
          hook: (req, res) => {
            if (req.method !== 'POST') return false;
            send(res, status, {
              error: { code: status === 429 ? 'QuotaExceededError' : 'TransientError', message: 'x' },
            });
            return true;
          },
        },
      });
      const r = await h.call('vt_submit_url', { url: 'http://example.com/' });
      expect(r.isError).toBe(true);
      expect(posts(h)).toHaveLength(1);
      await h.close();
      h = undefined;
    }
  });
});

describe('vt_submit_file', () => {
  const enabled = () => ({ VT_ENABLE_SUBMISSIONS: 'true', VT_UPLOAD_DIRS: dir });

  it('uploads a file inside VT_UPLOAD_DIRS and reports its sha256', async () => {
    h = await startHarness({ env: enabled() });
    const path = join(dir, 'sample.bin');
    const r = await h.call('vt_submit_file', { path });
    expect(r.isError).toBeFalsy();
    const sha = createHash('sha256').update('MZ this is not really malware').digest('hex');
    expect((r.structuredContent as { sha256: string }).sha256).toBe(sha);
    expect(h.api.submissions.received).toEqual([{ kind: 'file', value: sha, bytes: 29, name: 'sample.bin' }]);
    const a = await h.call('vt_get_analysis', {
      id: (r.structuredContent as { analysis_id: string }).analysis_id,
      wait_seconds: 10,
    });
    expect(textOf(a)).toContain(sha);
  });

  it('refuses, without reading or sending anything, what it must not touch', async () => {
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
    const none = await h.call('vt_submit_file', { path: join(dir, 'sample.bin') });
    expect(textOf(none)).toMatch(/set VT_UPLOAD_DIRS/);
    await h.close();

    h = await startHarness({ env: enabled() });
    const cases: Array<[string, RegExp]> = [
      [join(outside, 'secret.txt'), /outside the directories in VT_UPLOAD_DIRS/],
      [join(dir, 'link-to-secret'), /outside the directories in VT_UPLOAD_DIRS/],
      [join(dir, '..', 'x', 'secret.txt'), /No readable file|outside/],
      [join(dir, 'sub'), /not a regular file/],
      ['sample.bin', /absolute path/],
      [join(dir, 'missing.bin'), /No readable file/],
    ];
    for (const [path, why] of cases) {
      const r = await h.call('vt_submit_file', { path });
      expect(r.isError, path).toBe(true);
      expect(textOf(r), path).toMatch(why);
    }
    await h.close();

    // Even if someone allows the whole filesystem, /proc (where the key sits in the environment) is never read.
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true', VT_UPLOAD_DIRS: '/' } });
    const environ = await h.call('vt_submit_file', { path: '/proc/self/environ' });
    expect(textOf(environ)).toMatch(/Special files/);
    expect(posts(h)).toHaveLength(0);
    expect(h.api.submissions.received).toHaveLength(0);
  });

  it('sends a file over 32 MB through the upload URL VirusTotal hands out', async () => {
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(33 * 1024 * 1024, 7));
    h = await startHarness({ env: enabled() });
    const r = await h.call('vt_submit_file', { path: big });
    expect(r.isError).toBeFalsy();
    expect(h.api.count('/files/upload_url')).toBe(1);
    expect(h.api.requests.some((q) => q.method === 'POST' && q.path.startsWith('/_upload/'))).toBe(true);
    expect(h.api.submissions.received[0]?.bytes).toBe(33 * 1024 * 1024);
  }, 30_000);
});
