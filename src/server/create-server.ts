/** Builds the MCP server: identity, instructions, and the tools. Transports are chosen in index.ts. */
import {
  McpServer,
  type ServerContext as RequestContext,
  type RequestStateCodec,
} from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import type { ConfirmState, ServerContext, ToolContext } from '../answers/context.js';
import { registerPrompts } from '../prompts/index.js';
import { registerResources } from '../resources/index.js';
import { listEntry, registerTool, type ToolDefinition } from '../tools/define.js';
import { getBehaviourTool } from '../tools/get-behaviour.js';
import { getRelationshipsTool } from '../tools/get-relationships.js';
import { getReportTool } from '../tools/get-report.js';
import { quotaTool } from '../tools/quota.js';
import { searchTool } from '../tools/search.js';
import { getAnalysisTool, submitFileTool, submitUrlTool } from '../tools/submissions.js';
import { triageTaskOps, triageTool } from '../tools/triage.js';
import { serveTriageTasks } from '../tools/triage-tasks.js';
import { VERSION } from '../version.js';
import { VtApi } from '../vt/api.js';
import { INSTRUCTIONS } from './instructions.js';
import { requestStateCodec } from './request-state.js';

/** Every read-only tool; the order is the order clients list them in. */
export const READ_TOOLS: ToolDefinition[] = [
  getReportTool,
  triageTool,
  quotaTool,
  getRelationshipsTool,
  searchTool,
  getBehaviourTool,
];

/** Tools that publish to VirusTotal; listed only when VT_ENABLE_SUBMISSIONS=true. */
export const SUBMISSION_TOOLS: ToolDefinition[] = [submitUrlTool, submitFileTool, getAnalysisTool];

// Each McpServer would build its own Ajv instance (costly); over HTTP a server is built per request.
let validator: AjvJsonSchemaValidator | undefined;
function sharedValidator(): AjvJsonSchemaValidator {
  validator ??= new AjvJsonSchemaValidator();
  return validator;
}

let processCodec: RequestStateCodec<ConfirmState> | undefined;
/** A key of this process's own, for servers built without the state store's. */
function ownCodec(): RequestStateCodec<ConfirmState> {
  processCodec ??= requestStateCodec(undefined, callerOf);
  return processCodec;
}

/** The caller of stdio, and of HTTP without tokens: one client. */
export const LOCAL_CALLER = 'local';

/** Who sent a request: the HTTP layer files the token holder as the request's clientId. */
export function callerOf(req: RequestContext): string {
  return req.http?.authInfo?.clientId ?? LOCAL_CALLER;
}

/**
 * How long a client may keep what it listed (2026-07-28 clients): the tools, prompts and resources
 * change only with a new version, and are the same for every caller.
 */
const LIST_HINT = { ttlMs: 60 * 60_000, cacheScope: 'public' } as const;

/**
 * One server for either protocol era (the SDK picks per connection or request). `caller`: who this
 * server answers (see ToolContext.caller); over HTTP, the request's token holder.
 */
export function createServer(ctx: ServerContext, caller: string = LOCAL_CALLER): McpServer {
  // Never without one: a server built without the store's key (tests, benchmarks) signs with its own.
  const codec = ctx.requestState ?? ownCodec();
  const server = new McpServer(
    { name: 'vtbrief', title: 'VirusTotal', version: VERSION },
    {
      // Logging for 2025 clients that set a level; the 2026-07-28 revision has none (diagnostics: stderr).
      // The lists never change while the server runs: no client should wait for a notification of it.
      capabilities: {
        logging: {},
        tools: { listChanged: false },
        resources: { listChanged: false },
        prompts: { listChanged: false },
      },
      instructions: INSTRUCTIONS,
      jsonSchemaValidator: sharedValidator(),
      cacheHints: {
        'tools/list': LIST_HINT,
        'prompts/list': LIST_HINT,
        'resources/list': LIST_HINT,
        'resources/templates/list': LIST_HINT,
      },
      requestState: { verify: (state: string, req: RequestContext) => codec.verify(state, req) },
    },
  );
  const tools = ctx.config.enableSubmissions ? [...READ_TOOLS, ...SUBMISSION_TOOLS] : READ_TOOLS;
  // ctx is shared by every server (over HTTP, one per request); each server's tools see their own client.
  // Tools and resources reach VirusTotal through its typed operations, never the gateway itself.
  const toolCtx: ToolContext = {
    vt: new VtApi(ctx.vt, { client: caller }),
    caller,
    config: ctx.config,
    log: ctx.log,
    demo: ctx.demo,
    ...(ctx.triage ? { triage: ctx.triage } : {}),
    requestState: codec,
    peer: server.server,
  };
  for (const tool of tools) registerTool(server, toolCtx, tool);
  // Replaces the SDK's listing with the leaner one (same tools, same schemas; see listEntry).
  // Worked out on the first tools/list, not before the first answer (a cold start's initialize).
  // The cache hint only where the revision has it: a 2025 client reads the plain listing.
  server.server.setRequestHandler('tools/list', (_req, extra) => {
    const listing = { tools: tools.map(listEntry) };
    return extra.mcpReq.envelope !== undefined ? { ...listing, ...LIST_HINT } : listing;
  });
  // vt_triage's jobs as tasks, for clients of the 2026-07-28 revision that follow tasks.
  if (toolCtx.triage) serveTriageTasks(server, toolCtx, triageTaskOps(toolCtx));
  registerResources(server, toolCtx);
  registerPrompts(server);
  return server;
}
