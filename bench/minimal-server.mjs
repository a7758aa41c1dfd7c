#!/usr/bin/env node
/**
 * The least an MCP server over stdio can be with this SDK: McpServer, one tool, StdioServerTransport.
 * bench/cold-start.mjs starts it next to the bin as the baseline of a cold start: what any server on
 * this SDK and this Node pays (Node itself, the SDK, zod) before it can answer `initialize`.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'minimal', version: '0.0.0' });
server.registerTool(
  'echo',
  { description: 'Returns its text.', inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: 'text', text }] }),
);
await server.connect(new StdioServerTransport());
