/** Builds the MCP server: identity, instructions, and the tools. Transports are chosen in index.ts. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { registerPrompts } from '../prompts/index.js';
import { registerResources } from '../resources/index.js';
import type { ServerContext, ToolContext } from '../tools/context.js';
import { listEntry, registerTool, type ToolDefinition } from '../tools/define.js';
import { getBehaviourTool } from '../tools/get-behaviour.js';
import { getRelationshipsTool } from '../tools/get-relationships.js';
import { getReportTool } from '../tools/get-report.js';
import { quotaTool } from '../tools/quota.js';
import { searchTool } from '../tools/search.js';
import { getAnalysisTool, submitFileTool, submitUrlTool } from '../tools/submissions.js';
import { triageTool } from '../tools/triage.js';
import { VERSION } from '../version.js';
import { VtApi } from '../vt/api.js';
import { INSTRUCTIONS } from './instructions.js';

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

/** The caller of stdio, and of HTTP without tokens: one client. */
export const LOCAL_CALLER = 'local';

/** `caller`: who this server answers (see ToolContext.caller); over HTTP, the request's token holder. */
export function createServer(ctx: ServerContext, caller: string = LOCAL_CALLER): McpServer {
  const server = new McpServer(
    { name: 'vtbrief', title: 'VirusTotal', version: VERSION },
    { capabilities: { logging: {} }, instructions: INSTRUCTIONS, jsonSchemaValidator: sharedValidator() },
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
    peer: server.server,
  };
  for (const tool of tools) registerTool(server, toolCtx, tool);
  // Replaces the SDK's listing with the leaner one (same tools, same schemas; see listEntry).
  const listing = { tools: tools.map(listEntry) };
  server.server.setRequestHandler(ListToolsRequestSchema, () => listing as never);
  registerResources(server, toolCtx);
  registerPrompts(server);
  return server;
}
