/**
 * Test harness: the stand-in VT API on 127.0.0.1 plus an MCP client linked in memory to a server
 * built exactly as index.ts builds it. Every tool test goes through the real protocol.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type Config, loadConfig } from '../../src/config.js';
import { RecordedApi, type RecordedApiOptions } from '../../src/demo/recorded-api.js';
import { createLogger } from '../../src/log.js';
import { createServer } from '../../src/server/create-server.js';
import { VtClient } from '../../src/vt/client.js';
import { DirectGateway } from '../../src/vt/gateway.js';

export const TEST_KEY = 'TESTKEY-0123456789abcdef-do-not-leak-0123456789abcdef-XYZ';

export interface Harness {
  api: RecordedApi;
  client: Client;
  config: Config;
  logs: string[];
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: { env?: Record<string, string>; api?: RecordedApiOptions; demo?: boolean; noKey?: boolean } = {},
): Promise<Harness> {
  const api = await new RecordedApi({ apiKey: TEST_KEY, ...opts.api }).start();
  const env: Record<string, string> = { VIRUSTOTAL_API_URL: api.url, ...opts.env };
  if (!opts.noKey) env.VIRUSTOTAL_API_KEY = TEST_KEY;
  const config = loadConfig(env, opts.demo ? ['--demo'] : []);
  const logs: string[] = [];
  const log = createLogger({ secrets: [config.apiKey], level: 'debug', write: (l) => logs.push(l) });
  const vt = new VtClient({ baseUrl: config.apiUrl, apiKey: config.apiKey, timeoutMs: config.timeoutMs });
  const server = createServer({ vt: new DirectGateway(vt), config, log, demo: !!opts.demo });
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'vt-mcp-tests', version: '0.0.0' });
  await server.connect(serverT);
  await client.connect(clientT);
  return {
    api,
    client,
    config,
    logs,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    close: async () => {
      await client.close();
      await server.close();
      await vt.close();
      await api.close();
    },
  };
}

export function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}
