/**
 * Test harness: the stand-in VT API on 127.0.0.1 plus an MCP client linked in memory to a server
 * built exactly as index.ts builds it. Every tool test goes through the real protocol.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { type CallToolResult, CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { type Config, loadConfig } from '../../src/config.js';
import { RecordedApi, type RecordedApiOptions } from '../../src/demo/recorded-api.js';
import { createLogger } from '../../src/log.js';
import { createServer } from '../../src/server/create-server.js';
import { createRuntime, type Runtime } from '../../src/server/runtime.js';
import type { StateStore } from '../../src/vt/state/store.js';
import { testClient } from './client.js';

export const TEST_KEY = 'TESTKEY-0123456789abcdef-do-not-leak-0123456789abcdef-XYZ';

export interface Harness {
  api: RecordedApi;
  client: Client;
  config: Config;
  runtime: Runtime;
  logs: string[];
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /**
   * tools/call sent as a plain request: the SDK client does not check structuredContent against the
   * tool's outputSchema, so a test can look at an answer the validating client would throw on.
   */
  callRaw(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/**
 * Stand-ins that play the recordings as they are (no hook) are reused from one harness to the next:
 * building one parses every recording (about 30 ms, a few seconds over the suite). Such a stand-in
 * keeps no state but its request log, emptied here, and its submissions, of which it gets none
 * (a harness with VT_ENABLE_SUBMISSIONS=true gets a stand-in of its own). The stand-in reads its
 * options object on every request, so the one kept with it is set anew for each harness.
 */
const idleStandIns: Array<{ api: RecordedApi; options: RecordedApiOptions }> = [];

async function standIn(options: RecordedApiOptions, reusable: boolean): Promise<RecordedApi> {
  if (!reusable) return new RecordedApi(options).start();
  const kept = idleStandIns.pop();
  if (!kept) {
    const own = { ...options };
    const api = await new RecordedApi(own).start();
    reused.set(api, own);
    return api;
  }
  for (const k of Object.keys(kept.options)) delete kept.options[k as keyof RecordedApiOptions];
  Object.assign(kept.options, options);
  kept.api.requests.length = 0;
  return kept.api;
}

/** Stand-ins that go back to idleStandIns when their harness closes, with their options object. */
const reused = new WeakMap<RecordedApi, RecordedApiOptions>();

export async function startHarness(
  opts: {
    env?: Record<string, string>;
    api?: RecordedApiOptions;
    demo?: boolean;
    noKey?: boolean;
    /** The key's state store, as index.ts passes what openStateStore() opened (closed with the harness). */
    store?: StateStore;
  } = {},
): Promise<Harness> {
  const reusable =
    opts.api?.hook === undefined &&
    opts.api?.fixturesDir === undefined &&
    opts.env?.VT_ENABLE_SUBMISSIONS !== 'true';
  const api = await standIn({ apiKey: TEST_KEY, ...opts.api }, reusable);
  // No rate limit or daily cap unless a test asks for one; the cache is on, as in production.
  const env: Record<string, string> = {
    VIRUSTOTAL_API_URL: api.url,
    VT_RATE_LIMIT: 'off',
    VT_DAILY_QUOTA: 'off',
    ...opts.env,
  };
  if (!opts.noKey) env.VIRUSTOTAL_API_KEY = TEST_KEY;
  const config = loadConfig(env, opts.demo ? ['--demo'] : []);
  const logs: string[] = [];
  const log = createLogger({ secrets: [config.apiKey], level: 'debug', write: (l) => logs.push(l) });
  // Built as index.ts builds it: the mediated gateway with limiter and cache.
  const runtime = createRuntime(config, log, opts.store ? { store: opts.store } : {});
  const server = createServer({
    vt: runtime.gateway,
    config,
    log,
    demo: !!opts.demo,
    triage: runtime.triage,
  });
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  const client = testClient({ name: 'vtbrief-tests', version: '0.0.0' });
  await server.connect(serverT);
  await client.connect(clientT);
  return {
    api,
    client,
    config,
    runtime,
    logs,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    callRaw: (name, args) =>
      client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema),
    close: async () => {
      await client.close();
      await server.close();
      await runtime.close();
      const options = reused.get(api);
      if (idleStandIns.some((k) => k.api === api)) return; // closed twice
      if (options && api.submissions.received.length === 0) idleStandIns.push({ api, options });
      else await api.close();
    },
  };
}

export function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

/** Everything a tool answer shows the model: its text and its structuredContent, as one string. */
export function everythingOf(r: CallToolResult): string {
  return `${textOf(r)}\n${r.structuredContent === undefined ? '' : JSON.stringify(r.structuredContent)}`;
}
