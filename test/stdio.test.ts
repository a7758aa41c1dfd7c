/**
 * The built server as a client starts it: `node dist/index.js` over stdio (SDK StdioClientTransport).
 * `npm test` runs `npm run build` first; run alone, this file needs a build in dist/.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import type { Stream } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { type CallToolResult, CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ENV_OPTIONS } from '../src/config.js';
import { RecordedApi, type StandInRequest, send } from '../src/demo/recorded-api.js';
import { testClient } from './helpers/client.js';
import { TEST_KEY, textOf } from './helpers/harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = `${ROOT}dist/index.js`;
const BUILT = existsSync(ENTRY);
const PE_MD5 = 'e2a52f78fc1dc2eb561fd5d77892d642';
const PE_SHA256 = '6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb';

interface Child {
  client: Client;
  stderr: () => string;
}

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  while (open.length > 0) await open.pop()?.close();
});

/** Starts `node dist/index.js ...args` with exactly this environment (plus PATH) and connects a client. */
async function spawnServer(args: string[], env: Record<string, string>): Promise<Child> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [ENTRY, ...args],
    // VT_STATE=memory unless a test says otherwise: a test never writes into the user's cache directory.
    env: { PATH: process.env.PATH ?? '', VT_STATE: 'memory', ...env },
    cwd: ROOT,
    stderr: 'pipe',
  });
  let err = '';
  (transport.stderr as Stream | null)?.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  const client = testClient({ name: 'vtbrief-stdio-test', version: '0.0.0' });
  await client.connect(transport);
  open.push(client);
  return { client, stderr: () => err };
}

/** tools/call without the client's outputSchema check, to read any answer as the model would. */
function callRaw(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema);
}

describe('node dist/index.js', () => {
  it('is built', () => {
    if (!BUILT) {
      throw new Error(`${ENTRY} is missing: run "npm run build" first ("npm test" builds before testing).`);
    }
  });

  it.skipIf(!BUILT)('--help prints every environment variable and exits 0', () => {
    const r = spawnSync(process.execPath, [ENTRY, '--help'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(r.status).toBe(0);
    const names = ENV_OPTIONS.flatMap((o) => o.env);
    expect(names).toContain('VIRUSTOTAL_API_KEY');
    for (const name of names) expect(r.stdout).toContain(name);
  });

  it.skipIf(!BUILT)('serves a recorded report over stdio, and its stderr never holds the key', async () => {
    const seen: StandInRequest[] = [];
    const api = await new RecordedApi({
      apiKey: TEST_KEY,
      hook: (req, res) => {
        seen.push(req);
        // One path answers an error that echoes the key, to make the server log about it.
        if (req.path === '/domains/echo.example') {
          send(res, 400, {
            error: { code: 'InvalidArgumentError', message: `bad ${req.headers['x-apikey']}` },
          });
          return true;
        }
        return false;
      },
    }).start();
    open.push(api);
    const { client, stderr } = await spawnServer([], {
      VIRUSTOTAL_API_KEY: TEST_KEY,
      VIRUSTOTAL_API_URL: api.url,
    });

    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('vt_get_report');

    const r = (await client.callTool({
      name: 'vt_get_report',
      arguments: { indicator: PE_MD5 },
    })) as CallToolResult;
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ type: 'file', found: true, id: PE_SHA256 });
    expect(textOf(r)).toContain(PE_SHA256);
    expect(textOf(r)).toMatch(/MALICIOUS, 54\/\d+ engines malicious/);
    expect(textOf(r)).not.toMatch(/DEMO DATA/);
    expect(api.count(`/files/${PE_MD5}`)).toBe(1);
    expect(seen.every((q) => q.headers['x-apikey'] === TEST_KEY)).toBe(true);

    const e = (await client.callTool({
      name: 'vt_get_report',
      arguments: { indicator: 'echo.example' },
    })) as CallToolResult;
    expect(e.isError).toBe(true);
    expect(textOf(e)).not.toContain(TEST_KEY);

    await client.close();
    expect(stderr()).not.toContain(TEST_KEY);
    expect(stderr()).not.toContain(TEST_KEY.slice(0, 16));
  });

  it.skipIf(!BUILT)('--demo works without a key and says its answers are demo data', async () => {
    const { client } = await spawnServer(['--demo'], {});
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('vt_get_report');
    const r = await callRaw(client, 'vt_get_report', { indicator: PE_MD5 });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(textOf(r).split('\n')[0]).toMatch(/DEMO DATA/);
    expect(textOf(r)).toContain(PE_SHA256);
  });

  it.skipIf(!BUILT)('starts without a key, lists the tools, and explains how to set one', async () => {
    const { client, stderr } = await spawnServer([], {});
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    const r = (await client.callTool({
      name: 'vt_get_report',
      arguments: { indicator: PE_MD5 },
    })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/VIRUSTOTAL_API_KEY/);
    await client.close();
    expect(stderr()).toMatch(/VIRUSTOTAL_API_KEY/);
  });

  it.skipIf(!BUILT)(
    'closes and exits when stdin ends without closing (stdin from a file), with Redis too',
    async () => {
      const redis = process.env.VT_TEST_REDIS_URL;
      for (const state of ['memory', ...(redis ? [redis] : [])]) {
        const fd = openSync('/dev/null', 'r');
        try {
          const r = spawnSync(process.execPath, [ENTRY], {
            stdio: [fd, 'ignore', 'pipe'],
            env: { PATH: process.env.PATH ?? '', VIRUSTOTAL_API_KEY: TEST_KEY, VT_STATE: state },
            encoding: 'utf8',
            // The process must end on its own: a Redis socket kept the loop alive after stdin ended.
            timeout: 15_000,
          });
          expect(r.signal, `${state}: ${r.stderr}`).toBeNull();
          expect(r.status).toBe(0);
        } finally {
          closeSync(fd);
        }
      }
    },
  );

  it.skipIf(!BUILT || process.platform === 'win32')(
    "keeps Node's compile cache in the user's own cache directory, never in the shared temporary one",
    async () => {
      const { mkdtempSync, readdirSync, rmSync, statSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const home = mkdtempSync(join(tmpdir(), 'vtbrief-home-'));
      const temp = mkdtempSync(join(tmpdir(), 'vtbrief-tmp-'));
      try {
        const fd = openSync('/dev/null', 'r');
        try {
          const r = spawnSync(process.execPath, [ENTRY], {
            stdio: [fd, 'ignore', 'pipe'],
            env: {
              PATH: process.env.PATH ?? '',
              HOME: home,
              TMPDIR: temp,
              VIRUSTOTAL_API_KEY: TEST_KEY,
              VT_STATE: 'memory',
            },
            encoding: 'utf8',
            timeout: 15_000,
          });
          expect(r.status, r.stderr).toBe(0);
        } finally {
          closeSync(fd);
        }
        const dir = join(home, '.cache', 'vtbrief');
        expect(statSync(dir).mode & 0o777).toBe(0o700);
        expect(readdirSync(join(dir, 'compile-cache')).length).toBeGreaterThan(0);
        expect(readdirSync(temp)).toEqual([]);
      } finally {
        rmSync(home, { recursive: true, force: true });
        rmSync(temp, { recursive: true, force: true });
      }
    },
  );
});
