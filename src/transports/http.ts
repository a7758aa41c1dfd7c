/**
 * Stateless Streamable HTTP at /mcp (a fresh MCP server per POST, as the SDK's stateless pattern
 * does), sharing one VirusTotal runtime: limiter, cache and quota are the team's, not per request.
 * Guards, in order: Host (DNS rebinding), Origin, bearer token, body size, each client's call rate.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { HttpSettings } from '../config.js';
import type { Logger } from '../log.js';

export interface HttpOptions extends HttpSettings {
  maxBodyBytes?: number;
  createServer: () => McpServer;
  log: Logger;
}

export interface RunningHttp {
  url: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export class HttpConfigError extends Error {}

export async function startHttp(opts: HttpOptions): Promise<RunningHttp> {
  if (!isLoopback(opts.host) && opts.authTokens.length === 0) {
    throw new HttpConfigError(
      `Refusing to listen on ${opts.host} without VT_MCP_AUTH_TOKEN: anyone who can reach it could spend your ` +
        'VirusTotal quota. Set a long random token, or bind to 127.0.0.1.',
    );
  }
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const calls = new ClientRates(opts.clientCallsPerMinute);
  let port = opts.port;

  const server: Server = createHttpServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.log.error(`http: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal error.');
      else res.end();
    });
  });

  const allowedHostHeaders = () => {
    const names = isLoopback(opts.host) ? ['127.0.0.1', 'localhost', '[::1]'] : [opts.host];
    return new Set([...names.map((n) => `${n}:${port}`), ...opts.allowedHosts.map((h) => h.toLowerCase())]);
  };
  const allowedOrigins = () => {
    const names = isLoopback(opts.host) ? ['127.0.0.1', 'localhost', '[::1]'] : [opts.host];
    return new Set([
      ...names.flatMap((n) => [`http://${n}:${port}`, `https://${n}:${port}`]),
      ...opts.allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')),
    ]);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowedHostHeaders().has(host)) return plain(res, 403, 'Forbidden: Host not allowed.');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin.toLowerCase())) {
      return plain(res, 403, 'Forbidden: Origin not allowed.');
    }
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    if (url.pathname !== '/mcp') return plain(res, 404, 'Not found. The MCP endpoint is /mcp.');
    const tokenIndex =
      opts.authTokens.length > 0 ? matchingToken(req.headers.authorization, opts.authTokens) : -1;
    if (opts.authTokens.length > 0 && tokenIndex === -1) {
      res.setHeader('www-authenticate', 'Bearer realm="vtbrief"');
      return jsonRpcError(res, 401, -32001, 'Unauthorized: send Authorization: Bearer <VT_MCP_AUTH_TOKEN>.');
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return jsonRpcError(res, 405, -32000, 'Method not allowed: this server is stateless; use POST.');
    }
    const body = await readJson(req, maxBody);
    if (body === TOO_LARGE) return jsonRpcError(res, 413, -32600, `Request body over ${maxBody} bytes.`);
    if (body === BAD_JSON) return jsonRpcError(res, 400, -32700, 'Parse error: the body is not JSON.');

    // A client is the holder of one token; without tokens (loopback), one address.
    const client = tokenIndex >= 0 ? `token#${tokenIndex}` : (req.socket.remoteAddress ?? 'unknown');
    const toolCalls = (Array.isArray(body) ? body : [body]).filter(
      (m) => m && typeof m === 'object' && (m as { method?: unknown }).method === 'tools/call',
    ).length;
    const wait = calls.take(client, toolCalls);
    if (wait > 0) {
      res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
      return jsonRpcError(
        res,
        429,
        -32000,
        `This client has made ${opts.clientCallsPerMinute} tool calls in the last minute, its share on this shared ` +
          `server (VT_MCP_CLIENT_RATE). Retry in ${Math.ceil(wait / 1000)} s.`,
      );
    }

    const mcp = opts.createServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      transport.close().catch(() => {});
      mcp.close().catch(() => {});
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${shownHost}:${port}/mcp`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The index of the token the request carries, or -1; compared in constant time. */
function matchingToken(header: string | undefined, tokens: string[]): number {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return -1;
  const given = Buffer.from((m[1] as string).trim());
  let found = -1;
  tokens.forEach((t, i) => {
    const want = Buffer.from(t);
    if (given.length === want.length && timingSafeEqual(given, want)) found = i;
  });
  return found;
}

/** A sliding minute of tool calls per client. */
class ClientRates {
  readonly #calls = new Map<string, number[]>();
  constructor(private readonly perMinute: number) {}

  /** Records n calls; returns 0, or the ms to wait when over the share (nothing is recorded then). */
  take(client: string, n: number): number {
    if (n === 0 || this.perMinute <= 0) return 0;
    const now = Date.now();
    const times = (this.#calls.get(client) ?? []).filter((t) => t > now - 60_000);
    if (times.length + n > this.perMinute) {
      this.#calls.set(client, times);
      return Math.max(1, (times[0] as number) + 60_000 - now);
    }
    for (let i = 0; i < n; i++) times.push(now);
    this.#calls.set(client, times);
    if (this.#calls.size > 10_000) this.#calls.clear(); // bound memory against address churn
    return 0;
  }
}

const TOO_LARGE = Symbol('too large');
const BAD_JSON = Symbol('bad json');

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return TOO_LARGE;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return BAD_JSON;
  }
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}
