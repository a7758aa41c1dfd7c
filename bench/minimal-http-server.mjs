#!/usr/bin/env node
/**
 * The least an MCP server over Streamable HTTP can be with this SDK (v2, as src/ is): createMcpHandler
 * (stateless for 2025 clients, as src/transports/http.ts sets it; a 2026-07-28 request carries its own
 * envelope) behind toNodeHandler on node:http, 127.0.0.1 only, no guards; one tool, named as the bin's
 * vt_get_report and taking the same `indicator`, whose answer is 1 KB of text. bench/http-cost.mjs
 * drives it next to the bin with the same requests, as the baseline: what any server on this SDK and
 * this Node pays per HTTP call. GET /healthz answers as the bin's does, for the readiness probe.
 *
 *   node bench/minimal-http-server.mjs --port 3999
 */
import { createServer } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

const i = process.argv.indexOf('--port');
const port = i === -1 ? 0 : Number(process.argv[i + 1]);
const ANSWER = `${'minimal answer, '.repeat(64)}`; // 1,024 characters

const mcp = createMcpHandler(
  () => {
    const server = new McpServer({ name: 'minimal-http', version: '0.0.0' });
    server.registerTool(
      'vt_get_report',
      { description: 'Answers 1 KB of text.', inputSchema: z.object({ indicator: z.string() }) },
      async () => ({ content: [{ type: 'text', text: ANSWER }] }),
    );
    return server;
  },
  { legacy: 'stateless' },
);
const handler = toNodeHandler(mcp);

const http = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://local').pathname;
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  if (path !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  handler(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
http.listen(port, '127.0.0.1', () => {
  process.stderr.write(`minimal-http listening on http://127.0.0.1:${http.address().port}/mcp\n`);
});
const stop = () => {
  void mcp.close();
  http.closeAllConnections();
  http.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
