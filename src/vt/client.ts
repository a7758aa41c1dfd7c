/**
 * The HTTP client of the VirusTotal API v3: one keep-alive connection pool, the x-apikey header,
 * a timeout per request, a cap on body size, and typed errors (facts, not sentences). It knows nothing
 * of MCP.
 */
import type { Dispatcher, FormData } from 'undici';
import { redactDeep } from '../log.js';
import { field } from '../util/json.js';
import {
  BadAnswerError,
  CancelledError,
  ConnectionError,
  errorFromResponse,
  NotConfiguredError,
  RefusedRequestError,
  VtError,
} from './errors.js';
import { unchecked } from './narrow.js';

export type QueryValue = string | number | boolean | undefined;

interface VtClientOptions {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
  /** Bodies larger than this are refused (a relationship page of full objects is ~0.5 MB). */
  maxBodyBytes?: number;
  userAgent?: string;
  /**
   * Connections kept to the API's origin. It must not be below the limiter's concurrency, or requests
   * the limiter let go would queue here unseen (default 16).
   */
  connections?: number;
  dispatcher?: Dispatcher;
}

interface RequestOptions {
  signal?: AbortSignal | undefined;
  query?: Record<string, QueryValue> | undefined;
  /**
   * The path is below the key's own user: `/overall_quotas` is sent as `/users/<key>/overall_quotas`.
   * VirusTotal names a key's user by the key itself; this way the key is put into the URL here, at
   * the last moment, and never into a path that a cache, a log or an error could keep.
   */
  asKeyUser?: boolean | undefined;
}

export interface VtResponse<T = unknown> {
  status: number;
  body: T;
  /** Size of the body as received, in bytes. */
  bytes: number;
  /** The body as received (UTF-8 JSON): the cache keeps this, not the parsed object. */
  raw: Buffer;
  /** VT's own Retry-After, when it sends one. */
  retryAfterSeconds?: number;
}

let undici: Promise<typeof import('undici')> | undefined;
/**
 * undici, loaded at the first request rather than at start: its import is a sixth of a start's time,
 * and a client waits for the answer to `initialize` before it asks anything.
 */
const loadUndici = () => {
  undici ??= import('undici');
  return undici;
};

export class VtClient {
  readonly #opts: Required<Omit<VtClientOptions, 'dispatcher' | 'apiKey' | 'connections'>> & {
    apiKey: string | undefined;
  };
  /** The caller's dispatcher (tests), or ours, made at the first request. */
  #dispatcher: Dispatcher | undefined;
  readonly #ownsDispatcher: boolean;
  readonly #connections: number;

  constructor(opts: VtClientOptions) {
    this.#opts = {
      baseUrl: opts.baseUrl.replace(/\/+$/, ''),
      apiKey: opts.apiKey,
      timeoutMs: opts.timeoutMs,
      maxBodyBytes: opts.maxBodyBytes ?? 32 * 1024 * 1024,
      userAgent: opts.userAgent ?? 'vtbrief',
    };
    this.#ownsDispatcher = !opts.dispatcher;
    this.#dispatcher = opts.dispatcher;
    this.#connections = Math.max(1, opts.connections ?? 16);
  }

  get hasKey(): boolean {
    return this.#opts.apiKey !== undefined;
  }

  async send<T = unknown>(
    method: 'GET' | 'POST',
    path: string,
    opts: RequestOptions & { body?: string | Buffer | FormData; contentType?: string } = {},
  ): Promise<VtResponse<T>> {
    if (!this.#opts.apiKey) throw new NotConfiguredError();
    const url = opts.asKeyUser ? this.#keyUserUrl(path, this.#opts.apiKey) : this.#resolve(path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = {
      'x-apikey': this.#opts.apiKey,
      accept: 'application/json',
      'user-agent': this.#opts.userAgent,
    };
    if (opts.contentType) headers['content-type'] = opts.contentType;

    // One deadline for the whole exchange (headers and body), merged with the caller's cancellation.
    const timeout = AbortSignal.timeout(this.#opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      const { Agent, request } = await loadUndici();
      this.#dispatcher ??= new Agent({
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        connections: this.#connections,
        pipelining: 1,
      });
      const res = await request(url, {
        method,
        headers,
        body: opts.body,
        signal,
        dispatcher: this.#dispatcher,
        headersTimeout: this.#opts.timeoutMs,
        bodyTimeout: this.#opts.timeoutMs,
      });
      const raw = await readCapped(res.body, this.#opts.maxBodyBytes);
      const text = raw.toString('utf8');
      const retryAfterSeconds = parseRetryAfter(res.headers['retry-after']);
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          throw new BadAnswerError('bad_json', { httpStatus: res.statusCode });
        }
        parsed = undefined;
      }
      if (res.statusCode >= 200 && res.statusCode < 300) {
        return {
          status: res.statusCode,
          body: unchecked<T>(parsed),
          bytes: raw.length,
          raw,
          ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
        };
      }
      throw errorFromResponse(res.statusCode, withoutKey(parsed, this.#opts.apiKey), retryAfterSeconds);
    } catch (err) {
      throw toVtError(err, opts.signal, this.#opts.timeoutMs);
    }
  }

  /** `/users/<key><path>`, for a path made by vtPath (every segment already encoded). */
  #keyUserUrl(path: string, key: string): URL {
    if (!path.startsWith('/') || path.includes('?') || path.includes('#')) {
      throw new RefusedRequestError('key_user_path');
    }
    return new URL(`${this.#opts.baseUrl}/users/${encodeURIComponent(key)}${path}`);
  }

  /**
   * An API path, or an absolute URL that VirusTotal handed out (a large-file upload URL). The key is
   * only ever sent to the API's own origin.
   */
  #resolve(pathOrUrl: string): URL {
    if (pathOrUrl.startsWith('/')) return new URL(this.#opts.baseUrl + pathOrUrl);
    const url = new URL(pathOrUrl);
    if (url.origin !== new URL(this.#opts.baseUrl).origin) {
      throw new RefusedRequestError('foreign_upload_url');
    }
    return url;
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher?.close();
  }
}

/** An error body may echo the key (raw, percent- or base64-encoded, split): none of it goes further. */
function withoutKey(body: unknown, key: string): unknown {
  return body === undefined ? body : redactDeep(body, [key]);
}

async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    // undici yields Buffers (no encoding is set on the body); anything else fails like a broken stream.
    if (!Buffer.isBuffer(chunk)) throw new TypeError('a body chunk that is not bytes');
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      throw new BadAnswerError('too_large', { maxBytes });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The longest Retry-After taken as given (a day); anything longer is read as this. */
export const MAX_RETRY_AFTER_SECONDS = 86_400;

/**
 * Retry-After (RFC 9110 §10.2.3) as seconds from now: delta-seconds (digits only) or an HTTP-date.
 * Anything else (negative, fractional, "soon", a bare year) is undefined, as is a date in the past,
 * so that the caller applies its own floor. "0" stays 0: the caller's floor applies to it too.
 */
export function parseRetryAfter(h: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(h) ? h[0] : h)?.trim();
  if (!v || v.length > 64) return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v), MAX_RETRY_AFTER_SECONDS);
  // An HTTP-date names a weekday and a month ("Sun, 06 Nov 1994 08:49:37 GMT"); Date.parse alone
  // would also take "5" or "-1" as a date.
  if (!/^[A-Za-z]{3,9}, ?[ 0-9A-Za-z:-]+$/.test(v) || !/GMT$/i.test(v)) return undefined;
  const date = Date.parse(v);
  if (Number.isNaN(date) || date <= now) return undefined;
  return Math.min(Math.ceil((date - now) / 1000), MAX_RETRY_AFTER_SECONDS);
}

/** Error codes of a connection that failed before any byte of the request was sent. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EAI_NODATA',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const CERT_CODES = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_)/;

/**
 * Whether the error shows that the connection was never made, so VirusTotal cannot have seen (or
 * counted) the request. A reset or a closed socket after connecting does not count: the request
 * may have been received, and VirusTotal counts what it receives.
 */
function neverSent(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = field(e, 'code');
    const syscall = field(e, 'syscall');
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
    if (syscall === 'connect' || syscall === 'getaddrinfo') return true;
    // The TLS handshake comes before the request: a certificate refused means nothing was sent.
    if (typeof code === 'string' && (/^ERR_(TLS|SSL)_/.test(code) || CERT_CODES.test(code))) return true;
    e = field(e, 'cause');
  }
  return false;
}

/** Every failure leaves here as a VtError, with the facts the answer is worded from. */
function toVtError(err: unknown, callerSignal: AbortSignal | undefined, timeoutMs: number): VtError {
  if (err instanceof VtError) return err;
  if (callerSignal?.aborted) return new CancelledError();
  const name = field(err, 'name');
  const code = field(err, 'code');
  if (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    // undici's own timeouts, by their codes (the module itself may not be loaded).
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return new ConnectionError('timeout', { timeoutSeconds: Math.round(timeoutMs / 1000) });
  }
  const networkCode = typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? code : undefined;
  const named = networkCode ? { networkCode } : {};
  return new ConnectionError(neverSent(err) ? 'unreachable' : 'connection', named);
}
