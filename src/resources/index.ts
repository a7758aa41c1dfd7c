/**
 * Resources: the compact report of one object by URI (vt://file/{id}, vt://url/{id},
 * vt://domain/{name}, vt://ip_address/{ip}), the same answer vt_get_report gives (the same operation,
 * summary and text), and the VT Intelligence syntax reference.
 */
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, type ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext } from '../tools/context.js';
import { reportAnswer } from '../tools/get-report.js';
import { logFailure, respondText } from '../tools/respond.js';
import { parsePublicTarget } from '../tools/target.js';
import { triageStateText } from '../tools/triage.js';
import { errorText, resourceNotFound, subjectOf } from '../tools/wording.js';
import type { IndicatorType } from '../vt/indicators.js';
import { SEARCH_SYNTAX, SEARCH_SYNTAX_URI } from './search-syntax.js';

/** The JSON-RPC code for an unknown resource (MCP spec: -32002). */
const RESOURCE_NOT_FOUND = -32002;

/**
 * A failed read, as the SDK sends it: it copies `code` and `message` into the JSON-RPC error. McpError
 * would not do: its message already starts "MCP error <code>: ", and the client adds that prefix again.
 */
class ResourceReadError extends Error {
  constructor(
    readonly code: number,
    message: string,
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

function decoded(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
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
    throw new ResourceReadError(ErrorCode.InvalidParams, errorText(err, ctx));
  }
  try {
    const answer = await reportAnswer(ctx, target, 'concise', { signal });
    if (!answer.structured.found) {
      throw new ResourceReadError(RESOURCE_NOT_FOUND, resourceNotFound(ctx, `the ${subjectOf(target)}`));
    }
    return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: respondText(ctx, answer) }] };
  } catch (err) {
    if (err instanceof ResourceReadError) throw err;
    logFailure(ctx.log, `resource ${type}`, err);
    throw new ResourceReadError(ErrorCode.InternalError, errorText(err, ctx));
  }
}

export function registerResources(server: McpServer, ctx: ToolContext): void {
  server.registerResource(
    'search-syntax',
    SEARCH_SYNTAX_URI,
    {
      title: 'VT Intelligence search syntax',
      description: 'Query language reference for vt_search: modifiers, entities, dates, orders, examples.',
      mimeType: 'text/markdown',
    },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: SEARCH_SYNTAX }] }),
  );
  for (const t of TEMPLATES) {
    server.registerResource(
      `${t.type}-report`,
      new ResourceTemplate(t.uri, { list: undefined }),
      {
        title: t.title,
        description: 'The compact report vt_get_report gives (one lookup).',
        mimeType: 'text/plain',
      },
      async (uri, variables, extra) =>
        readReport(ctx, t.type, decoded(variables[t.variable]), uri, extra.signal),
    );
  }
  server.registerResource(
    'triage-job',
    new ResourceTemplate('vt://triage/{job}', { list: undefined }),
    {
      title: 'VirusTotal triage job',
      description: 'A vt_triage job: what vt_triage {job} shows (no lookup).',
      mimeType: 'text/plain',
    },
    async (uri, variables) => {
      const text = await triageStateText(ctx, decoded(variables.job));
      if (text === undefined) {
        throw new ResourceReadError(
          RESOURCE_NOT_FOUND,
          'No such triage job (or it finished and was removed).',
        );
      }
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
    },
  );
}
