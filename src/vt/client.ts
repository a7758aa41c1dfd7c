/**
 * The HTTP client of the VirusTotal API v3: one keep-alive connection pool, the x-apikey header,
 * a timeout per request, a cap on body size, and typed errors. It knows nothing of MCP.
 */
import { Agent, type Dispatcher, type FormData, request, errors as undiciErrors } from 'undici';
import { errorFromResponse, notConfigured, VtError } from './errors.js';

export type QueryValue = string | number | boolean | undefined;

export interface VtClientOptions {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
  /** Bodies larger than this are refused (a relationship page of full objects is ~0.5 MB). */
  maxBodyBytes?: number;
  userAgent?: string;
  dispatcher?: Dispatcher;
}

export interface RequestOptions {
  signal?: AbortSignal | undefined;
  query?: Record<string, QueryValue> | undefined;
}

export interface VtResponse<T = unknown> {
  status: number;
  body: T;
  /** Size of the body as received, for the cache's byte bound. */
  bytes: number;
  /** VT's own Retry-After, when it sends one. */
  retryAfterSeconds?: number;
}

export class VtClient {
  readonly #opts: Required<Omit<VtClientOptions, 'dispatcher' | 'apiKey'>> & { apiKey: string | undefined };
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;

  constructor(opts: VtClientOptions) {
    this.#opts = {
      baseUrl: opts.baseUrl.replace(/\/+$/, ''),
      apiKey: opts.apiKey,
      timeoutMs: opts.timeoutMs,
      maxBodyBytes: opts.maxBodyBytes ?? 32 * 1024 * 1024,
      userAgent: opts.userAgent ?? 'vtbrief',
    };
    this.#ownsDispatcher = !opts.dispatcher;
    this.#dispatcher =
      opts.dispatcher ??
      new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connections: 16, pipelining: 1 });
  }

  get hasKey(): boolean {
    return this.#opts.apiKey !== undefined;
  }

  async get<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send<T>('GET', path, opts);
    return res.body;
  }

  async send<T = unknown>(
    method: 'GET' | 'POST',
    path: string,
    opts: RequestOptions & { body?: string | Buffer | FormData; contentType?: string } = {},
  ): Promise<VtResponse<T>> {
    if (!this.#opts.apiKey) throw notConfigured();
    const url = this.#resolve(path);
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
      const res = await request(url, {
        method,
        headers,
        body: opts.body,
        signal,
        dispatcher: this.#dispatcher,
        headersTimeout: this.#opts.timeoutMs,
        bodyTimeout: this.#opts.timeoutMs,
      });
      const text = await readCapped(res.body, this.#opts.maxBodyBytes);
      const retryAfterSeconds = parseRetryAfter(res.headers['retry-after']);
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          throw new VtError('transient', 'VirusTotal sent a response that is not valid JSON.', {
            httpStatus: res.statusCode,
          });
        }
        parsed = undefined;
      }
      if (res.statusCode >= 200 && res.statusCode < 300) {
        return {
          status: res.statusCode,
          body: parsed as T,
          bytes: text.length,
          ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
        };
      }
      throw errorFromResponse(res.statusCode, withoutKey(parsed, this.#opts.apiKey), retryAfterSeconds);
    } catch (err) {
      throw toVtError(err, opts.signal, this.#opts.timeoutMs);
    }
  }

  /**
   * An API path, or an absolute URL that VirusTotal handed out (a large-file upload URL). The key is
   * only ever sent to the API's own origin.
   */
  #resolve(pathOrUrl: string): URL {
    if (pathOrUrl.startsWith('/')) return new URL(this.#opts.baseUrl + pathOrUrl);
    const url = new URL(pathOrUrl);
    if (url.origin !== new URL(this.#opts.baseUrl).origin) {
      throw new VtError(
        'invalid_argument',
        'VirusTotal handed out an upload URL on another host; it was not used.',
        {
          retryable: false,
        },
      );
    }
    return url;
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }
}

/** An error body may echo the request (some proxies do): the key is cut out before its message is read. */
function withoutKey(body: unknown, key: string): unknown {
  if (body === undefined) return body;
  const escaped = JSON.stringify(key).slice(1, -1);
  return JSON.parse(JSON.stringify(body).split(escaped).join('[redacted]'));
}

async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      throw new VtError(
        'transient',
        `VirusTotal sent a response larger than ${maxBytes} bytes; it was dropped.`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseRetryAfter(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const n = Number(v);
  if (Number.isFinite(n) && n >= 0) return n;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** Every failure leaves here as a VtError whose message is safe to show. */
function toVtError(err: unknown, callerSignal: AbortSignal | undefined, timeoutMs: number): VtError {
  if (err instanceof VtError) return err;
  if (callerSignal?.aborted) return new VtError('cancelled', 'The request was cancelled.');
  const name = (err as { name?: string } | undefined)?.name;
  if (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  ) {
    return new VtError('transient', `VirusTotal did not answer within ${Math.round(timeoutMs / 1000)} s.`, {
      retryable: false,
    });
  }
  const code = (err as { code?: string } | undefined)?.code;
  return new VtError(
    'transient',
    `Could not reach VirusTotal${code && /^[A-Z_]+$/.test(code) ? ` (${code})` : ''}.`,
  );
}
