/**
 * Streamable HTTP hardening: the README's shared-server command works for clients reaching
 * the machine by address or name while loopback without a token keeps its DNS-rebinding guard;
 * every request that can reach VirusTotal counts against its client, and without tokens all
 * callers share one allowance; slow requests and too many connections are cut off;
 * each refusal is one log line without secrets.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { createServer as createNetServer, connect as netConnect, type Socket } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { peerOf } from '../src/transports/http.js';
import { testClient } from './helpers/client.js';
import { TEST_KEY } from './helpers/harness.js';
import { type Limits, type RunningServer, startHttpServer } from './helpers/http-server.js';

const ALICE = 'tok-alice-0123456789abcdef';
const BOB = 'tok-bob-fedcba9876543210';
const TOKENS = `${ALICE},${BOB}`;

type Running = RunningServer;

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function start(
  env: Record<string, string> = {},
  host = '127.0.0.1',
  limits: Limits = {},
): Promise<Running> {
  const r = await startHttpServer(env, host, limits);
  cleanup.push(() => r.close());
  return r;
}

const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };

/** One POST through node:http, which (unlike fetch) can set any Host and source address. */
function raw(
  port: number,
  opts: { headers?: Record<string, string>; body?: unknown; address?: string; localAddress?: string } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: opts.address ?? '127.0.0.1',
        port,
        localAddress: opts.localAddress,
        path: '/mcp',
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString('utf8');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(opts.body ?? PING));
  });
}

async function sdkClient(url: string, token?: string): Promise<Client> {
  const client = testClient({ name: 'http-hardening-test', version: '0' });
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  cleanup.push(() => client.close());
  return client;
}

function refusals(r: Running): string[] {
  return r.logs.filter((l) => l.includes('http: refused'));
}

function expectNoSecrets(r: Running): void {
  const all = r.logs.join('\n');
  for (const secret of [ALICE, BOB, TEST_KEY, 'wrong-token']) expect(all).not.toContain(secret);
  expect(all).not.toMatch(/Bearer\s|authorization:/);
}

const nonLoopbackV4 = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describe('item 15: the README shared-server command (--host 0.0.0.0 with tokens)', () => {
  it('serves clients that reach the machine by any address or name, with the token', async () => {
    const r = await start({ VT_MCP_AUTH_TOKEN: TOKENS }, '0.0.0.0');
    const port = r.http.port;
    const auth = { authorization: `Bearer ${ALICE}` };
    const addresses = ['127.0.0.1', ...(nonLoopbackV4 ? [nonLoopbackV4] : [])];
    for (const address of addresses) {
      for (const host of [
        `${address}:${port}`,
        `${hostname()}:${port}`,
        'name-behind-proxy',
        `localhost:${port}`,
      ]) {
        const res = await raw(port, { address, headers: { host, ...auth } });
        expect(res.status, `${address} as ${host}`).toBe(200);
        expect(res.text).toContain('"result":{}');
        expect((await raw(port, { address, headers: { host } })).status, `${address} as ${host}`).toBe(401);
        const wrong = await raw(port, { address, headers: { host, authorization: 'Bearer wrong-token' } });
        expect(wrong.status).toBe(401);
      }
      // A real SDK client, by address.
      const client = await sdkClient(`http://${address}:${port}/mcp`, BOB);
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name)).toContain('vt_get_report');
      const res = await client.callTool({ name: 'vt_get_report', arguments: { indicator: 'github.com' } });
      expect(res.isError).toBeFalsy();
    }
    // Without the token the SDK client gets nowhere.
    await expect(sdkClient(`http://127.0.0.1:${port}/mcp`)).rejects.toThrow();
    // A browser page from a foreign origin is refused even with the token.
    const foreign = await raw(port, { headers: { ...auth, origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);

    const lines = refusals(r);
    expect(lines.some((l) => /refused POST \/mcp from [0-9a-f.:]+: no bearer token/.test(l))).toBe(true);
    expect(lines.some((l) => /refused POST \/mcp from [0-9a-f.:]+: wrong bearer token/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes('Origin "http://evil.example" not allowed'))).toBe(true);
    expect(lines.every((l) => l.split('\n').filter(Boolean).length === 1)).toBe(true);
    expectNoSecrets(r);
  }, 60_000);

  it('keeps the strict Host list on loopback without a token, and VT_MCP_ALLOWED_HOSTS works with or without a port', async () => {
    const r = await start({ VT_MCP_ALLOWED_HOSTS: 'Proxy.Example,other.example:8443,::1' });
    const port = r.http.port;
    const status = async (host: string) => (await raw(port, { headers: { host } })).status;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
      expect(await status(host)).toBe(200);
    for (const host of [
      'proxy.example',
      `proxy.example:${port}`,
      'PROXY.EXAMPLE:443',
      'other.example:8443',
      '[::1]',
    ]) {
      expect(await status(host), host).toBe(200);
    }
    for (const host of [
      `attacker.example:${port}`,
      'attacker.example',
      '127.0.0.1', // the right name on another port is another origin
      `localhost:${port + 1}`,
      'other.example',
      'other.example:8444',
      `${hostname()}:${port}`,
      'name-behind-proxy',
    ]) {
      expect(await status(host), host).toBe(403);
    }
    const lines = refusals(r);
    expect(lines.filter((l) => l.includes('not allowed'))).toHaveLength(8);
    expect(
      lines.some((l) =>
        /refused POST \/mcp from 127\.0\.0\.1: Host "attacker\.example:\d+" not allowed/.test(l),
      ),
    ).toBe(true);
    expectNoSecrets(r);
  });

  it('logs a refusal on one line, with control characters and long values neutralised', async () => {
    const r = await start();
    const res = await raw(r.http.port, { headers: { host: `${'a'.repeat(300)}.example` } });
    expect(res.status).toBe(403);
    const line = refusals(r)[0] ?? '';
    expect(line).toMatch(/refused POST \/mcp from 127\.0\.0\.1: Host "a{100}\.\.\." not allowed/);
    expect(line.length).toBeLessThan(400);
    expect(line.trimEnd().split('\n')).toHaveLength(1);
  });
});

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = `${ROOT}dist/index.js`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('item 15: the README command as written (node dist/index.js)', () => {
  it.skipIf(!existsSync(ENTRY))(
    'serves by address and by name, and says where clients connect',
    async () => {
      const api = await new RecordedApi({ apiKey: TEST_KEY }).start();
      cleanup.push(() => api.close());
      const port = await freePort();
      // VIRUSTOTAL_API_KEY=... VT_MCP_AUTH_TOKEN=alice-...,bob-... node dist/index.js --transport http --host 0.0.0.0 --port 3000
      const child = spawn(
        process.execPath,
        [ENTRY, '--transport', 'http', '--host', '0.0.0.0', '--port', String(port)],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH ?? '',
            VIRUSTOTAL_API_KEY: TEST_KEY,
            VIRUSTOTAL_API_URL: api.url,
            VT_MCP_AUTH_TOKEN: TOKENS,
            // Never the user's real cache directory.
            VT_STATE: 'memory',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString('utf8');
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      cleanup.push(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      await waitFor('startup', () => /every interface/.test(err) || child.exitCode !== null, 15_000);
      expect(err).toMatch(/every interface: clients use http:\/\/<this machine's address or name>:\d+\/mcp/);

      const address = nonLoopbackV4 ?? '127.0.0.1';
      for (const host of [`${address}:${port}`, `${hostname()}:${port}`, 'name-behind-proxy']) {
        const res = await raw(port, { address, headers: { host, authorization: `Bearer ${BOB}` } });
        expect(res.status, host).toBe(200);
      }
      const client = await sdkClient(`http://${address}:${port}/mcp`, ALICE);
      const r = await client.callTool({ name: 'vt_get_report', arguments: { indicator: 'github.com' } });
      expect(r.isError).toBeFalsy();
      expect((await raw(port, { address })).status).toBe(401);
      await waitFor(
        'the refusal line',
        () => /http: refused POST \/mcp from [0-9a-f.:]+: no bearer token/.test(err),
        5000,
      );
      for (const secret of [ALICE, BOB, TEST_KEY]) expect(err).not.toContain(secret);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
    30_000,
  );
});

describe('item 4: every request that can reach VirusTotal counts against its client', () => {
  const read = (id: number, uri: string) => ({
    jsonrpc: '2.0',
    id,
    method: 'resources/read',
    params: { uri },
  });
  const call = (id: number) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'vt_get_report', arguments: { indicator: 'github.com' } },
  });

  it('counts report reads with tool calls, per token, and not the static docs', async () => {
    const r = await start({ VT_MCP_AUTH_TOKEN: TOKENS, VT_MCP_CLIENT_RATE: '3' });
    const alice = { authorization: `Bearer ${ALICE}` };
    const bob = { authorization: `Bearer ${BOB}` };
    const port = r.http.port;
    expect((await raw(port, { headers: alice, body: call(1) })).status).toBe(200);
    expect((await raw(port, { headers: alice, body: read(2, 'vt://domain/github.com') })).status).toBe(200);
    expect((await raw(port, { headers: alice, body: read(3, 'vt://ip_address/8.8.8.8') })).status).toBe(200);
    for (const uri of [
      'vt://domain/github.com',
      'vt://file/e2a52f78fc1dc2eb561fd5d77892d642',
      'VT://URL/abc',
    ]) {
      const over = await raw(port, { headers: alice, body: read(4, uri) });
      expect(over.status, uri).toBe(429);
      expect(over.text).toMatch(/its share on this shared server \(VT_MCP_CLIENT_RATE\)/);
    }
    expect((await raw(port, { headers: alice, body: call(5) })).status).toBe(429);
    // The syntax reference never reaches VirusTotal, and other clients have their own share.
    expect((await raw(port, { headers: alice, body: read(6, 'vt://docs/search-syntax') })).status).toBe(200);
    expect((await raw(port, { headers: bob, body: read(7, 'vt://domain/github.com') })).status).toBe(200);

    // An SDK client sees the refusal as an error on readResource.
    const client = await sdkClient(r.http.url, ALICE);
    await expect(client.readResource({ uri: 'vt://domain/github.com' })).rejects.toThrow(
      /429|VT_MCP_CLIENT_RATE/,
    );
    const lines = refusals(r).filter((l) => l.includes('VT_MCP_CLIENT_RATE'));
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines[0]).toMatch(
      /refused POST \/mcp from 127\.0\.0\.1: over VT_MCP_CLIENT_RATE \(3 per minute\) for token:[0-9a-f]{16}/,
    );
    expectNoSecrets(r);
  });

  it('without tokens, all loopback callers share one allowance whatever their source address', async () => {
    const r = await start({ VT_MCP_CLIENT_RATE: '2' });
    const port = r.http.port;
    expect(
      (await raw(port, { body: read(1, 'vt://domain/github.com'), localAddress: '127.0.0.1' })).status,
    ).toBe(200);
    expect((await raw(port, { body: call(2), localAddress: '127.0.0.2' })).status).toBe(200);
    for (const localAddress of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) {
      expect((await raw(port, { body: read(3, 'vt://domain/github.com'), localAddress })).status).toBe(429);
      expect((await raw(port, { body: call(4), localAddress })).status).toBe(429);
    }
    expect((await raw(port, { body: PING, localAddress: '127.0.0.3' })).status).toBe(200);
    expect(refusals(r).some((l) => l.includes('for local'))).toBe(true);
  });
});

/** A raw connection to the server, with what it has received and when it closed. */
interface Raw {
  socket: Socket;
  received: () => string;
  closed: Promise<number>;
  isClosed: () => boolean;
}

function openRaw(port: number, localAddress?: string, host = '127.0.0.1'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, ...(localAddress ? { localAddress } : {}) });
    let data = '';
    let closedAt = 0;
    socket.on('data', (d: Buffer) => {
      data += d.toString('utf8');
    });
    const closed = new Promise<number>((res) =>
      socket.on('close', () => {
        closedAt = Date.now();
        res(closedAt);
      }),
    );
    socket.on('error', () => {});
    socket.once('connect', () =>
      resolve({ socket, received: () => data, closed, isClosed: () => closedAt > 0 }),
    );
    socket.once('error', reject);
    cleanup.push(() => {
      socket.destroy();
    });
  });
}

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const headerBlock = (port: number, extra: string) =>
  `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${ALICE}\r\n` +
  `Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${extra}`;

describe('item 13: slow requests and too many connections', () => {
  const T = 1000;

  it('closes an authenticated body that stalls or trickles, and headers that never end', async () => {
    const r = await start({ VT_MCP_AUTH_TOKEN: TOKENS }, '127.0.0.1', {
      bodyTimeoutMs: T,
      headersTimeoutMs: T,
      requestTimeoutMs: 3 * T,
    });
    const port = r.http.port;

    const stalled = await openRaw(port);
    const t0 = Date.now();
    stalled.socket.write(`${headerBlock(port, 'Content-Length: 1000\r\n')}\r\n{"jsonrpc":`);

    const trickle = await openRaw(port);
    const t1 = Date.now();
    trickle.socket.write(`${headerBlock(port, 'Content-Length: 100000\r\n')}\r\n`);
    const drip = setInterval(() => {
      if (!trickle.isClosed()) trickle.socket.write(' ');
    }, 100);
    cleanup.push(() => clearInterval(drip));

    const slowHeaders = await openRaw(port);
    const t2 = Date.now();
    slowHeaders.socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);

    const bound = 5 * T;
    const timer = new Promise<number>((res) => setTimeout(() => res(0), bound + 500));
    const [a, b, c] = await Promise.all([
      Promise.race([stalled.closed, timer]),
      Promise.race([trickle.closed, timer]),
      Promise.race([slowHeaders.closed, timer]),
    ]);
    clearInterval(drip);
    for (const [closedAt, started, name] of [
      [a, t0, 'stalled body'],
      [b, t1, 'trickled body'],
      [c, t2, 'unfinished headers'],
    ] as const) {
      expect(closedAt, `${name} still open after ${bound} ms`).toBeGreaterThan(0);
      const took = closedAt - started;
      expect(took, name).toBeGreaterThanOrEqual(T * 0.5);
      expect(took, name).toBeLessThan(bound);
    }
    expect(stalled.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(trickle.received()).toMatch(/^HTTP\/1\.1 408/);
    const lines = refusals(r);
    expect(lines.filter((l) => l.includes(`body not received within ${T} ms`))).toHaveLength(2);
    expectNoSecrets(r);

    // A prompt request is unaffected.
    expect((await raw(port, { headers: { authorization: `Bearer ${ALICE}` } })).status).toBe(200);
  }, 30_000);

  it('refuses connections beyond the cap while the open ones keep working', async () => {
    const cap = 3;
    const r = await start({ VT_MCP_AUTH_TOKEN: TOKENS }, '127.0.0.1', {
      maxConnections: cap,
      keepAliveTimeoutMs: 30_000,
    });
    const port = r.http.port;
    const ping = `${headerBlock(port, `Content-Length: ${JSON.stringify(PING).length}\r\n`)}\r\n${JSON.stringify(PING)}`;
    const answered = (c: Raw, n: number) =>
      waitFor(`answer ${n}`, () => (c.received().match(/"result":\{\}/g) ?? []).length >= n, 5000);

    const open: Raw[] = [];
    for (let i = 0; i < cap; i++) {
      const c = await openRaw(port);
      c.socket.write(ping);
      await answered(c, 1);
      open.push(c);
    }
    // Beyond the cap: closed at once, without an answer.
    const extra: Raw[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await openRaw(port).catch(() => undefined);
      if (!c) continue; // refused before connecting: also fine
      c.socket.write(ping);
      extra.push(c);
    }
    for (const c of extra) {
      await waitFor('the extra connection to close', c.isClosed, 3000);
      expect(c.received()).not.toContain('"result"');
    }
    // The open ones keep being served on the same connections.
    for (const c of open) {
      c.socket.write(ping);
      await answered(c, 2);
      expect(c.isClosed()).toBe(false);
    }
    // A freed slot is usable again.
    open[0]?.socket.destroy();
    await open[0]?.closed;
    let served = false;
    for (let attempt = 0; attempt < 20 && !served; attempt++) {
      const c = await openRaw(port).catch(() => undefined);
      if (c) {
        c.socket.write(ping);
        await Promise.race([answered(c, 1).catch(() => {}), c.closed]);
        served = (c.received().match(/"result":\{\}/g) ?? []).length >= 1;
        c.socket.destroy();
      }
      if (!served) await new Promise((res) => setTimeout(res, 50));
    }
    expect(served).toBe(true);
    const lines = refusals(r).filter((l) => l.includes('connections are open'));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toMatch(/refused a connection from [0-9a-f.:]+: 3 connections are open \(the cap\)/);
  }, 30_000);

  it('answers 413 to a declared oversized body at once, and logs it', async () => {
    const r = await start({}, '127.0.0.1', { maxBodyBytes: 1000 });
    const res = await raw(r.http.port, {
      body: { jsonrpc: '2.0', id: 1, method: 'ping', params: { x: 'y'.repeat(2000) } },
    });
    expect(res.status).toBe(413);
    expect(refusals(r).some((l) => l.includes('body over 1000 bytes'))).toBe(true);
  });
});

/**
 * Idle connections that never authenticate, `each` from every address, as the red team held them: each
 * one closed (by a timeout, or to make room) is reopened at once from the same address. Odd ones send
 * half a header block, even ones nothing. Bounded in reopenings; stop() ends it and closes them all.
 */
function occupy(port: number, addresses: string[], each: number) {
  let stopped = false;
  let opened = 0;
  const live = new Set<Socket>();
  const open = (localAddress: string, i: number): Promise<void> =>
    new Promise((resolve) => {
      if (stopped || opened >= 3000) return resolve();
      opened++;
      const s = netConnect({ host: '127.0.0.1', port, localAddress });
      live.add(s);
      s.on('error', () => {});
      s.once('connect', () => {
        if (i % 2 === 1) s.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
        resolve();
      });
      s.once('close', () => {
        live.delete(s);
        resolve();
        if (!stopped) setImmediate(() => void open(localAddress, i));
      });
    });
  const ready = (async () => {
    for (const a of addresses) for (let i = 0; i < each; i++) await open(a, i);
  })();
  const stop = () => {
    stopped = true;
    for (const s of live) s.destroy();
  };
  cleanup.push(stop);
  return { ready, stop, live, opened: () => opened };
}

/** A promise, or an error after ms. */
function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

describe('connections per peer, and room for authenticated clients', () => {
  it('counts an IPv4 address as itself (also IPv4-mapped) and an IPv6 address by its /64', () => {
    expect(peerOf('192.0.2.7')).toBe('192.0.2.7');
    expect(peerOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(peerOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(peerOf('2001:DB8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(peerOf('2001:db8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(peerOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(peerOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(peerOf('::1')).toBe('0:0:0:0::/64');
    expect(peerOf('::ffff:1.2.3.4')).not.toBe(peerOf('::ffff:1.2.3.5'));
  });

  const ping = (port: number) =>
    `${headerBlock(port, `Content-Length: ${JSON.stringify(PING).length}\r\n`)}\r\n${JSON.stringify(PING)}`;

  it('caps the connections one address holds (32 by default) while other addresses still get in', async () => {
    // Loopback peers are exempt in service (see the next test); here 127.0.0.2 plays a remote peer.
    const r = await start({ VT_MCP_AUTH_TOKEN: TOKENS }, '127.0.0.1', { capLoopbackPeers: true });
    const port = r.http.port;
    const held: Raw[] = [];
    for (let i = 0; i < 32; i++) held.push(await openRaw(port, '127.0.0.2'));
    // Beyond 32 from 127.0.0.2: closed at once, unanswered, even with a valid token.
    const extra: Raw[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await openRaw(port, '127.0.0.2').catch(() => undefined);
      if (!c) continue; // refused before connecting: also fine
      c.socket.write(ping(port));
      extra.push(c);
    }
    for (const c of extra) {
      await waitFor('the connection over the per-address cap to close', c.isClosed, 3000);
      expect(c.received()).not.toContain('"result"');
    }
    // The 32 are still open, and another address is served.
    await new Promise((res) => setTimeout(res, 100));
    expect(held.filter((c) => c.isClosed())).toHaveLength(0);
    const other = await within(
      'a call from 127.0.0.1',
      raw(port, { localAddress: '127.0.0.1', headers: { authorization: `Bearer ${ALICE}` } }),
      5000,
    );
    expect(other.status).toBe(200);
    // A slot given back is usable by the same address again.
    held[0]?.socket.destroy();
    await held[0]?.closed;
    let served = false;
    for (let attempt = 0; attempt < 20 && !served; attempt++) {
      const res = await raw(port, {
        localAddress: '127.0.0.2',
        headers: { authorization: `Bearer ${ALICE}` },
      }).catch(() => undefined);
      served = res?.status === 200;
      if (!served) await new Promise((res) => setTimeout(res, 50));
    }
    expect(served).toBe(true);

    const lines = refusals(r).filter((l) => l.includes('VT_MCP_MAX_CONNECTIONS_PER_ADDRESS'));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toMatch(
      /refused a connection from 127\.0\.0\.2: 32 connections from this address are open \(VT_MCP_MAX_CONNECTIONS_PER_ADDRESS\)/,
    );
    expectNoSecrets(r);
  }, 30_000);

  it('holds a remote address to the cap as configured, and not loopback (a local reverse proxy carries every client)', async () => {
    const r = await start({ VT_MCP_AUTH_TOKEN: TOKENS }, '0.0.0.0');
    const port = r.http.port;
    // 40 connections from one loopback address, each carrying a call at once: all answered.
    const proxied = await Promise.all(Array.from({ length: 40 }, () => openRaw(port, '127.0.0.2')));
    for (const c of proxied) c.socket.write(ping(port));
    for (const c of proxied) {
      await waitFor('every proxied call answered', () => c.received().includes('"result":{}'), 5000);
    }
    expect(proxied.filter((c) => c.isClosed())).toHaveLength(0);
    if (!nonLoopbackV4) return; // no other address on this machine to play a remote peer
    // From this machine's own non-loopback address (a remote address to the server): 32, no more.
    const held: Raw[] = [];
    for (let i = 0; i < 32; i++) held.push(await openRaw(port, nonLoopbackV4, nonLoopbackV4));
    const over = await openRaw(port, nonLoopbackV4, nonLoopbackV4).catch(() => undefined);
    if (over) await waitFor('the 33rd connection to close', over.isClosed, 3000);
    await new Promise((res) => setTimeout(res, 100));
    expect(held.filter((c) => c.isClosed())).toHaveLength(0);
    expect(
      refusals(r).some((l) =>
        l.includes(`refused a connection from ${nonLoopbackV4}: 32 connections from this address are open`),
      ),
    ).toBe(true);
  }, 30_000);

  it('makes room with the longest idle unauthenticated connection first, and keeps each count right', async () => {
    const r = await start({ VT_MCP_AUTH_TOKEN: TOKENS }, '127.0.0.1', {
      maxConnections: 4,
      maxConnectionsPerAddress: 3,
      capLoopbackPeers: true,
    });
    const port = r.http.port;
    const settle = () => new Promise((res) => setTimeout(res, 100));
    const a1 = await openRaw(port, '127.0.0.2');
    const a2 = await openRaw(port, '127.0.0.2');
    const b1 = await openRaw(port, '127.0.0.3');
    const b2 = await openRaw(port, '127.0.0.3');
    // Full: a third from 127.0.0.2 takes a1's place, the longest idle; a fourth takes a2's (127.0.0.2
    // still holds 2 of its 3 each time, not 3: the connection closed for room was its own).
    const a3 = await openRaw(port, '127.0.0.2');
    await waitFor('a1 closed for room', a1.isClosed, 3000);
    const a4 = await openRaw(port, '127.0.0.2');
    await waitFor('a2 closed for room', a2.isClosed, 3000);
    await settle();
    for (const c of [b1, b2, a3, a4]) expect(c.isClosed()).toBe(false);
    // A connection that has carried an authenticated request is never closed for room.
    a3.socket.write(ping(port));
    await waitFor('a3 answered', () => a3.received().includes('"result":{}'), 5000);
    const c1 = await openRaw(port, '127.0.0.4');
    await waitFor('b1 closed for room', b1.isClosed, 3000);
    await settle();
    for (const c of [b2, a3, a4, c1]) expect(c.isClosed()).toBe(false);
    expect(r.logs.filter((l) => l.includes('closed an idle connection from'))).toHaveLength(3);
  }, 30_000);

  it('lets a token holder through when idle unauthenticated connections fill the cap (256 by default)', async () => {
    const r = await start({ VT_MCP_AUTH_TOKEN: TOKENS, VT_MCP_CLIENT_RATE: '0' });
    const port = r.http.port;
    // 8 addresses x 32 = 256, the whole default cap, reopened as soon as any is closed.
    const attackers = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
    const flood = occupy(port, attackers, 32);
    await within('filling the cap', flood.ready, 10_000);
    expect(flood.live.size).toBe(256);

    // A keep-alive connection that has carried an authenticated request keeps its place: while it is
    // open the flood has no free slot, so every reopened socket takes the place of another idle one.
    const keeper = await openRaw(port, '127.0.0.1');
    keeper.socket.write(ping(port));
    await waitFor('the keeper answered', () => keeper.received().includes('"result":{}'), 5000);

    // One call per connection, as the red team's token holder made them: every one gets through.
    const auth = { authorization: `Bearer ${ALICE}` };
    for (let i = 0; i < 10; i++) {
      const res = await within(
        `call ${i}`,
        raw(port, {
          localAddress: '127.0.0.1',
          headers: auth,
          body: {
            jsonrpc: '2.0',
            id: i,
            method: 'tools/call',
            params: { name: 'vt_get_report', arguments: { indicator: 'github.com' } },
          },
        }),
        5000,
      );
      expect(res.status, `call ${i}`).toBe(200);
      expect(res.text).toContain('github.com');
    }
    // A real SDK client too.
    const client = await within('an SDK client', sdkClient(`http://127.0.0.1:${port}/mcp`, BOB), 5000);
    const tools = await within('tools/list', client.listTools(), 5000);
    expect(tools.tools.map((t) => t.name)).toContain('vt_get_report');
    // A newcomer without a token makes room the same way, and gets its 401.
    const anon = await within('an unauthenticated call', raw(port, { localAddress: '127.0.0.1' }), 5000);
    expect(anon.status).toBe(401);

    keeper.socket.write(ping(port));
    await waitFor(
      'the keeper answered again',
      () => (keeper.received().match(/"result":\{\}/g) ?? []).length >= 2,
      5000,
    );
    expect(keeper.isClosed()).toBe(false);
    flood.stop();
    const evictions = r.logs.filter((l) => l.includes('closed an idle connection from 127.0.0.'));
    expect(evictions.length).toBeGreaterThanOrEqual(10);
    expect(evictions[0]).toMatch(
      /closed an idle connection from 127\.0\.0\.\d+ that carried no authenticated request, to make room for one from 127\.0\.0\.1: 256 connections are open \(the cap\)/,
    );
    expectNoSecrets(r);
  }, 60_000);
});

describe('streams held open by 2026-07-28 clients', () => {
  /** A 2026-07-28 request on the wire: the mirrored headers and the _meta envelope. */
  const modern = (url: string, method: string, params: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${ALICE}`,
        'mcp-method': method,
        'mcp-protocol-version': '2026-07-28',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method,
        params: {
          ...params,
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'hardening', version: '0.0.0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
      ...(signal ? { signal } : {}),
    });

  it('hold none: a listen for list changes is acknowledged with nothing to send and closed, and calls still get in', async () => {
    const r = await start({ VT_MCP_AUTH_TOKEN: TOKENS }, '127.0.0.1', { maxConnections: 6 });
    // More listens than connections, one after the other: each is answered and its stream ends (the
    // lists never change, and the capabilities say so), so none keeps a connection.
    for (let i = 0; i < 10; i++) {
      const a = await modern(
        r.http.url,
        'subscriptions/listen',
        { notifications: { toolsListChanged: true } },
        AbortSignal.timeout(5_000),
      );
      const text = await a.text();
      expect(text).toContain('notifications/subscriptions/acknowledged');
      expect(text).toContain('"notifications":{}');
      expect(text).toContain('"resultType":"complete"');
    }
    const list = await modern(r.http.url, 'tools/list', {});
    expect(list.status).toBe(200);
    expect(await list.text()).toContain('vt_get_report');
  }, 20_000);
});
