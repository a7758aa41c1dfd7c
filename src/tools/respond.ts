/**
 * The response contract: a compact text for the model and, on success, structured content that
 * matches the tool's output schema. Every failure becomes an actionable isError answer here.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../log.js';
import { VtError } from '../vt/errors.js';
import type { ToolContext } from './context.js';

export const DEMO_BANNER =
  '[DEMO DATA: recorded VirusTotal responses from public test fixtures, not live results.]';

export function ok(ctx: ToolContext, text: string, structured: Record<string, unknown>): CallToolResult {
  const body = ctx.demo ? `${DEMO_BANNER}\n${text}` : text;
  return {
    content: [{ type: 'text', text: body }],
    // The banner is in the text; structuredContent stays exactly what the output schema describes.
    structuredContent: structured,
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
  return { isError: true, content: [{ type: 'text', text: demo ? `${DEMO_BANNER}\n${text}` : text }] };
}
