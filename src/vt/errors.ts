/**
 * Typed errors of the VirusTotal client: a kind and the facts behind it (VT's code, when to retry,
 * whose limit, why the connection failed). The MCP layer words them for the model in one place
 * (src/answers/wording.ts); `message` is a short description for logs and tests, never shown as such.
 * Nothing here carries the API key, a request URL or a raw upstream body.
 */

import { field } from '../util/json.js';
import { stripUnsafe, truncate } from '../util/sanitize.js';

export type VtErrorKind =
  | 'not_configured'
  | 'not_found'
  | 'auth'
  | 'forbidden'
  | 'quota'
  | 'invalid_argument'
  | 'transient'
  | 'cancelled';

/** How a connection failed (ConnectionError). */
export type ConnectionReason =
  /** No answer within `timeoutSeconds`. */
  | 'timeout'
  /** The connection failed before anything was sent (`notSent`); `networkCode` names how. */
  | 'unreachable'
  /** The connection failed after the request may have been sent; `networkCode` names how. */
  | 'connection';

/** Why a 2xx answer could not be used (BadAnswerError). */
export type BadAnswerReason =
  /** Its body is not JSON. */
  | 'bad_json'
  /** Its body is larger than `maxBytes`. */
  | 'too_large'
  /** It lacks what the operation needs (`expected` names it). */
  | 'unexpected_shape';

/** Why the client refused to make a request (RefusedRequestError): a bug or a hostile URL, never an input. */
export type RefusalReason =
  /** VirusTotal handed out an upload URL on another host; it was not used. */
  | 'foreign_upload_url'
  /** A key-user request was given something other than a plain API path. */
  | 'key_user_path';

export type VtErrorReason = ConnectionReason | BadAnswerReason | RefusalReason;

/**
 * What every failure of the VirusTotal client says: its kind, whether trying again may help, and
 * whether it never left. Each way of failing is a class of its own, with only its own facts.
 */
export abstract class VtError extends Error {
  abstract readonly kind: VtErrorKind;
  /** Whether sending the same request again may succeed (429s are handled separately). */
  readonly retryable: boolean;
  /**
   * The request never reached VirusTotal (the connection failed before anything was sent, or it was
   * cancelled before it left): it cost no quota, and the limiter gives its slot and daily count back.
   */
  readonly notSent: boolean;

  constructor(message: string, o: { retryable?: boolean; notSent?: boolean } = {}) {
    super(message);
    this.name = new.target.name;
    this.retryable = o.retryable ?? false;
    this.notSent = o.notSent ?? false;
  }
}

/** VirusTotal answered with an error status. */
export class VtAnswerError extends VtError {
  readonly kind: Exclude<VtErrorKind, 'not_configured' | 'cancelled'>;
  /** Unknown only for a failure read back from a stored job. */
  readonly httpStatus: number | undefined;
  /** VT's own error code, e.g. "NotFoundError", when the API gave one. */
  readonly vtCode: string | undefined;
  /** VT's message, sanitised and capped; only shown for argument errors, where it helps. */
  readonly vtMessage: string | undefined;
  /** Seconds after which a retry may succeed, when VT said so (Retry-After). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    kind: VtAnswerError['kind'],
    facts: { httpStatus?: number; vtCode?: string; vtMessage?: string; retryAfterSeconds?: number },
  ) {
    super(
      `VirusTotal answered${facts.httpStatus !== undefined ? ` HTTP ${facts.httpStatus}` : ` ${kind}`}${facts.vtCode ? ` ${facts.vtCode}` : ''}`,
      { retryable: kind === 'transient' },
    );
    this.kind = kind;
    this.httpStatus = facts.httpStatus;
    this.vtCode = facts.vtCode;
    this.vtMessage = facts.vtMessage;
    this.retryAfterSeconds = facts.retryAfterSeconds;
  }
}

/** VirusTotal itself answered 429 (our own limits are DailyCapError and WaitTooLongError). */
export function isTooManyRequests(err: unknown): err is VtAnswerError {
  return err instanceof VtAnswerError && err.kind === 'quota';
}

/** The connection failed, or no answer came in time. */
export class ConnectionError extends VtError {
  readonly kind = 'transient' as const;
  readonly reason: ConnectionReason;
  /** The system's or undici's code for a failed connection ("ECONNREFUSED"), when it is a plain code. */
  readonly networkCode: string | undefined;
  /** For 'timeout': the timeout that passed. */
  readonly timeoutSeconds: number | undefined;

  constructor(reason: ConnectionReason, facts: { networkCode?: string; timeoutSeconds?: number } = {}) {
    const named = facts.networkCode ? ` (${facts.networkCode})` : '';
    super(
      reason === 'timeout'
        ? `no answer within ${facts.timeoutSeconds ?? '?'} s`
        : reason === 'unreachable'
          ? `unreachable${named}, nothing sent`
          : `connection failed${named}`,
      // A timeout is not tried again: the request may have been answered and counted.
      { retryable: reason !== 'timeout', notSent: reason === 'unreachable' },
    );
    this.reason = reason;
    this.networkCode = facts.networkCode;
    this.timeoutSeconds = facts.timeoutSeconds;
  }
}

/** A 2xx answer that could not be used. */
export class BadAnswerError extends VtError {
  readonly kind = 'transient' as const;
  readonly reason: BadAnswerReason;
  readonly httpStatus: number | undefined;
  /** For 'too_large': the cap on bodies. */
  readonly maxBytes: number | undefined;
  /** For 'unexpected_shape': what was missing ("a report", "an analysis id", "an upload URL"). */
  readonly expected: string | undefined;

  constructor(
    reason: BadAnswerReason,
    facts: { httpStatus?: number; maxBytes?: number; expected?: string; retryable?: boolean } = {},
  ) {
    super(
      reason === 'bad_json'
        ? 'a 2xx body that is not JSON'
        : reason === 'too_large'
          ? `a body over ${facts.maxBytes ?? '?'} bytes was dropped`
          : `VirusTotal's answer lacked ${facts.expected ?? 'what was expected'}`,
      { retryable: facts.retryable ?? true },
    );
    this.reason = reason;
    this.httpStatus = facts.httpStatus;
    this.maxBytes = facts.maxBytes;
    this.expected = facts.expected;
  }
}

/** The daily cap (VT_DAILY_QUOTA) is spent until `resetAt`. */
export class DailyCapError extends VtError {
  readonly kind = 'quota' as const;
  readonly quotaScope = 'daily' as const;
  readonly dailyQuota: number;
  readonly resetAt: Date;
  readonly retryAfterSeconds: number;

  constructor(dailyQuota: number, resetAt: number, now: number) {
    super(`daily cap of ${dailyQuota} spent until ${new Date(resetAt).toISOString()}`);
    this.dailyQuota = dailyQuota;
    this.resetAt = new Date(resetAt);
    this.retryAfterSeconds = Math.ceil((resetAt - now) / 1000);
  }
}

/** A slot frees later than the call may wait: our window (VT_RATE_LIMIT) is full, or VirusTotal paused us. */
export class WaitTooLongError extends VtError {
  readonly kind = 'quota' as const;
  readonly quotaScope = 'rate' as const;
  /** When a slot is free again. */
  readonly resetAt: Date;
  /** The wait this request faced. */
  readonly retryAfterSeconds: number;
  /** The window in force, when there is one. */
  readonly window: { requests: number; seconds: number } | undefined;
  /** The wait is VirusTotal's pause after a 429, not our own window. */
  readonly pausedByUpstream: boolean;
  /** How long this call could still wait, in seconds. */
  readonly maxWaitSeconds: number;

  constructor(facts: {
    resetAt: number;
    waitMs: number;
    window?: { requests: number; seconds: number };
    pausedByUpstream: boolean;
    maxWaitSeconds: number;
  }) {
    super(`a slot frees in ${Math.ceil(facts.waitMs / 1000)} s, past this call's wait`);
    this.resetAt = new Date(facts.resetAt);
    this.retryAfterSeconds = Math.ceil(facts.waitMs / 1000);
    this.window = facts.window;
    this.pausedByUpstream = facts.pausedByUpstream;
    this.maxWaitSeconds = facts.maxWaitSeconds;
  }
}

/** VirusTotal kept answering 429, past the retries or the wait this call may make. */
export class UpstreamRefusedError extends VtError {
  readonly kind = 'quota' as const;
  readonly quotaScope = 'upstream' as const;
  readonly vtCode: string | undefined;
  /** When trying again may succeed. */
  readonly resetAt: Date;
  /** VT_MAX_WAIT_SECONDS. */
  readonly maxWaitSeconds: number;
  /** Retries made after 429s before giving up (absent: it did not wait). */
  readonly retries: number | undefined;
  /** Seconds spent on those retries. */
  readonly waitedSeconds: number | undefined;

  constructor(facts: {
    vtCode?: string;
    resetAt: number;
    maxWaitSeconds: number;
    retries?: number;
    waitedSeconds?: number;
  }) {
    super(
      `VirusTotal answered 429 (${facts.vtCode ?? 'no code'}); retry after ${new Date(facts.resetAt).toISOString()}`,
    );
    this.vtCode = facts.vtCode;
    this.resetAt = new Date(facts.resetAt);
    this.maxWaitSeconds = facts.maxWaitSeconds;
    this.retries = facts.retries;
    this.waitedSeconds = facts.waitedSeconds;
  }
}

/** The caller gave up; `notSent` when the request had a slot but never left. */
export class CancelledError extends VtError {
  readonly kind = 'cancelled' as const;

  constructor(o: { notSent?: boolean } = {}) {
    super('The request was cancelled.', o);
  }
}

export class NotConfiguredError extends VtError {
  readonly kind = 'not_configured' as const;

  constructor() {
    super('no VirusTotal API key is configured');
  }
}

/** VirusTotal said "not found" earlier, and that answer is still kept (here or in the shared store). */
export class KnownMissingError extends VtError {
  readonly kind = 'not_found' as const;

  constructor(where: 'cache' | 'shared cache') {
    super(`VirusTotal has no record of this item (${where}).`);
  }
}

/** A request the client would not make: a bug, or a hostile upload URL, never a user's input. */
export class RefusedRequestError extends VtError {
  readonly kind = 'invalid_argument' as const;
  readonly reason: RefusalReason;

  constructor(reason: RefusalReason) {
    super(
      reason === 'foreign_upload_url'
        ? 'an upload URL on another host was not used'
        : 'a key-user request needs a plain API path',
    );
    this.reason = reason;
  }
}

/** What a failed triage item keeps of its error besides the kind, to be worded as it was (see below). */
export interface FailureFacts {
  reason?: VtErrorReason | undefined;
  networkCode?: string | undefined;
  vtCode?: string | undefined;
  timeoutSeconds?: number | undefined;
}

/** The facts of a failure to keep with a failed item; a request that never left is "unreachable". */
export function failureFacts(err: VtError): FailureFacts {
  const f: FailureFacts = {};
  if (err instanceof ConnectionError || err instanceof BadAnswerError || err instanceof RefusedRequestError) {
    f.reason = err.reason;
  }
  if (err.notSent) f.reason = 'unreachable';
  if (err instanceof ConnectionError) {
    if (err.networkCode) f.networkCode = err.networkCode;
    if (err.timeoutSeconds !== undefined) f.timeoutSeconds = err.timeoutSeconds;
  }
  if ((err instanceof VtAnswerError || err instanceof UpstreamRefusedError) && err.vtCode)
    f.vtCode = err.vtCode;
  return f;
}

/** A failure read back from a stored job, as the error it was, so that it is worded as every other one. */
export function errorFromFacts(kind: VtErrorKind, f: FailureFacts): VtError {
  const facts = {
    ...(f.networkCode ? { networkCode: f.networkCode } : {}),
    ...(f.timeoutSeconds !== undefined ? { timeoutSeconds: f.timeoutSeconds } : {}),
  };
  switch (f.reason) {
    case 'timeout':
    case 'unreachable':
    case 'connection':
      return new ConnectionError(f.reason, facts);
    case 'bad_json':
    case 'too_large':
    case 'unexpected_shape':
      return new BadAnswerError(f.reason);
    case 'foreign_upload_url':
    case 'key_user_path':
      return new RefusedRequestError(f.reason);
  }
  if (kind === 'not_configured') return new NotConfiguredError();
  if (kind === 'cancelled') return new CancelledError();
  return new VtAnswerError(kind, f.vtCode ? { vtCode: f.vtCode } : {});
}

/** VT error codes (https://docs.virustotal.com/reference/errors) mapped to our kinds. */
const CODE_KINDS: Record<string, VtAnswerError['kind']> = {
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

function kindFromStatus(status: number): VtAnswerError['kind'] {
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
export function errorFromResponse(status: number, body: unknown, retryAfterSeconds?: number): VtAnswerError {
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
  return new VtAnswerError(kind, {
    httpStatus: status,
    ...(code ? { vtCode: code } : {}),
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

/** A 2xx answer that lacks what the operation needs: `expected` says what ("a report"). */
export function unexpectedShape(expected: string, opts: { retryable?: boolean } = {}): BadAnswerError {
  return new BadAnswerError('unexpected_shape', { expected, ...opts });
}
