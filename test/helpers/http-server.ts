/**
 * A Streamable HTTP server as index.ts builds one, over the stand-in API, with its log kept: what the
 * HTTP tests start. `limits` overrides startHttp's timeouts and caps for a test.
 */
import { loadConfig } from '../../src/config.js';
import { RecordedApi } from '../../src/demo/recorded-api.js';
import { createLogger } from '../../src/log.js';
import { createServer } from '../../src/server/create-server.js';
import { createRuntime } from '../../src/server/runtime.js';
import { type HttpOptions, type RunningHttp, startHttp } from '../../src/transports/http.js';
import { TEST_KEY } from './harness.js';

export interface RunningServer {
  http: RunningHttp;
  api: RecordedApi;
  logs: string[];
  close(): Promise<void>;
}

export type Limits = Partial<Omit<HttpOptions, 'createServer' | 'log'>>;

export async function startHttpServer(
  env: Record<string, string> = {},
  host = '127.0.0.1',
  limits: Limits = {},
): Promise<RunningServer> {
  const api = await new RecordedApi({ apiKey: TEST_KEY }).start();
  const config = loadConfig(
    { VIRUSTOTAL_API_KEY: TEST_KEY, VIRUSTOTAL_API_URL: api.url, VT_RATE_LIMIT: 'off', ...env },
    ['--transport', 'http', '--host', host, '--port', '0'],
  );
  const logs: string[] = [];
  const log = createLogger({
    secrets: [config.apiKey, ...config.http.authTokens],
    level: 'debug',
    write: (l) => logs.push(l),
  });
  const runtime = createRuntime(config, log);
  const ctx = { vt: runtime.gateway, config, log, demo: false, triage: runtime.triage };
  let http: RunningHttp;
  try {
    http = await startHttp({
      ...config.http,
      ...limits,
      createServer: (caller) => createServer(ctx, caller),
      rates: runtime.triage.fairShare.rates,
      log,
    });
  } catch (err) {
    await runtime.close();
    await api.close();
    throw err;
  }
  return {
    http,
    api,
    logs,
    close: async () => {
      await http.close();
      await runtime.close();
      await api.close();
    },
  };
}
