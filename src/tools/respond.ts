/**
 * The response contract: a compact text for the model and, on success, structured content that
 * matches the tool's output schema. Every failure becomes an actionable isError answer here.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type Logger, redact, redactDeep } from '../log.js';
import { VtError } from '../vt/errors.js';
import type { ToolContext } from './context.js';

export const DEMO_BANNER =
  '[DEMO DATA: recorded VirusTotal responses from public test fixtures, not live results.]';

/**
 * In demo mode every answer comes from the stand-in (src/demo/recorded-api.ts), which holds only the
 * bundled recordings and never replays a recorded 404. So what a tool says VirusTotal lacks is, in the
 * demo, said of the recordings ("VirusTotal has never seen 8.8.8.8" would be false); what is present is
 * covered by DEMO_BANNER. The tools keep one wording for real mode; demo answers pass through here.
 */
const DEMO_ABSENCE: ReadonlyArray<readonly [RegExp, string, boolean]> = [
  // [what the tools say, what the demo says instead, whether it is "unknown object" (adds DEMO_UNKNOWN)]
  [/Not found: VirusTotal has never seen /g, 'Not in the demo recordings: they hold nothing on ', true],
  [/^VirusTotal has never seen /gm, 'Not in the demo recordings: they hold nothing on ', true],
  [/VirusTotal has never seen /g, 'the demo recordings hold nothing on ', true],
  [/VirusTotal has no record of this item/g, 'This item is not in the demo recordings', true],
  [/none recorded by VirusTotal/g, 'none in the demo recordings', false],
  [/Nothing matched;/g, 'Nothing in the demo recordings matched;', false],
];

const DEMO_UNKNOWN =
  'The demo holds only its recordings; to ask VirusTotal itself, run vtbrief with a key and without --demo.';

/** Absence stated of the demo's recordings, not of VirusTotal (see DEMO_ABSENCE); no banner. */
export function demoWording(text: string): string {
  let out = text;
  let unknown = false;
  for (const [said, instead, isUnknown] of DEMO_ABSENCE) {
    const next = out.replace(said, instead);
    if (next !== out && isUnknown) unknown = true;
    out = next;
  }
  return unknown ? `${out}\n${DEMO_UNKNOWN}` : out;
}

/** A demo answer: the banner, then the text in demo wording. */
export function demoText(text: string): string {
  return `${DEMO_BANNER}\n${demoWording(text)}`;
}

export function ok(ctx: ToolContext, text: string, structured: Record<string, unknown>): CallToolResult {
  // A hostile upstream could echo the key inside a 200 answer: no answer carries it, in any encoding.
  const secrets = ctx.config.apiKey ? [ctx.config.apiKey] : [];
  const body = redact(ctx.demo ? demoText(text) : text, secrets);
  return {
    content: [{ type: 'text', text: body }],
    // The banner is in the text; structuredContent stays exactly what the output schema describes.
    structuredContent: redactDeep(structured, secrets),
  };
}

export function sourceLine(fetchedAt: Date, fromCache: boolean): string {
  const at = fetchedAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `Source: VirusTotal, fetched ${at}${fromCache ? ' (from cache)' : ''}.`;
}

export function errorText(err: unknown): string {
  if (!(err instanceof VtError)) {
    return 'vtbrief hit an internal error while answering. The details are in the server log; the same call may work if retried.';
  }
  const code = err.vtCode ? ` (${err.vtCode})` : '';
  switch (err.kind) {
    case 'not_configured':
    case 'invalid_input':
    case 'cancelled':
      return err.message;
    case 'not_found':
      return `VirusTotal has no record of this item${code}.`;
    case 'auth':
      return (
        `VirusTotal rejected the API key${code}. Check VIRUSTOTAL_API_KEY in this server's configuration ` +
        '(the key is never shown here) and restart the client.'
      );
    case 'forbidden':
      return `${err.message}${code ? ` VirusTotal answered${code}.` : ''}`;
    case 'quota':
      if (err.quotaScope) {
        return (
          `${err.message} Meanwhile, anything looked up recently still answers from the cache without using ` +
          'quota, and vt_quota shows what is left.'
        );
      }
      return (
        `VirusTotal refused the request: the API quota of this key is exhausted${code}. ` +
        'A public key allows 4 lookups a minute and 500 a day (the daily quota resets at 00:00 UTC). ' +
        'Wait a minute and try again.'
      );
    case 'invalid_argument':
      return `VirusTotal rejected the request as invalid${code}${err.vtMessage ? `: ${err.vtMessage}` : '.'}`;
    case 'transient':
      if (err.notSent) {
        return `${err.message} Check VIRUSTOTAL_API_URL and this machine's network or proxy; the same call may work once VirusTotal is reachable.`;
      }
      return `${err.message} Try again in a minute.`;
  }
}

export function errorResult(err: unknown, log: Logger, tool: string, demo = false): CallToolResult {
  if (err instanceof VtError) {
    log.info(
      `${tool}: ${err.kind}${err.vtCode ? ` ${err.vtCode}` : ''}${err.httpStatus ? ` HTTP ${err.httpStatus}` : ''}`,
    );
  } else {
    // Name and message only: no stack trace in the log (nor, of course, in the answer).
    log.error(
      `${tool}: unexpected error: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
  }
  const text = errorText(err);
  return { isError: true, content: [{ type: 'text', text: demo ? demoText(text) : text }] };
}
