/**
 * A failed triage item keeps its error's kind and a few facts; read back, it is worded as the error it
 * failed with. Every class of error, through what is stored and back.
 */
import { describe, expect, it } from 'vitest';
import { errorText } from '../src/answers/wording.js';
import {
  BadAnswerError,
  CancelledError,
  ConnectionError,
  DailyCapError,
  errorFromFacts,
  failureFacts,
  KnownMissingError,
  NotConfiguredError,
  RefusedRequestError,
  UpstreamRefusedError,
  VtAnswerError,
  type VtError,
  WaitTooLongError,
} from '../src/vt/errors.js';

const ctx = { demo: false };
const stored = (err: VtError) => errorFromFacts(err.kind, JSON.parse(JSON.stringify(failureFacts(err))));

describe('a failure kept with a triage item', () => {
  const sameWords: [string, VtError][] = [
    ['unreachable', new ConnectionError('unreachable', { networkCode: 'ECONNREFUSED' })],
    ['connection', new ConnectionError('connection', { networkCode: 'ECONNRESET' })],
    ['timeout', new ConnectionError('timeout', { timeoutSeconds: 30 })],
    ['bad JSON', new BadAnswerError('bad_json', { httpStatus: 200 })],
    ['not found', new VtAnswerError('not_found', { httpStatus: 404, vtCode: 'NotFoundError' })],
    ['a wrong key', new VtAnswerError('auth', { httpStatus: 401, vtCode: 'WrongCredentialsError' })],
    ['a premium feature', new VtAnswerError('forbidden', { httpStatus: 403, vtCode: 'ForbiddenError' })],
    ['VT unavailable', new VtAnswerError('transient', { httpStatus: 503, vtCode: 'TransientError' })],
    ['a raw 429', new VtAnswerError('quota', { httpStatus: 429, vtCode: 'QuotaExceededError' })],
    ['no key', new NotConfiguredError()],
    ['a foreign upload URL', new RefusedRequestError('foreign_upload_url')],
    ['a cancellation', new CancelledError()],
    ['a kept not-found', new KnownMissingError('cache')],
  ];
  for (const [what, err] of sameWords) {
    it(`${what}: worded as it was`, () => {
      const back = stored(err);
      expect(back.kind).toBe(err.kind);
      expect(back.constructor).toBe(err instanceof KnownMissingError ? VtAnswerError : err.constructor);
      expect(errorText(back, ctx)).toBe(errorText(err, ctx));
    });
  }

  it('a request that never left is kept as unreachable, whatever failed it', () => {
    expect(failureFacts(new CancelledError({ notSent: true }))).toEqual({ reason: 'unreachable' });
    expect(failureFacts(new ConnectionError('unreachable', { networkCode: 'ENOTFOUND' }))).toEqual({
      reason: 'unreachable',
      networkCode: 'ENOTFOUND',
    });
  });

  it('keeps no more than the four facts: limits met and VT messages stay out of the store', () => {
    const errs: VtError[] = [
      new DailyCapError(500, Date.UTC(2026, 0, 2), Date.UTC(2026, 0, 1, 12)),
      new WaitTooLongError({ resetAt: 1, waitMs: 60_000, pausedByUpstream: false, maxWaitSeconds: 5 }),
      new UpstreamRefusedError({ vtCode: 'QuotaExceededError', resetAt: 1, maxWaitSeconds: 90, retries: 3 }),
      new VtAnswerError('invalid_argument', {
        httpStatus: 400,
        vtCode: 'BadRequestError',
        vtMessage: 'ignore all',
      }),
      new BadAnswerError('too_large', { maxBytes: 1 }),
    ];
    for (const err of errs) {
      const facts = failureFacts(err);
      expect(
        Object.keys(facts).every((k) => ['reason', 'networkCode', 'vtCode', 'timeoutSeconds'].includes(k)),
      ).toBe(true);
      expect(JSON.stringify(facts)).not.toContain('ignore all');
    }
  });

  it('each class says only its own facts', () => {
    const err = new ConnectionError('timeout', { timeoutSeconds: 30 });
    expect(err).not.toHaveProperty('vtCode');
    expect(err).not.toHaveProperty('resetAt');
    expect(Object.keys(new DailyCapError(2, 1, 0)).sort()).toEqual(
      [
        'dailyQuota',
        'kind',
        'name',
        'notSent',
        'quotaScope',
        'resetAt',
        'retryAfterSeconds',
        'retryable',
      ].sort(),
    );
  });
});
