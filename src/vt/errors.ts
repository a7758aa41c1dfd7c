/**
 * Typed errors of the VirusTotal client: a kind and the facts behind it (VT's code, when to retry,
 * whose limit, why the connection failed). The MCP layer words them for the model in one place
 * (src/answers/wording.ts); `message` is a short description for logs and tests, never shown as such.
 * Nothing here carries the API key, a request URL or a raw upstream body.
 */

import { field } from '../util/json.js';
import { stripUnsafe, truncate } from '../util/sanitize.js';

type VtErrorKind =
  | 'not_configured'
  | 'not_found'
  | 'auth'
  | 'forbidden'
  | 'quota'
  | 'invalid_argument'
  | 'transient'
  | 'cancelled';

/** Why a request failed, where the kind alone does not say. */
type VtErrorReason =
  /** No answer within `timeoutSeconds`. */
  | 'timeout'
  /** The connection failed before anything was sent (`notSent`); `networkCode` names how. */
  | 'unreachable'
  /** The connection failed after the request may have been sent; `networkCode` names how. */
  | 'connection'
  /** A 2xx answer whose body is not JSON. */
  | 'bad_json'
  /** A body larger than `maxBytes`. */
  | 'too_large'
  /** A 2xx answer without what the operation needs (`expected` names it). */
  | 'unexpected_shape'
  /** VirusTotal handed out an upload URL on another host; it was not used. */
  | 'foreign_upload_url'
  /** A key-user request was given something other than a plain API path (a bug, not an input). */
  | 'key_user_path';

type QuotaScope = 'rate' | 'daily' | 'upstream';

interface VtErrorFacts {
  vtCode?: string;
  httpStatus?: number;
  vtMessage?: string;
  retryAfterSeconds?: number;
  resetAt?: Date;
  quotaScope?: QuotaScope;
  /** Overrides the default (transient errors are retried): a timeout or an oversized body is not. */
  retryable?: boolean;
  notSent?: boolean;
  reason?: VtErrorReason;
  networkCode?: string;
  timeoutSeconds?: number;
  maxBytes?: number;
  expected?: string;
  window?: { requests: number; seconds: number };
  dailyQuota?: number;
  pausedByUpstream?: boolean;
  maxWaitSeconds?: number;
  retries?: number;
  waitedSeconds?: number;
}

export class VtError extends Error {
  readonly kind: VtErrorKind;
  /** VT's own error code, e.g. "NotFoundError", when the API gave one. */
  readonly vtCode: string | undefined;
  readonly httpStatus: number | undefined;
  /** VT's message, sanitised and capped; only shown for argument errors, where it helps. */
  readonly vtMessage: string | undefined;
  /** Seconds after which a retry may succeed, when known (for 'rate': the wait this request faced). */
  readonly retryAfterSeconds: number | undefined;
  /** For quota errors: when the allowance comes back. */
  readonly resetAt: Date | undefined;
  /** For quota errors: our own window, our daily cap, or VT's answer. */
  readonly quotaScope: QuotaScope | undefined;
  /** Whether sending the same request again may succeed (429s are handled separately). */
  readonly retryable: boolean;
  /**
   * The request never reached VirusTotal: the connection failed before anything was sent (refused,
   * no DNS answer, network unreachable, connect timeout, TLS handshake). It cost no quota, and the
   * limiter gives its window slot and daily count back. Always a 'transient' error.
   */
  readonly notSent: boolean;
  readonly reason: VtErrorReason | undefined;
  /** The system's or undici's code for a failed connection ("ECONNREFUSED"), when it is a plain code. */
  readonly networkCode: string | undefined;
  /** For 'timeout': the timeout that passed. */
  readonly timeoutSeconds: number | undefined;
  /** For 'too_large': the cap on bodies. */
  readonly maxBytes: number | undefined;
  /** For 'unexpected_shape': what was missing ("a report", "an analysis id", "an upload URL"). */
  readonly expected: string | undefined;
  /** For quota scope 'rate': the window in force (VT_RATE_LIMIT). */
  readonly window: { requests: number; seconds: number } | undefined;
  /** For quota scope 'daily': the cap that is spent (VT_DAILY_QUOTA). */
  readonly dailyQuota: number | undefined;
  /** For quota scope 'rate': the wait is VirusTotal's pause after a 429, not our own window. */
  readonly pausedByUpstream: boolean | undefined;
  /** For quota scopes 'rate' and 'upstream': how long this call could still wait, in seconds. */
  readonly maxWaitSeconds: number | undefined;
  /** For quota scope 'upstream': retries made after 429s before giving up (absent: it did not wait). */
  readonly retries: number | undefined;
  /** For quota scope 'upstream': seconds spent on those retries. */
  readonly waitedSeconds: number | undefined;

  constructor(kind: VtErrorKind, message: string, opts: VtErrorFacts = {}) {
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
    this.reason = opts.reason;
    this.networkCode = opts.networkCode;
    this.timeoutSeconds = opts.timeoutSeconds;
    this.maxBytes = opts.maxBytes;
    this.expected = opts.expected;
    this.window = opts.window;
    this.dailyQuota = opts.dailyQuota;
    this.pausedByUpstream = opts.pausedByUpstream;
    this.maxWaitSeconds = opts.maxWaitSeconds;
    this.retries = opts.retries;
    this.waitedSeconds = opts.waitedSeconds;
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

/**
 * Builds a typed error from an HTTP status and a parsed body. The body is only read for
 * `error.code` and `error.message`; the message is sanitised and capped, never echoed whole.
 */
export function errorFromResponse(status: number, body: unknown, retryAfterSeconds?: number): VtError {
  let code: string | undefined;
  let message: string | undefined;
  if (body && typeof body === 'object' && 'error' in body) {
    const e = body.error;
    if (e && typeof e === 'object') {
      const c = field(e, 'code');
      const m = field(e, 'message');
      if (typeof c === 'string' && /^[A-Za-z]{1,64}$/.test(c)) code = c;
      if (typeof m === 'string') message = cleanUpstreamMessage(m);
    }
  }
  const kind = (code && CODE_KINDS[code]) || kindFromStatus(status);
  return new VtError(kind, `VirusTotal answered HTTP ${status}${code ? ` ${code}` : ''}`, {
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
  return new VtError('not_configured', 'no VirusTotal API key is configured');
}

/** A 2xx answer that lacks what the operation needs: `expected` says what ("a report"). */
export function unexpectedShape(expected: string, opts: { retryable?: boolean } = {}): VtError {
  return new VtError('transient', `VirusTotal's answer lacked ${expected}`, {
    reason: 'unexpected_shape',
    expected,
    ...opts,
  });
}
