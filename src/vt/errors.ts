/**
 * Typed errors of the VirusTotal client. Messages here are written for people and models:
 * they never carry the API key, a request URL or a raw upstream body.
 * Tools turn them into answers in one place (src/tools/respond.ts).
 */
import { stripUnsafe, truncate } from '../util/sanitize.js';

export type VtErrorKind =
  | 'not_configured'
  | 'invalid_input'
  | 'not_found'
  | 'auth'
  | 'forbidden'
  | 'quota'
  | 'invalid_argument'
  | 'transient'
  | 'cancelled';

export class VtError extends Error {
  readonly kind: VtErrorKind;
  /** VT's own error code, e.g. "NotFoundError", when the API gave one. */
  readonly vtCode: string | undefined;
  readonly httpStatus: number | undefined;
  /** VT's message, sanitised and capped; only shown for argument errors, where it helps. */
  readonly vtMessage: string | undefined;
  /** Seconds after which a retry may succeed, when known. */
  readonly retryAfterSeconds: number | undefined;
  /** For quota errors: when the allowance comes back. */
  readonly resetAt: Date | undefined;
  /** For quota errors: our own window, our daily cap, or VT's answer. */
  readonly quotaScope: 'rate' | 'daily' | 'upstream' | undefined;
  /** Whether sending the same request again may succeed (429s are handled separately). */
  readonly retryable: boolean;
  /**
   * The request never reached VirusTotal: the connection failed before anything was sent (refused,
   * no DNS answer, network unreachable, connect timeout, TLS handshake). It cost no quota, and the
   * limiter gives its window slot and daily count back. Always a 'transient' error.
   */
  readonly notSent: boolean;

  constructor(
    kind: VtErrorKind,
    message: string,
    opts: {
      vtCode?: string;
      httpStatus?: number;
      vtMessage?: string;
      retryAfterSeconds?: number;
      resetAt?: Date;
      quotaScope?: 'rate' | 'daily' | 'upstream';
      /** Overrides the default (transient errors are retried): a timeout or an oversized body is not. */
      retryable?: boolean;
      notSent?: boolean;
    } = {},
  ) {
    super(message);
    this.name = 'VtError';
    this.kind = kind;
    this.vtCode = opts.vtCode;
    this.httpStatus = opts.httpStatus;
    this.vtMessage = opts.vtMessage;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.resetAt = opts.resetAt;
    this.quotaScope = opts.quotaScope;
    this.retryable = opts.retryable ?? kind === 'transient';
    this.notSent = opts.notSent ?? false;
  }
}

/** VT error codes (https://docs.virustotal.com/reference/errors) mapped to our kinds. */
const CODE_KINDS: Record<string, VtErrorKind> = {
  NotFoundError: 'not_found',
  AuthenticationRequiredError: 'auth',
  WrongCredentialsError: 'auth',
  UserNotActiveError: 'auth',
  ForbiddenError: 'forbidden',
  QuotaExceededError: 'quota',
  TooManyRequestsError: 'quota',
  BadRequestError: 'invalid_argument',
  InvalidArgumentError: 'invalid_argument',
  NotAvailableYet: 'transient',
  UnselectiveContentQueryError: 'invalid_argument',
  UnsupportedContentQueryError: 'invalid_argument',
  AlreadyExistsError: 'invalid_argument',
  FailedDependencyError: 'transient',
  TransientError: 'transient',
  DeadlineExceededError: 'transient',
};

function kindFromStatus(status: number): VtErrorKind {
  if (status === 404) return 'not_found';
  if (status === 401) return 'auth';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'quota';
  if (status >= 500 || status === 408) return 'transient';
  return 'invalid_argument';
}

const DEFAULT_MESSAGES: Record<VtErrorKind, string> = {
  not_configured: 'No VirusTotal API key is configured.',
  invalid_input: 'The input is not valid.',
  not_found: 'VirusTotal has no record of this item.',
  auth: 'VirusTotal rejected the API key.',
  forbidden: 'This API key is not allowed to use this VirusTotal feature (it usually needs a premium key).',
  quota: 'VirusTotal says the API quota of this key is exhausted for now.',
  invalid_argument: 'VirusTotal rejected the request as invalid.',
  transient: 'VirusTotal is unavailable right now.',
  cancelled: 'The request was cancelled.',
};

/**
 * Builds a typed error from an HTTP status and a parsed body. The body is only read for
 * `error.code` and `error.message`; the message is sanitised and capped, never echoed whole.
 */
export function errorFromResponse(status: number, body: unknown, retryAfterSeconds?: number): VtError {
  let code: string | undefined;
  let message: string | undefined;
  if (body && typeof body === 'object' && 'error' in body) {
    const e = (body as { error?: unknown }).error;
    if (e && typeof e === 'object') {
      const c = (e as { code?: unknown }).code;
      const m = (e as { message?: unknown }).message;
      if (typeof c === 'string' && /^[A-Za-z]{1,64}$/.test(c)) code = c;
      if (typeof m === 'string') message = cleanUpstreamMessage(m);
    }
  }
  const kind = (code && CODE_KINDS[code]) || kindFromStatus(status);
  return new VtError(kind, DEFAULT_MESSAGES[kind], {
    ...(code ? { vtCode: code } : {}),
    httpStatus: status,
    ...(message ? { vtMessage: message } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  });
}

/** Strips control characters and anything that looks like a URL or a 64-hex key, and caps the length. */
export function cleanUpstreamMessage(m: string): string {
  // "(URL removed)", not "<url>": a markdown client would hide the latter as an HTML tag.
  return truncate(
    stripUnsafe(m)
      .replace(/https?:\/\/\S+/gi, '(URL removed)')
      .replace(/\b[0-9a-f]{64}\b/gi, (hex) => `${hex.slice(0, 8)}…`),
    200,
  );
}

export function notConfigured(): VtError {
  return new VtError(
    'not_configured',
    'No VirusTotal API key is configured. Set VIRUSTOTAL_API_KEY (or VT_API_KEY) in the environment of ' +
      'this MCP server (for Claude Desktop: the "env" block of its entry in claude_desktop_config.json) ' +
      'and restart the client. A free key is at https://www.virustotal.com/gui/my-apikey. ' +
      'To try the tools without a key, start the server with --demo.',
  );
}

export function invalidInput(message: string): VtError {
  return new VtError('invalid_input', message);
}
