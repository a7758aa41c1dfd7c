#!/usr/bin/env node
/**
 * The least an MCP server over stdio can be with this SDK (v2, as src/ is): McpServer with one tool,
 * served by serveStdio, the entry src/index.ts uses (it answers a 2025 `initialize` and a 2026-07-28
 * discovery alike). bench/cold-start.mjs starts it next to the bin as the baseline of a cold start:
 * what any server on this SDK and this Node pays (Node itself, the SDK, zod) before it can answer
 * `initialize`. It exits when stdin closes (serveStdio's transport closes, and nothing else holds the
 * event loop).
 */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

serveStdio(() => {
  const server = new McpServer({ name: 'minimal', version: '0.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns its text.', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
});
