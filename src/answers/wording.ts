/**
 * Words for the model, in one place: every failure (a VtError's facts: kind, VT code, retry time,
 * whose limit; or a ToolError the MCP layer worded itself), every "not found" (said of VirusTotal in
 * real mode, of the recordings in the demo), and the sentences about relationship names. The words about
 * triage jobs (one not found, one refused at a bound) are in wording-jobs.ts, re-exported here.
 */
import { fmtInt } from '../summaries/common.js';
import { code } from '../summaries/text.js';
import { stripUnsafe } from '../util/sanitize.js';
import { isoSeconds } from '../util/time.js';
import {
  BadAnswerError,
  CancelledError,
  ConnectionError,
  DailyCapError,
  KnownMissingError,
  NotConfiguredError,
  RefusedRequestError,
  UpstreamRefusedError,
  VtAnswerError,
  type VtError,
  WaitTooLongError,
} from '../vt/errors.js';
import type { Indicator, IndicatorProblem, IndicatorType } from '../vt/indicators.js';
import {
  type RelationshipAccess,
  type RelationshipCheck,
  suggestedRelationships,
} from '../vt/relationships.js';

export { jobLimitText, jobNotFoundText, jobsUnreadableNow } from './wording-jobs.js';

const ACCEPTED_FORMS =
  'a file hash (MD5, SHA-1 or SHA-256), a URL (with or without http://), a domain (IDN allowed), ' +
  'or an IPv4/IPv6 address; defanged forms such as hxxp://evil[.]com or 1.2.3[.]4 are accepted';

/** What each type is called when an input turned out to be one. */
const KIND_NAMES: Record<IndicatorType, string> = {
  file: 'a file hash',
  url: 'a URL',
  domain: 'a domain',
  ip_address: 'an IP address',
};

/** What was asked for, when an input is not it. */
const WANTED_NAMES: Record<IndicatorType, string> = {
  file: 'an MD5, SHA-1 or SHA-256 hash',
  ip_address: 'an IPv4 or IPv6 address',
  domain: 'a domain name',
  url: 'an http, https or ftp URL',
};

/** Why an input is not an indicator, and what to give instead. */
export function indicatorProblemText(p: IndicatorProblem): string {
  const quoted = (shown: string) => `"${stripUnsafe(shown)}"`;
  switch (p.kind) {
    case 'empty':
      return `The indicator is empty. Give ${ACCEPTED_FORMS}.`;
    case 'too_long':
      return `The indicator is longer than ${fmtInt(p.max)} characters; that is not an indicator. Give ${ACCEPTED_FORMS}.`;
    case 'other_type':
      return `${quoted(p.shown)} is ${KIND_NAMES[p.actual]}, not ${WANTED_NAMES[p.wanted]}.`;
    case 'partial_hash':
      return `${quoted(p.shown)} has ${p.digits} hex digits, not a whole hash (MD5 has 32, SHA-1 40, SHA-256 64). Was it cut off?`;
    case 'email':
      return `${quoted(p.shown)} is an email address; VirusTotal has no lookups for those. Look up its domain, ${stripUnsafe(p.domain)}.`;
    case 'unrecognised':
      return `${quoted(p.shown)} is not ${p.wanted ? WANTED_NAMES[p.wanted] : 'a recognised indicator'}. Accepted: ${ACCEPTED_FORMS}.`;
  }
}

/** What the wording depends on besides the error (each error carries the limits it met). */
interface WordingContext {
  demo: boolean;
}

/**
 * A failure the MCP layer words itself (bad input, a refused confirmation, advice for a query VT
 * rejected): `text` is the answer. `upstream` is the VtError behind it, if any, for the log.
 */
export class ToolError extends Error {
  readonly text: string;
  readonly kind: 'invalid_input' | 'cancelled' | 'upstream';
  readonly upstream: VtError | undefined;

  constructor(text: string, opts: { kind?: 'invalid_input' | 'cancelled'; upstream?: VtError } = {}) {
    super(text);
    this.name = 'ToolError';
    this.text = text;
    this.upstream = opts.upstream;
    this.kind = opts.upstream ? 'upstream' : (opts.kind ?? 'invalid_input');
  }
}

/** Input that cannot be looked up, refused before any request, with what to do instead. */
export function invalidInput(text: string): ToolError {
  return new ToolError(text);
}

// --- Absence: what VirusTotal (or, in the demo, the recordings) does not hold -----------------------

/** Said with every "not in the demo recordings". */
const DEMO_ONLY =
  'The demo holds only its recordings; to ask VirusTotal itself, run vtbrief with a key and without --demo.';

function demoAbsent(subject: string): string {
  return `Not in the demo recordings: they hold nothing on ${subject}. ${DEMO_ONLY}`;
}

/** vt_get_report's answer for an object VirusTotal does not know. */
export function reportNotFound(ctx: Pick<WordingContext, 'demo'>, subject: string): string {
  return ctx.demo
    ? demoAbsent(subject)
    : `Not found: VirusTotal has never seen ${subject}, so there is no verdict. That is not evidence that ` +
        'it is safe: new, rare and targeted artifacts are often unknown.';
}

/** A resource read for an object VirusTotal does not know. */
export function resourceNotFound(ctx: Pick<WordingContext, 'demo'>, subject: string): string {
  return ctx.demo
    ? demoAbsent(subject)
    : `VirusTotal has never seen ${subject}; that is not evidence that it is safe.`;
}

/** Relationships of an object VirusTotal does not know (not the same as knowing it has none). */
export function neighboursNotFound(ctx: Pick<WordingContext, 'demo'>, subject: string): string {
  return ctx.demo
    ? demoAbsent(subject)
    : `VirusTotal has never seen ${subject}; it has no relationships there. Not evidence that it is safe.`;
}

/** A known object with nothing recorded for a relationship. */
export function noneRecorded(ctx: Pick<WordingContext, 'demo'>): string {
  return ctx.demo ? 'none in the demo recordings.' : 'none recorded by VirusTotal.';
}

/** A search that matched nothing. */
export function nothingMatched(ctx: Pick<WordingContext, 'demo'>): string {
  return `${ctx.demo ? 'Nothing in the demo recordings matched' : 'Nothing matched'}; check the modifiers (resource vt://docs/search-syntax) or widen the dates.`;
}

/** The note under a triage table with NOT FOUND rows. */
export function triageNotFoundNote(ctx: Pick<WordingContext, 'demo'>): string {
  return ctx.demo
    ? 'NOT FOUND means the demo recordings hold nothing on it; run vtbrief with a key and without --demo to ask VirusTotal.'
    : 'NOT FOUND means VirusTotal has never seen it; that is not evidence that it is safe.';
}

// --- Failures ----------------------------------------------------------------------------------------

const INTERNAL =
  'vtbrief hit an internal error while answering. The details are in the server log; the same call may work if retried.';

const CACHE_STILL_ANSWERS =
  'Meanwhile, anything looked up recently still answers from the cache without using quota, and vt_quota shows what is left.';

const TRY_AGAIN = 'Try again in a minute.';

function lookups(n: number): string {
  return `${n} VirusTotal ${n === 1 ? 'lookup' : 'lookups'}`;
}

/** The daily cap is spent. */
function dailyCapText(err: DailyCapError): string {
  return (
    `The daily cap of ${lookups(err.dailyQuota)} (VT_DAILY_QUOTA) is spent. ` +
    `It resets at ${isoSeconds(err.resetAt.getTime())} (00:00 UTC). ${CACHE_STILL_ANSWERS}`
  );
}

/** The wait for a slot (our window, or VirusTotal's pause) is longer than the call may wait. */
function waitTooLongText(err: WaitTooLongError): string {
  const w = err.window;
  const whose =
    !err.pausedByUpstream && w
      ? `All ${w.requests} ${w.requests === 1 ? 'lookup' : 'lookups'} allowed per ${w.seconds} s (VT_RATE_LIMIT) are in use`
      : 'VirusTotal asked us to slow down (it answered 429)';
  return (
    `${whose}: this request would wait about ${err.retryAfterSeconds} s, ` +
    `more than the ${Math.max(0, Math.round(err.maxWaitSeconds))} s this call may still wait. ` +
    `A slot is free again at about ${isoSeconds(err.resetAt.getTime())}. ${CACHE_STILL_ANSWERS}`
  );
}

/** VirusTotal kept refusing with 429. */
function upstreamRefusedText(err: UpstreamRefusedError): string {
  const who = `requests for this key (${err.vtCode ?? 'HTTP 429'})`;
  const why =
    err.retries !== undefined
      ? `VirusTotal is still refusing ${who} after ${err.retries} ${err.retries === 1 ? 'retry' : 'retries'}` +
        `${err.waitedSeconds !== undefined ? ` over ${Math.max(1, Math.round(err.waitedSeconds))} s` : ''}.`
      : `VirusTotal is refusing ${who}, and waiting for it would take longer than VT_MAX_WAIT_SECONDS ` +
        `(${Math.round(err.maxWaitSeconds)} s).`;
  return (
    `${why} Try again after about ${isoSeconds(err.resetAt.getTime())}. If it persists, the key's daily quota ` +
    `is spent (it resets at 00:00 UTC). ${CACHE_STILL_ANSWERS}`
  );
}

function connectionText(err: ConnectionError): string {
  const named = err.networkCode ? ` (${err.networkCode})` : '';
  switch (err.reason) {
    case 'unreachable':
      return (
        `VirusTotal could not be reached${named}: the connection failed before the request was sent, so no ` +
        "quota was used. Check VIRUSTOTAL_API_URL and this machine's network or proxy; the same call may " +
        'work once VirusTotal is reachable.'
      );
    case 'connection':
      return `Could not reach VirusTotal${named}. ${TRY_AGAIN}`;
    case 'timeout':
      return `VirusTotal did not answer within ${err.timeoutSeconds ?? '?'} s. ${TRY_AGAIN}`;
  }
}

function badAnswerText(err: BadAnswerError): string {
  switch (err.reason) {
    case 'bad_json':
      return `VirusTotal sent a response that is not valid JSON. ${TRY_AGAIN}`;
    case 'too_large':
      return `VirusTotal sent a response larger than ${err.maxBytes ?? 'the allowed number of'} bytes; it was dropped. ${TRY_AGAIN}`;
    case 'unexpected_shape':
      if (!err.retryable) {
        return `VirusTotal accepted the request but its answer lacked ${err.expected ?? 'what was expected'}; do not send it again.`;
      }
      return `VirusTotal sent an answer without ${err.expected ?? 'what was expected'}. ${TRY_AGAIN}`;
  }
}

/** VirusTotal's "not found", fresh (with its code) or kept from earlier. */
function noRecordText(ctx: WordingContext, code: string): string {
  return ctx.demo
    ? `This item is not in the demo recordings. ${DEMO_ONLY}`
    : `VirusTotal has no record of this item${code}.`;
}

/** VirusTotal's own error answers, by kind. */
function answerText(err: VtAnswerError, ctx: WordingContext): string {
  const code = err.vtCode ? ` (${err.vtCode})` : '';
  switch (err.kind) {
    case 'not_found':
      return noRecordText(ctx, code);
    case 'auth':
      return (
        `VirusTotal rejected the API key${code}. Check VIRUSTOTAL_API_KEY in this server's configuration ` +
        '(the key is never shown here) and restart the client.'
      );
    case 'forbidden':
      return (
        'This API key is not allowed to use this VirusTotal feature (it usually needs a premium key).' +
        `${code ? ` VirusTotal answered${code}.` : ''}`
      );
    case 'quota':
      return (
        `VirusTotal refused the request: the API quota of this key is exhausted${code}. ` +
        'A public key allows 4 lookups a minute and 500 a day (the daily quota resets at 00:00 UTC). ' +
        'Wait a minute and try again.'
      );
    case 'invalid_argument':
      return `VirusTotal rejected the request as invalid${code}${err.vtMessage ? `: ${err.vtMessage}` : '.'}`;
    case 'transient':
      return `VirusTotal is unavailable right now${code}. ${TRY_AGAIN}`;
  }
}

/** The answer for a failure: a ToolError's own text, a VtError worded from its facts, else "internal". */
export function errorText(err: unknown, ctx: WordingContext): string {
  if (err instanceof ToolError) return err.text;
  if (err instanceof VtAnswerError) return answerText(err, ctx);
  if (err instanceof ConnectionError) return connectionText(err);
  if (err instanceof BadAnswerError) return badAnswerText(err);
  if (err instanceof DailyCapError) return dailyCapText(err);
  if (err instanceof WaitTooLongError) return waitTooLongText(err);
  if (err instanceof UpstreamRefusedError) return upstreamRefusedText(err);
  if (err instanceof KnownMissingError) return noRecordText(ctx, '');
  if (err instanceof CancelledError) return 'The request was cancelled.';
  if (err instanceof NotConfiguredError) {
    return (
      'No VirusTotal API key is configured. Set VIRUSTOTAL_API_KEY (or VT_API_KEY) in the environment of ' +
      'this MCP server (in the client\'s MCP configuration, e.g. the "env" block of its entry in ' +
      'claude_desktop_config.json) and restart the client. A free key is at ' +
      'https://www.virustotal.com/gui/my-apikey. To try the tools without a key, start the server with --demo.'
    );
  }
  if (err instanceof RefusedRequestError && err.reason === 'foreign_upload_url') {
    return 'VirusTotal handed out an upload URL on another host; it was not used, and nothing was uploaded.';
  }
  return INTERNAL;
}

// --- Relationship names ------------------------------------------------------------------------------

const TYPE_WORDS: Record<IndicatorType, string> = {
  file: 'file',
  url: 'URL',
  domain: 'domain',
  ip_address: 'IP address',
};

export const A_TYPE: Record<IndicatorType, string> = {
  file: 'a file',
  url: 'a URL',
  domain: 'a domain',
  ip_address: 'an IP address',
};

/** Most names a suggestion list shows before counting the rest. */
export const SUGGEST_MAX = 12;

/** "a, b, c (+4 more)", at most SUGGEST_MAX names. */
export function shortList(names: string[], max = SUGGEST_MAX): string {
  const more = names.length - max;
  return `${names.slice(0, max).join(', ')}${more > 0 ? ` (+${more} more)` : ''}`;
}

/** "every key: …; premium only: …", each part short, for messages that list what exists. */
export function namesByAccess(type: IndicatorType, exclude: string[] = []): string {
  const part = (access: RelationshipAccess) =>
    suggestedRelationships(type, access).filter((n) => !exclude.includes(n));
  const all = part('all');
  const premium = part('premium');
  return [
    all.length > 0 ? `every key: ${shortList(all)}` : undefined,
    premium.length > 0 ? `premium only: ${shortList(premium)}` : undefined,
  ]
    .filter(Boolean)
    .join('; ');
}

/** What is wrong with a relationship name: what was meant, where it exists, what does exist. */
export function relationshipProblem(
  type: IndicatorType,
  check: Extract<RelationshipCheck, { ok: false }>,
): string {
  const parts = notARelationshipOf(A_TYPE[type], check);
  if (check.elsewhere.length > 0) {
    parts.push(`It exists for ${check.elsewhere.map((t) => A_TYPE[t]).join(' and ')}.`);
  }
  if (check.closest.length === 0) parts.push(`Names for ${A_TYPE[type]}: ${namesByAccess(type)}.`);
  return parts.join(' ');
}

/** "<name>" is not a relationship of <what>, and the names closest to it: the start of either refusal. */
function notARelationshipOf(what: string, check: Extract<RelationshipCheck, { ok: false }>): string[] {
  const shown = check.given.replace(/[^\w -]/g, '').slice(0, 40);
  const parts = [`"${shown}" is not a relationship of ${what}.`];
  if (check.closest.length > 0) parts.push(`Did you mean ${check.closest.join(', ')}?`);
  return parts;
}

/** "domain github.com", "URL `http://example.com/`" (a code span: text to read, not a link to click). */
export function subjectOf(ind: Pick<Indicator, 'type' | 'value'>): string {
  return `${TYPE_WORDS[ind.type]} ${ind.type === 'url' ? code(ind.value) : ind.value}`;
}

// --- Collections and ATT&CK techniques ----------------------------------------------------------------

/** What a collection id looks like, for a refusal of something that is not one. */
const COLLECTION_ID_FORMS =
  'threat-actor--<uuid>, campaign--<uuid>, malware--<uuid>, report--<id>, vulnerability--cve-<year>-<n> ' +
  '(or the CVE id itself), or, with type="collection", the 64-hex id of an IoC collection';

/** An input given with type "collection" that is not a collection id. */
export function collectionIdProblem(shown: string): string {
  const cut = shown.length > 80 ? `${shown.slice(0, 80)}…` : shown;
  return `"${stripUnsafe(cut)}" is not a collection id. Give ${COLLECTION_ID_FORMS}.`;
}

/** "collection threat-actor--…", or what subjectOf says of an indicator. */
export function targetSubject(
  t: Pick<Indicator, 'type' | 'value'> | { type: 'collection'; id: string },
): string {
  return t.type === 'collection' ? `collection ${t.id}` : subjectOf(t);
}

/** vt_get_report and vt_get_relationships for a collection VirusTotal does not have. */
export function collectionNotFound(ctx: Pick<WordingContext, 'demo'>, id: string): string {
  return ctx.demo
    ? demoAbsent(`collection ${id}`)
    : `Not found: VirusTotal has no collection ${id}. Check the id: curated ones look like ` +
        'threat-actor--<uuid> or vulnerability--cve-2021-44228, an IoC collection has 64 hex digits.';
}

/**
 * VirusTotal's 403 for a collection: one sentence naming what grants access (VT-API.md: curated threat
 * collections are Google Threat Intelligence's; threat actors need VT Enterprise's Threat Landscape
 * module). Sending it again would be refused again, so it is not retried.
 */
export function collectionForbidden(ref: { id: string; kind?: string | undefined }): string {
  const licence =
    'which only keys with a Google Threat Intelligence licence (VT Enterprise with the Threat Landscape module) may read';
  return ref.kind
    ? `VirusTotal refused this key (ForbiddenError): ${ref.id} is a curated threat collection, ${licence}.`
    : `VirusTotal refused this key (ForbiddenError): collection ${ref.id} is private to its owner, or a ` +
        `curated threat collection, ${licence}.`;
}

/** What is wrong with a relationship name of a collection, with what was meant and what exists. */
export function collectionRelationshipProblem(
  check: Extract<RelationshipCheck, { ok: false }>,
  names: string[],
): string {
  const parts = notARelationshipOf('a collection', check);
  parts.push(`Names for a collection: ${shortList(names, 20)}.`);
  return parts.join(' ');
}

/** vt_get_relationships given an ATT&CK technique: nothing to look up, and where to go instead. */
export function techniqueHasNoRelationships(id: string): string {
  return (
    `${id} is a MITRE ATT&CK technique: vt_get_report describes it without a lookup. Files that show it: ` +
    `vt_search attack_technique:${id} (VT Intelligence key).`
  );
}

/** The demo asked for a relationship page it never recorded: not the same as VirusTotal having none. */
export function pageNotRecorded(): string {
  return `not in the demo recordings (this page was never recorded, which says nothing of VirusTotal). ${DEMO_ONLY}`;
}

/**
 * vt_get_behaviour's answer for a file without a behaviour summary. In real mode that says no sandbox
 * report is available, not that the file was never run (its report's sandbox verdicts may come from
 * sandboxes whose reports VirusTotal does not serve); in the demo, only that the recordings hold none.
 */
export function behaviourNotFound(ctx: Pick<WordingContext, 'demo'>, hash: string): string {
  return ctx.demo
    ? demoAbsent(`the sandbox behaviour of file ${hash}`)
    : `No sandbox report available for file ${hash}. vt_get_report shows whether VirusTotal knows the file ` +
        'and any sandbox verdicts; no behaviour report is not evidence that it is safe.';
}

/** A T-number that MITRE ATT&CK (the version this server carries) does not have. */
export function techniqueNotFound(id: string, version: string): string {
  return (
    `${id} is not a technique of MITRE ATT&CK v${version} (enterprise, mobile and ICS), the version this ` +
    'server knows: it may be mistyped, or newer than that. Techniques are T and four digits, with .three ' +
    'for a sub-technique (T1055, T1055.012); https://attack.mitre.org/techniques/ lists them. No lookup was made.'
  );
}
