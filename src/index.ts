#!/usr/bin/env node
/**
 * Entry point: reads the configuration, wires the VT runtime to the MCP server, and serves on stdio
 * or Streamable HTTP. A missing key is not fatal: the tools are listed and each call explains how
 * to set the key (a crash at start would leave the user with an unexplained red dot).
 */
import { ConfigError, helpText, loadConfig, parseCli } from './config.js';
import { RecordedApi } from './demo/recorded-api.js';
import { createLogger } from './log.js';
import { createServer } from './server/create-server.js';
import { fixHeapGrowth } from './server/heap.js';
import { createRuntime } from './server/runtime.js';
import { HttpConfigError, startHttp } from './transports/http.js';
import { GuardedStdioTransport } from './transports/stdio.js';
import { VERSION } from './version.js';
import { openStateStore } from './vt/state/open.js';

const DEMO_KEY = 'demo-key-not-a-real-virustotal-key';
/** How long closing (lookups in flight, job leases, the state store) may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(argv: string[]): Promise<void> {
  const cli = parseCli(argv);
  if (cli.help) {
    process.stdout.write(helpText(VERSION));
    return;
  }
  if (cli.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const config = loadConfig(process.env, argv);
  const log = createLogger({ secrets: [config.apiKey, ...config.http.authTokens] });
  const growth = fixHeapGrowth();
  log.info(
    `memory: response cache up to ${config.cacheMaxMb} MB; V8 heap growth ` +
      (growth === undefined ? "as set on node's command line" : `${growth}% past live data`),
  );

  let recorded: RecordedApi | undefined;
  if (config.demo) {
    recorded = await new RecordedApi().start();
    config.apiUrl = recorded.url;
    config.apiKey = DEMO_KEY;
    log.info('demo mode: answering from recorded responses bundled with the package');
  } else if (!config.apiKey) {
    log.warn('no VIRUSTOTAL_API_KEY set: tools are listed, and each call will explain how to set the key');
  }

  // The key's shared state (quota counts, cache, claims): a file, Redis or this process's memory.
  // Without a key there is nothing to count.
  const opened = config.apiKey
    ? await openStateStore(config.state, {
        apiKey: config.apiKey,
        env: process.env,
        cacheMaxBytes: config.cacheMaxMb * 1024 * 1024,
        log: (msg) => log.warn(msg),
      })
    : undefined;
  if (opened) {
    const h = opened.store.health();
    log.info(
      `state: ${h.kind}${h.shared ? ` at ${h.location}, shared by every process on this key` : ', this process only'}` +
        (opened.fellBack ? ` (${config.state} could not be used: ${opened.fellBack})` : ''),
    );
  }
  const runtime = createRuntime(config, log, opened ? { store: opened.store } : {});
  const ctx = { vt: runtime.gateway, config, log, demo: config.demo, triage: runtime.triage };
  const closers: Array<() => Promise<unknown>> = [];

  if (config.transport === 'http') {
    const http = await startHttp({ ...config.http, createServer: () => createServer(ctx), log });
    closers.push(http.close);
    log.info(`vtbrief ${VERSION} serving Streamable HTTP at ${http.url}`);
    if (/^(0\.0\.0\.0|::|\[::\])$/.test(config.http.host)) {
      log.info(
        `listening on every interface: clients use http://<this machine's address or name>:${http.port}/mcp ` +
          'with the header Authorization: Bearer <one of VT_MCP_AUTH_TOKEN>',
      );
    }
  } else {
    const server = createServer(ctx);
    closers.push(() => server.close());
    process.stdin.on('close', () => void shutdown());
    // Not the SDK's StdioServerTransport: a message over its 10 MB limit made it stop reading without a
    // word (see transports/stdio.ts).
    await server.connect(new GuardedStdioTransport({ log }));
    log.info(`vtbrief ${VERSION} serving on stdio`);
  }

  // Once stdin closes nothing else holds the event loop open (the limiter's and the runner's timers
  // are unref'd), and Node would exit half-way through closing: lookups in flight unwritten, the triage
  // job's lease kept until it lapses (15 s) so that the next server could not take the job over. This
  // timer holds the process until closing is done, and bounds how long that may take.
  let stopping: Promise<void> | undefined;
  function shutdown(): Promise<void> {
    stopping ??= (async () => {
      const grace = setTimeout(() => {
        log.warn(`closing took over ${SHUTDOWN_GRACE_MS / 1000} s: exiting anyway`);
        process.exit(0);
      }, SHUTDOWN_GRACE_MS);
      for (const close of closers) await close().catch(() => {});
      await runtime.close().catch(() => {});
      await recorded?.close().catch(() => {});
      clearTimeout(grace);
      process.exit(0);
    })();
    return stopping;
  }
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

main(process.argv.slice(2)).catch((err) => {
  const known = err instanceof ConfigError || err instanceof HttpConfigError;
  const msg = known ? err.message : `failed to start: ${err instanceof Error ? err.message : err}`;
  process.stderr.write(`vtbrief: ${msg}\n`);
  process.exit(2);
});
