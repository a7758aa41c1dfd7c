/**
 * Streamable HTTP: the guards (Host, Origin, bearer token, per-client rate), a real SDK client over
 * HTTP, many concurrent clients, and the fake key kept out of every HTTP answer and log line.
 */
import { request } from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpConfigError } from '../src/transports/http.js';
import { testClient } from './helpers/client.js';
import { TEST_KEY } from './helpers/harness.js';
import { type RunningServer, startHttpServer } from './helpers/http-server.js';

interface Running extends RunningServer {
  bodies: string[];
}

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(env: Record<string, string> = {}, host = '127.0.0.1'): Promise<Running> {
  return { ...(await startHttpServer(env, host)), bodies: [] };
}

async function connect(r: Running, headers: Record<string, string> = {}): Promise<Client> {
  const client = testClient({ name: 'http-test', version: '0' });
  const transport = new StreamableHTTPClientTransport(new URL(r.http.url), {
    requestInit: { headers },
    // Keep every body the server sent, to look for the key afterwards.
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      const text = await res.clone().text();
      r.bodies.push(text);
      return res;
    },
  });
  await client.connect(transport);
  return client;
}

const post = (
  r: Running,
  headers: Record<string, string>,
  body: unknown = { jsonrpc: '2.0', id: 1, method: 'ping' },
) =>
  fetch(r.http.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });

describe('Streamable HTTP', () => {
  it('serves tools over HTTP on loopback, with /healthz', async () => {
    running = await start();
    expect(running.http.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const health = await fetch(running.http.url.replace('/mcp', '/healthz'));
    expect(await health.json()).toEqual({ status: 'ok' });
    const client = await connect(running);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('vt_get_report');
    const r = (await client.callTool({
      name: 'vt_get_report',
      arguments: { indicator: 'github.com' },
    })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(JSON.stringify(r.content)).toContain('Domain github.com');
    await client.close();
    expect((await fetch(running.http.url)).status).toBe(405);
  });

  it('answers 403 to a foreign Origin or Host, and lets loopback origins through', async () => {
    running = await start();
    expect((await post(running, { origin: 'http://evil.example' })).status).toBe(403);
    const port = running.http.port;
    expect((await post(running, { origin: `http://localhost:${port}` })).status).toBe(200);
    // A DNS-rebinding page: the right address under another name (fetch cannot set Host; node:http can).
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/mcp',
          method: 'POST',
          headers: { host: `attacker.example:${port}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(status).toBe(403);
  });

  it('refuses to listen beyond loopback without a token, and then requires it', async () => {
    await expect(start({}, '0.0.0.0')).rejects.toBeInstanceOf(HttpConfigError);
    running = await start(
      { VT_MCP_AUTH_TOKEN: 'tok-alice-123456,tok-bob-654321', VT_MCP_ALLOWED_HOSTS: '' },
      '127.0.0.1',
    );
    expect((await post(running, {})).status).toBe(401);
    expect((await post(running, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(running, { authorization: 'Bearer tok-bob-654321' })).status).toBe(200);
    const client = await connect(running, { authorization: 'Bearer tok-alice-123456' });
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
  });

  it("limits each client's tool calls, without touching other clients", async () => {
    running = await start({ VT_MCP_AUTH_TOKEN: 'tok-alice-123456,tok-bob-654321', VT_MCP_CLIENT_RATE: '3' });
    const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'vt_quota', arguments: {} } };
    const alice = { authorization: 'Bearer tok-alice-123456' };
    for (let i = 0; i < 3; i++) expect((await post(running, alice, call)).status).toBe(200);
    const fourth = await post(running, alice, call);
    expect(fourth.status).toBe(429);
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await fourth.text()).toMatch(/its share on this shared server \(VT_MCP_CLIENT_RATE\)/);
    expect((await post(running, { authorization: 'Bearer tok-bob-654321' }, call)).status).toBe(200);
    // Listing tools is not a tool call.
    expect((await post(running, alice)).status).toBe(200);
  });

  // 50 clients at once for the whole run is what this checks (each call builds its own server); how
  // fast they are served is bench/run.mjs's measurement (50 × 20), not this test's.
  it('25 concurrent clients doing 8 calls each against cached data all succeed', async () => {
    running = await start({ VT_MCP_CLIENT_RATE: '0' });
    const r = running;
    const warm = await connect(r);
    await warm.callTool({ name: 'vt_get_report', arguments: { indicator: 'github.com' } });
    await warm.close();
    const upstreamBefore = r.api.count();
    let ok = 0;
    await Promise.all(
      Array.from({ length: 25 }, async () => {
        const c = await connect(r);
        for (let i = 0; i < 8; i++) {
          const res = (await c.callTool({
            name: 'vt_get_report',
            arguments: { indicator: 'github.com' },
          })) as CallToolResult;
          if (!res.isError && JSON.stringify(res.content).includes('(from cache)')) ok++;
        }
        await c.close();
      }),
    );
    expect(ok).toBe(200);
    expect(r.api.count()).toBe(upstreamBefore);
    r.bodies.length = 0; // large; not needed further
  }, 60_000);

  it('keeps the API key and the auth token out of every HTTP answer and log line', async () => {
    running = await start({ VT_MCP_AUTH_TOKEN: 'tok-secret-abcdef123456' });
    const client = await connect(running, { authorization: 'Bearer tok-secret-abcdef123456' });
    for (const args of [
      { indicator: 'github.com' },
      { indicator: '0'.repeat(64) },
      { indicator: '../../users/me' },
      { indicator: 'e2a52f78fc1dc2eb561fd5d77892d642', detail: 'detailed' },
    ]) {
      await client.callTool({ name: 'vt_get_report', arguments: args });
    }
    await client.callTool({ name: 'vt_quota', arguments: { include_vt: true } });
    await client.close();
    expect(running.api.requests.length).toBeGreaterThan(0);
    const everything = [...running.bodies, ...running.logs].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    for (const secret of [TEST_KEY, 'tok-secret-abcdef123456']) {
      for (let i = 0; i + 12 <= secret.length; i += 6)
        expect(everything).not.toContain(secret.slice(i, i + 12));
    }
  });
});
