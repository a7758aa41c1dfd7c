/** Builds the MCP server: identity, instructions, and the tools. Transports are chosen in index.ts. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext } from '../tools/context.js';
import { listEntry, registerTool, type ToolDefinition } from '../tools/define.js';
import { getReportTool } from '../tools/get-report.js';
import { VERSION } from '../version.js';
import { INSTRUCTIONS } from './instructions.js';

/** Every read-only tool; the order is the order clients list them in. */
export const READ_TOOLS: ToolDefinition[] = [getReportTool as unknown as ToolDefinition];

export function createServer(ctx: ToolContext): McpServer {
  const server = new McpServer(
    { name: 'vt-mcp', title: 'VirusTotal', version: VERSION },
    { capabilities: { logging: {} }, instructions: INSTRUCTIONS },
  );
  const tools = READ_TOOLS;
  for (const tool of tools) registerTool(server, ctx, tool);
  // Replaces the SDK's listing with the leaner one (same tools, same schemas; see listEntry).
  const listing = { tools: tools.map(listEntry) };
  server.server.setRequestHandler(ListToolsRequestSchema, () => listing as never);
  return server;
}
