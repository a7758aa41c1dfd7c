/**
 * The HTTP client of the VirusTotal API v3: one keep-alive connection pool, the x-apikey header,
 * a timeout per request, a cap on body size, and typed errors. It knows nothing of MCP.
 */
import { Agent, type Dispatcher, request, errors as undiciErrors } from 'undici';
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
  /** VT's own Retry-After, when it sends one. */
  retryAfterSeconds?: number;
}

/** Anything that can answer a GET against the VT API. Tools depend on this, not on the class. */
export interface VtApi {
  get<T = unknown>(path: string, opts?: RequestOptions): Promise<T>;
  readonly hasKey: boolean;
}

export class VtClient implements VtApi {
  readonly #opts: Required<Omit<VtClientOptions, 'dispatcher' | 'apiKey'>> & { apiKey: string | undefined };
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;

  constructor(opts: VtClientOptions) {
    this.#opts = {
      baseUrl: opts.baseUrl.replace(/\/+$/, ''),
      apiKey: opts.apiKey,
      timeoutMs: opts.timeoutMs,
      maxBodyBytes: opts.maxBodyBytes ?? 32 * 1024 * 1024,
      userAgent: opts.userAgent ?? 'vt-mcp',
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
    opts: RequestOptions & { body?: string | Buffer; contentType?: string } = {},
  ): Promise<VtResponse<T>> {
    if (!this.#opts.apiKey) throw notConfigured();
    if (!path.startsWith('/')) throw new Error('API paths start with "/".');
    const url = new URL(this.#opts.baseUrl + path);
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
          ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
        };
      }
      throw errorFromResponse(res.statusCode, parsed, retryAfterSeconds);
    } catch (err) {
      throw toVtError(err, opts.signal, this.#opts.timeoutMs);
    }
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }
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
    return new VtError('transient', `VirusTotal did not answer within ${Math.round(timeoutMs / 1000)} s.`);
  }
  const code = (err as { code?: string } | undefined)?.code;
  return new VtError(
    'transient',
    `Could not reach VirusTotal${code && /^[A-Z_]+$/.test(code) ? ` (${code})` : ''}.`,
  );
}
