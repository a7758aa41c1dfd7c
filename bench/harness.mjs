/**
 * A server wired as src/index.ts wires it (gateway with limiter and cache), the stand-in VT API on
 * 127.0.0.1, and an MCP client linked to the server in memory. Shared by the benchmarks and by
 * scripts/generate.mjs (the README's example answers). Imports the built dist/: run `npm run build` first.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { loadConfig } from '../dist/config.js';
import { RecordedApi } from '../dist/demo/recorded-api.js';
import { createLogger } from '../dist/log.js';
import { createServer } from '../dist/server/create-server.js';
import { createRuntime } from '../dist/server/runtime.js';

export const KEY = 'bench-key-not-a-real-virustotal-key';

/**
 * `demo: true` is `vtbrief --demo` (the banner, demo wording, the demo's defaults); otherwise a keyed
 * server pointed at the stand-in with no rate limit or daily cap. `env` adds configuration; the process
 * environment is never read, so every run sees the same configuration. `store` is the key's state store
 * (memory when absent); `api` a stand-in to share with another client (it is then left running).
 */
export async function startClient({ demo = false, env = {}, store, api: givenApi } = {}) {
  const api = givenApi ?? (await new RecordedApi({ apiKey: KEY }).start());
  const base = demo ? {} : { VT_RATE_LIMIT: 'off', VT_DAILY_QUOTA: 'off' };
  const config = loadConfig({ ...base, ...env, VIRUSTOTAL_API_KEY: KEY }, demo ? ['--demo'] : []);
  config.apiUrl = api.url;
  config.apiKey = KEY;
  const log = createLogger({ secrets: [KEY], level: 'error', write: () => {} });
  const runtime = createRuntime(config, log, store ? { store } : {});
  const server = createServer({ vt: runtime.gateway, config, log, demo, triage: runtime.triage });
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'vtbrief-bench', version: '0.0.0' });
  await server.connect(serverT);
  await client.connect(clientT);
  return {
    api,
    client,
    /** tools/call; the result as the SDK client returns it. */
    call: (name, args) => client.callTool({ name, arguments: args }),
    close: async () => {
      await client.close();
      await server.close();
      await runtime.close();
      if (!givenApi) await api.close();
    },
  };
}

/** The text a model reads from a tool result. */
export const textOf = (r) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmt = (n) => Math.round(n).toLocaleString('en-US');
