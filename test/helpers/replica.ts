/**
 * An HTTP replica as index.ts builds one on a shared state store: its own limiter, cache and triage
 * runner, the state at `VT_STATE`, a client connected over Streamable HTTP. For the multi-replica tests.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServer } from '../../src/server/create-server.js';
import { createRuntime, type Runtime } from '../../src/server/runtime.js';
import { type RunningHttp, startHttp } from '../../src/transports/http.js';
import { openStateStore } from '../../src/vt/state/open.js';
import { testClient } from './client.js';

export interface Replica {
  runtime: Runtime;
  http: RunningHttp;
  client: Client;
  close(): Promise<void>;
}

export async function startReplica(opts: {
  key: string;
  apiUrl: string;
  /** VT_STATE, VT_RATE_LIMIT and the like. */
  env: Record<string, string>;
  /** How often a degraded store is probed (ms). */
  probeEveryMs?: number;
  /** The triage runner's lease and scan period (ms), shorter than the defaults for handover tests. */
  jobs?: { leaseMs?: number; scanEveryMs?: number };
  /** The bearer token `client` sends (with VT_MCP_AUTH_TOKEN in env). */
  token?: string;
}): Promise<Replica> {
  const config = loadConfig({ VIRUSTOTAL_API_KEY: opts.key, VIRUSTOTAL_API_URL: opts.apiUrl, ...opts.env }, [
    '--transport',
    'http',
    '--port',
    '0',
  ]);
  const log = createLogger({ secrets: [opts.key], level: 'warn', write: () => {} });
  const { store } = await openStateStore(config.state, {
    apiKey: opts.key,
    env: {},
    cacheMaxBytes: config.cacheMaxMb * 1024 * 1024,
    resilient: { probeEveryMs: opts.probeEveryMs ?? 5_000, timeoutMs: 500 },
    redis: { timeoutMs: 500, connectWaitMs: 2_000 },
  });
  const runtime = createRuntime(config, log, { store, ...(opts.jobs ? { jobs: opts.jobs } : {}) });
  const ctx = { vt: runtime.gateway, config, log, demo: false, triage: runtime.triage };
  const http = await startHttp({
    ...config.http,
    createServer: (caller) => createServer(ctx, caller),
    rates: runtime.triage.fairShare.rates,
    log,
  });
  const client = testClient({ name: 'vtbrief-replica-test', version: '0.0.0' });
  const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers } }));
  return {
    runtime,
    http,
    client,
    close: async () => {
      await client.close().catch(() => {});
      await http.close();
      await runtime.close();
    },
  };
}
