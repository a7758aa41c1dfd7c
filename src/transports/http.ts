/**
 * Stateless Streamable HTTP at /mcp (a fresh MCP server per POST, as the SDK's stateless pattern
 * does), sharing one VirusTotal runtime: limiter, cache and quota are the team's, not per request.
 * Guards, in order: connection caps (per address, then overall) and timeouts, Host (DNS rebinding),
 * Origin, bearer token, body size and read time, each client's share of the requests that can reach
 * VirusTotal. Every refusal is logged on one line (reason, method, path, remote address; never a token
 * or the Authorization header).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, type McpServer } from '@modelcontextprotocol/server';
import type { HttpSettings } from '../config.js';
import type { Logger } from '../log.js';
import { field } from '../util/json.js';
import { CallRates } from '../vt/fair-share.js';
import { ConnectionTable } from './http-connections.js';
import {
  BAD_JSON,
  CLOSED,
  jsonRpcError,
  plain,
  quoted,
  RefusalLog,
  readJson,
  TIMED_OUT,
  TOO_LARGE,
} from './http-refusals.js';

export { peerOf } from './http-connections.js';

export interface HttpOptions extends HttpSettings {
  maxBodyBytes?: number;
  /** Time to receive a request's headers (default 10 s). */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, headers and body (default 30 s); the answer may take longer. */
  requestTimeoutMs?: number;
  /** Time to read an accepted request's body (default 10 s); a slower body gets 408 and a closed connection. */
  bodyTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open (default 5 s). */
  keepAliveTimeoutMs?: number;
  /**
   * Holds loopback peers to the per-address cap too (default false; ConnectionTable says why they are
   * exempt). Tests turn it on to play remote peers from 127.0.0.x.
   */
  capLoopbackPeers?: boolean;
  /**
   * Builds the MCP server for one request of `caller`: the holder of one token ("token:" and a hash of
   * it, the same on every replica with that token), or "local" where no token is required.
   */
  createServer: (caller: string) => McpServer;
  /**
   * Each client's minute (VT_MCP_CLIENT_RATE), shared with what else counts in it (the triage jobs'
   * lookups); one of its own, of clientCallsPerMinute, when not given.
   */
  rates?: Pick<CallRates, 'take'>;
  log: Logger;
}

export interface RunningHttp {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const HTTP_DEFAULTS = {
  maxBodyBytes: 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  bodyTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
} as const;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export class HttpConfigError extends Error {}

/** A Host header or VT_MCP_ALLOWED_HOSTS entry: a name (IPv6 in brackets) and maybe a port. */
interface HostName {
  name: string;
  port?: string;
}

export function parseHost(raw: string): HostName | undefined {
  const text = raw.trim().toLowerCase();
  // A bare IPv6 address (an allowed-hosts entry such as ::1) has no port: bracket it.
  if (/^[0-9a-f:.]+$/.test(text) && (text.match(/:/g) ?? []).length > 1) return { name: `[${text}]` };
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9_.~!$&'()*+,;=%-]+)(?::(\d{1,5}))?$/.exec(text);
  const name = m?.[1];
  if (name === undefined) return undefined;
  return m?.[2] === undefined ? { name } : { name, port: String(Number(m[2])) };
}

export async function startHttp(opts: HttpOptions): Promise<RunningHttp> {
  if (!isLoopback(opts.host) && opts.authTokens.length === 0) {
    throw new HttpConfigError(
      `Refusing to listen on ${opts.host} without VT_MCP_AUTH_TOKEN: anyone who can reach it could spend your ` +
        'VirusTotal quota. Set a long random token, or bind to 127.0.0.1.',
    );
  }
  const maxBody = opts.maxBodyBytes ?? HTTP_DEFAULTS.maxBodyBytes;
  const maxConnections = opts.maxConnections;
  const perAddress = Math.min(opts.maxConnectionsPerAddress, maxConnections);
  const requestTimeout = opts.requestTimeoutMs ?? HTTP_DEFAULTS.requestTimeoutMs;
  const headersWanted = opts.headersTimeoutMs ?? HTTP_DEFAULTS.headersTimeoutMs;
  // Node requires headersTimeout <= requestTimeout (0 turns a timeout off).
  const headersTimeout = requestTimeout > 0 ? Math.min(headersWanted, requestTimeout) : headersWanted;
  const bodyTimeout = opts.bodyTimeoutMs ?? HTTP_DEFAULTS.bodyTimeoutMs;
  const calls = opts.rates ?? new CallRates(opts.clientCallsPerMinute);
  const connections = new ConnectionTable(maxConnections, perAddress, opts.capLoopbackPeers ?? false);
  const refusals = new RefusalLog(opts.log);
  const tokensRequired = opts.authTokens.length > 0;
  // A token's holder is one caller, named by a hash of the token (never the token itself): the name is
  // the same on every replica, so a job started through one is its holder's through any other.
  const callers = opts.authTokens.map(
    (t) => `token:${createHash('sha256').update(`vtbrief-caller\0${t}`).digest('hex').slice(0, 16)}`,
  );
  let port = opts.port;
  // Either protocol era per request, from one factory: a 2026-07-28 request carries its own envelope,
  // a 2025 one is served statelessly (a server per POST, as before). The guards above run first.
  const mcp = createMcpHandler(({ authInfo }) => opts.createServer(authInfo?.clientId ?? 'local'), {
    legacy: 'stateless',
    maxRequestBodySize: maxBody,
    // A 2026-07-28 client may ask for a stream of list changes; there are none (the lists never change,
    // and the capabilities say so), so it is closed at once. Should the server ever offer one, such
    // streams may take at most half the connections, leaving room for calls.
    maxSubscriptions: Math.max(1, Math.floor(maxConnections / 2)),
    onerror: (err) => opts.log.debug(`mcp: ${err.message}`),
  });
  const mcpNode = toNodeHandler(mcp, { onerror: (err) => opts.log.debug(`mcp: ${err.message}`) });

  const server: Server = createHttpServer(
    {
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? HTTP_DEFAULTS.keepAliveTimeoutMs,
      // Node checks the two timeouts above on this period (30 s by default, which would stretch them).
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1000, Math.floor((headersTimeout || requestTimeout) / 4) || 1000),
      ),
    },
    (req, res) => {
      const socket = req.socket;
      connections.busy(socket);
      res.once('close', () => connections.idle(socket));
      handle(req, res).catch((err: unknown) => {
        opts.log.error(`http: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal error.');
        else res.end();
      });
    },
  );
  /*
   * The caps are counted here rather than by Node's server.maxConnections, which can only refuse the
   * newcomer: a peer that never authenticates could then hold every slot by reopening each socket as
   * the header timeout closes it, and a token holder would get in only by luck. One address (an IPv6
   * /64; loopback excepted) may hold perAddress connections; at the overall cap, the longest idle
   * connection that has carried no authenticated request makes room for the new one. A connection that
   * has carried one, or has a request in flight, is never closed for room; the keep-alive timeout still
   * ends it.
   */
  server.on('connection', (socket: Socket) => {
    const remote = socket.remoteAddress;
    if (remote === undefined) {
      socket.destroy(); // already gone
      return;
    }
    const verdict = connections.admit(socket, remote);
    if (verdict.refused !== undefined) {
      refusals.connection(remote, verdict.refused);
      socket.destroy();
      return;
    }
    if (verdict.evicted) {
      refusals.evicted(
        verdict.evicted.remoteAddress,
        `to make room for one from ${remote}: ${maxConnections} connections are open (the cap)`,
      );
      verdict.evicted.destroy();
    }
  });

  /*
   * Host checking (DNS rebinding). A rebinding page makes a victim's browser send requests to this
   * server under the attacker's name; the Host header is then that name. This only matters when the
   * server answers without a credential: on loopback without tokens, where only the loopback names
   * with this port (and VT_MCP_ALLOWED_HOSTS) are accepted. When bearer tokens are required (always
   * beyond loopback), a rebinding page cannot present one, so the Host check would protect nothing,
   * and listing "the names of this machine" cannot be done right anyway (NAT, containers, proxies,
   * DNS aliases): any well-formed Host is accepted, and the token is the guard. The Origin check stays
   * in every mode, so a browser page from a foreign origin is refused even if it holds a token.
   * VT_MCP_ALLOWED_HOSTS entries match with or without a port: "proxy.example" accepts any port,
   * "proxy.example:8443" only that one.
   */
  const allowedHosts = opts.allowedHosts.map(parseHost).filter((h): h is HostName => h !== undefined);
  const hostAllowed = (raw: string | undefined): boolean => {
    const h = parseHost(raw ?? '');
    if (!h) return false;
    if (allowedHosts.some((a) => a.name === h.name && (a.port === undefined || a.port === h.port)))
      return true;
    if (tokensRequired) return true;
    const own = ['127.0.0.1', 'localhost', '[::1]', bracketed(opts.host.toLowerCase())];
    const portOk = h.port === String(port) || (h.port === undefined && port === 80);
    return own.includes(h.name) && portOk;
  };
  const allowedOrigins = () => {
    const names = isLoopback(opts.host) ? ['127.0.0.1', 'localhost', '[::1]'] : [bracketed(opts.host)];
    return new Set([
      ...names.flatMap((n) => [`http://${n}:${port}`, `https://${n}:${port}`]),
      ...opts.allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')),
    ]);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const refuse = (reason: string) => {
      refusals.request(req, url.pathname, reason);
      // A refused request does not keep its connection (nor a body it may still be sending).
      res.setHeader('connection', 'close');
    };
    if (!hostAllowed(req.headers.host)) {
      refuse(`Host ${quoted(req.headers.host)} not allowed`);
      return plain(res, 403, 'Forbidden: Host not allowed (add it to VT_MCP_ALLOWED_HOSTS).');
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin.toLowerCase())) {
      refuse(`Origin ${quoted(origin)} not allowed`);
      return plain(res, 403, 'Forbidden: Origin not allowed.');
    }
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    if (url.pathname !== '/mcp') return plain(res, 404, 'Not found. The MCP endpoint is /mcp.');
    const tokenIndex = tokensRequired ? matchingToken(req.headers.authorization, opts.authTokens) : -1;
    if (tokensRequired && tokenIndex === -1) {
      refuse(req.headers.authorization === undefined ? 'no bearer token' : 'wrong bearer token');
      res.setHeader('www-authenticate', 'Bearer realm="vtbrief"');
      return jsonRpcError(res, 401, -32001, 'Unauthorized: send Authorization: Bearer <VT_MCP_AUTH_TOKEN>.');
    }
    // Past every check a caller without a credential could pass (or with a token): its connection is
    // a client's, never closed to make room for a newcomer.
    connections.authenticated(req.socket);
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return jsonRpcError(res, 405, -32000, 'Method not allowed: this server is stateless; use POST.');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    const body = declared > maxBody ? TOO_LARGE : await readJson(req, maxBody, bodyTimeout);
    if (body === TOO_LARGE) {
      refuse(`body over ${maxBody} bytes`);
      return jsonRpcError(res, 413, -32600, `Request body over ${maxBody} bytes.`);
    }
    if (body === TIMED_OUT) {
      refuse(`body not received within ${bodyTimeout} ms`);
      jsonRpcError(res, 408, -32600, `Request body not received within ${Math.ceil(bodyTimeout / 1000)} s.`);
      res.on('finish', () => req.socket.destroy());
      return;
    }
    if (body === CLOSED) return;
    if (body === BAD_JSON) return jsonRpcError(res, 400, -32700, 'Parse error: the body is not JSON.');

    // A client is the holder of one token. Without tokens (loopback only) every caller is the same
    // client: one shared allowance, since anyone on the machine can use any source address.
    const client = (tokenIndex >= 0 ? callers[tokenIndex] : undefined) ?? 'local';
    const wait = calls.take(client, upstreamRequests(body));
    if (wait > 0) {
      refuse(`over VT_MCP_CLIENT_RATE (${opts.clientCallsPerMinute} per minute) for ${client}`);
      res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
      return jsonRpcError(
        res,
        429,
        -32000,
        `This client has made ${opts.clientCallsPerMinute} requests that can reach VirusTotal (tool calls and ` +
          'report reads) in the last minute, its share on this shared server (VT_MCP_CLIENT_RATE). ' +
          `Retry in ${Math.ceil(wait / 1000)} s.`,
      );
    }

    // The caller reaches the server built for this request, and its handlers, as the request's clientId.
    await mcpNode(Object.assign(req, { auth: { token: client, clientId: client, scopes: [] } }), res, body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const bound = server.address();
  // A string only for a pipe or socket file; this server listens on a host and port.
  if (bound === null || typeof bound === 'string') throw new Error('the HTTP server is not listening on TCP');
  port = bound.port;
  return {
    url: `http://${bracketed(opts.host)}:${port}/mcp`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        refusals.stop();
        void mcp.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The index of the token the request carries, or -1; compared in constant time. */
function matchingToken(header: string | undefined, tokens: string[]): number {
  const token = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1];
  if (token === undefined) return -1;
  const given = Buffer.from(token.trim());
  let found = -1;
  tokens.forEach((t, i) => {
    const want = Buffer.from(t);
    if (given.length === want.length && timingSafeEqual(given, want)) found = i;
  });
  return found;
}

/**
 * The messages in a body that can reach VirusTotal: every tools/call but following a triage job, and
 * every resources/read but the static documents (vt://docs/...) and a job's state. Following a job (its
 * progress, a page, a cancel, a resume) reads the state store only: the job's lookups are counted in its
 * owner's minute as it makes them, so a job never keeps its owner from following it. Counting by
 * exclusion keeps a new or oddly spelled tool or report URI from slipping through.
 */
function upstreamRequests(body: unknown): number {
  return (Array.isArray(body) ? body : [body]).filter((m) => {
    if (!m || typeof m !== 'object') return false;
    const method = field(m, 'method');
    const params = field(m, 'params');
    if (method === 'tools/call') {
      const a = field(params, 'arguments');
      return !(
        field(params, 'name') === 'vt_triage' &&
        field(a, 'indicators') === undefined &&
        typeof field(a, 'job') === 'string'
      );
    }
    if (method !== 'resources/read') return false;
    const uri = field(params, 'uri');
    return !/^vt:\/\/(docs\/[a-z0-9-]+|triage\/[a-z0-9]{12})$/i.test(typeof uri === 'string' ? uri : '');
  }).length;
}
