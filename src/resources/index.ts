/**
 * Resources: the compact report of one object by URI (vt://file/{id}, vt://url/{id},
 * vt://domain/{name}, vt://ip_address/{ip}) and the VT Intelligence syntax reference.
 */
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, type ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { summarizeReport } from '../summaries/index.js';
import { code } from '../summaries/related.js';
import type { ToolContext } from '../tools/context.js';
import { DEMO_BANNER, demoWording, errorText, sourceLine } from '../tools/respond.js';
import { parsePublicTarget } from '../tools/target.js';
import { VtError } from '../vt/errors.js';
import type { IndicatorType } from '../vt/indicators.js';
import { vtPath } from '../vt/paths.js';
import { SEARCH_SYNTAX, SEARCH_SYNTAX_URI } from './search-syntax.js';

/** The JSON-RPC code for an unknown resource (MCP spec: -32002). */
const RESOURCE_NOT_FOUND = -32002;

/**
 * A failed read, as the SDK sends it: it copies `code` and `message` into the JSON-RPC error. McpError
 * would not do: its message already starts "MCP error <code>: ", and the client adds that prefix again.
 */
export class ResourceReadError extends Error {
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
    throw new ResourceReadError(ErrorCode.InvalidParams, errorText(err));
  }
  try {
    const res = await ctx.vt.fetch<{ data?: unknown }>({
      path: vtPath`/${target.collection}/${target.id}`,
      signal,
    });
    const rendered = summarizeReport(res.body?.data, 'concise', ctx.config.maxResponseChars - 200);
    if (!rendered) throw new VtError('transient', 'VirusTotal sent a report in an unexpected shape.');
    const text = `${ctx.demo ? `${DEMO_BANNER}\n` : ''}${rendered.text}\n${sourceLine(res.fetchedAt, res.fromCache)}`;
    return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
  } catch (err) {
    if (err instanceof VtError && err.kind === 'not_found') {
      const msg =
        `VirusTotal has never seen the ${type.replace('_', ' ')} ${type === 'url' ? code(target.value) : target.value}; ` +
        'that is not evidence that it is safe.';
      throw new ResourceReadError(RESOURCE_NOT_FOUND, ctx.demo ? demoWording(msg) : msg);
    }
    ctx.log.info(`resource ${type}: ${err instanceof VtError ? err.kind : 'unexpected error'}`);
    throw new ResourceReadError(ErrorCode.InternalError, errorText(err));
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
}
