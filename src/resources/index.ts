/**
 * Resources: the compact report of one object by URI (vt://file/{id}, vt://url/{id},
 * vt://domain/{name}, vt://ip_address/{ip}), the same answer vt_get_report gives (the same operation,
 * summary and text), and the VT Intelligence syntax reference.
 */
import {
  type McpServer,
  ProtocolErrorCode,
  type ReadResourceResult,
  type RegisteredResourceTemplate,
  ResourceTemplate,
} from '@modelcontextprotocol/server';
import type { ToolContext } from '../answers/context.js';
import { reportAnswer } from '../answers/report.js';
import { logFailure, respondText } from '../answers/respond.js';
import { parsePublicTarget } from '../answers/target.js';
import { jobAbsence, triageStateText } from '../answers/triage.js';
import { errorText, resourceNotFound, subjectOf } from '../answers/wording.js';
import { q } from '../summaries/text.js';
import type { IndicatorType } from '../vt/indicators.js';
import { SEARCH_SYNTAX, SEARCH_SYNTAX_URI } from './search-syntax.js';

/**
 * The JSON-RPC code for an unknown resource: invalid params since the 2026-07-28 revision (the 2025
 * ones said -32002), which the SDK sends in either era.
 */
const RESOURCE_NOT_FOUND = ProtocolErrorCode.InvalidParams;

/**
 * A failed read, as the SDK sends it: it copies `code` and `message` into the JSON-RPC error. McpError
 * would not do: its message already starts "MCP error <code>: ", and the client adds that prefix again.
 */
class ResourceReadError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** For a resource that is not there: its URI, as the 2026-07-28 revision asks (`data.uri`). */
    readonly data?: { uri: string },
  ) {
    super(message);
    this.name = 'ResourceReadError';
  }
}

const TEMPLATES: Array<{ type: IndicatorType; uri: string; variable: string; title: string }> = [
  {
    type: 'file',
    uri: 'vt://file/{id}',
    variable: 'id',
    title: 'VirusTotal file report (MD5, SHA-1 or SHA-256)',
  },
  {
    type: 'url',
    uri: 'vt://url/{id}',
    variable: 'id',
    title: 'VirusTotal URL report (URL id, or the URL percent-encoded)',
  },
  { type: 'domain', uri: 'vt://domain/{name}', variable: 'name', title: 'VirusTotal domain report' },
  { type: 'ip_address', uri: 'vt://ip_address/{ip}', variable: 'ip', title: 'VirusTotal IP address report' },
];

const TRIAGE_URI = 'vt://triage/{job}';

/** A template variable, percent-decoded; a broken escape (%zz, a cut UTF-8 sequence) is the caller's error. */
function decoded(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ResourceReadError(
      ProtocolErrorCode.InvalidParams,
      `${shownUri(s)} is not valid percent-encoding: each % must start an escape such as %2F (UTF-8 bytes, two hex digits each).`,
    );
  }
}

/** A URI as the caller sent it, quoted on one line and cut short: it is echoed, never trusted. */
function shownUri(raw: string): string {
  return q(raw.length > 120 ? `${raw.slice(0, 120)}…` : raw);
}

const SERVED = `This server's resources: ${[...TEMPLATES.map((t) => t.uri), TRIAGE_URI, SEARCH_SYNTAX_URI].join(', ')}.`;

/**
 * Why a URI that is a URI names none of this server's resources (JSON-RPC invalid params, as is an
 * object behind a well-formed report URI that VirusTotal does not know).
 */
function unknownResource(raw: string, uri: URL): ResourceReadError {
  const bare = /^vt:\/\/(file|url|domain|ip_address|triage)\/?$/i.exec(raw.trim())?.[1];
  if (bare !== undefined) {
    const template = [...TEMPLATES.map((t) => t.uri), TRIAGE_URI].find((t) =>
      t.startsWith(`vt://${bare.toLowerCase()}/`),
    );
    return new ResourceReadError(
      ProtocolErrorCode.InvalidParams,
      `${shownUri(raw)} names no object: put its id after the slash, as in ${template}.`,
    );
  }
  const files = uri.protocol === 'file:' ? ' (this server reads no local files)' : '';
  return new ResourceReadError(
    ProtocolErrorCode.InvalidParams,
    `No resource at ${shownUri(raw)}${files}. ${SERVED}`,
    { uri: raw },
  );
}

async function readReport(
  ctx: ToolContext,
  type: IndicatorType,
  raw: string,
  uri: URL,
  signal: AbortSignal,
): Promise<ReadResourceResult> {
  let target: ReturnType<typeof parsePublicTarget>;
  try {
    target = parsePublicTarget(raw, type);
  } catch (err) {
    throw new ResourceReadError(ProtocolErrorCode.InvalidParams, errorText(err, ctx));
  }
  try {
    const answer = await reportAnswer(ctx, target, 'concise', { signal });
    if (!answer.structured.found) {
      throw new ResourceReadError(RESOURCE_NOT_FOUND, resourceNotFound(ctx, `the ${subjectOf(target)}`), {
        uri: uri.href,
      });
    }
    return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: respondText(ctx, answer) }] };
  } catch (err) {
    if (err instanceof ResourceReadError) throw err;
    logFailure(ctx.log, `resource ${type}`, err);
    throw new ResourceReadError(ProtocolErrorCode.InternalError, errorText(err, ctx));
  }
}

export function registerResources(server: McpServer, ctx: ToolContext): void {
  const docs = server.registerResource(
    'search-syntax',
    SEARCH_SYNTAX_URI,
    {
      title: 'VT Intelligence search syntax',
      description: 'Query language reference for vt_search: modifiers, entities, dates, orders, examples.',
      mimeType: 'text/markdown',
    },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: SEARCH_SYNTAX }] }),
  );
  const templates: RegisteredResourceTemplate[] = [];
  for (const t of TEMPLATES) {
    const registered = server.registerResource(
      `${t.type}-report`,
      new ResourceTemplate(t.uri, { list: undefined }),
      {
        title: t.title,
        description: 'The compact report vt_get_report gives (one lookup).',
        mimeType: 'text/plain',
      },
      async (uri, variables, extra) =>
        readReport(ctx, t.type, decoded(variables[t.variable]), uri, extra.mcpReq.signal),
    );
    templates.push(registered);
  }
  const triage = server.registerResource(
    'triage-job',
    new ResourceTemplate(TRIAGE_URI, { list: undefined }),
    {
      title: 'VirusTotal triage job',
      description: 'A vt_triage job: what vt_triage {job} shows (no lookup).',
      mimeType: 'text/plain',
    },
    async (uri, variables) => {
      const id = decoded(variables.job);
      let failure: unknown;
      const text = await triageStateText(ctx, id).catch((err: unknown) => {
        failure = err;
        return undefined;
      });
      if (text === undefined) {
        // As vt_triage says it: where jobs are kept decides what an unknown id means. A store that
        // cannot be read now may well have it: not "not found", but a failure worth asking again (as
        // tasks/get answers it).
        const absent = jobAbsence(ctx, shownUri(id), failure);
        if (absent.unavailable) throw new ResourceReadError(ProtocolErrorCode.InternalError, absent.text);
        throw new ResourceReadError(RESOURCE_NOT_FOUND, absent.text, { uri: uri.href });
      }
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
    },
  );
  templates.push(triage);

  /*
   * The SDK's resources/read, with the same resources in the same order, but every URI the caller got
   * wrong answered as invalid params (-32602) in words of this server. The SDK parses the URI first,
   * and a string that is not a URL ("not a uri", "http://[::1") then escapes as an internal error
   * (-32603); its "not found" message also carried the "MCP error -32602:" prefix the client adds again.
   */
  server.server.setRequestHandler('resources/read', async (request, extra) => {
    const raw = request.params.uri;
    if (!URL.canParse(raw)) {
      throw new ResourceReadError(
        ProtocolErrorCode.InvalidParams,
        `${shownUri(raw)} is not a URI. ${SERVED} Put the object's id in place of the braces.`,
      );
    }
    const uri = new URL(raw);
    if (uri.toString() === SEARCH_SYNTAX_URI && docs.enabled) return docs.readCallback(uri, extra);
    for (const t of templates) {
      if (!t.enabled) continue;
      const variables = t.resourceTemplate.uriTemplate.match(uri.toString());
      if (variables) return t.readCallback(uri, variables, extra);
    }
    throw unknownResource(raw, uri);
  });
}
