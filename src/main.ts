/**
 * The server's start: reads the configuration, wires the VT runtime to the MCP server, and serves on
 * stdio or Streamable HTTP. A missing key is not fatal: the tools are listed and each call explains how
 * to set the key (a crash at start would leave the user with an unexplained red dot). Imported by
 * index.ts once Node's compile cache is on.
 */
import { ConfigError, helpText, loadConfig, parseCli } from './config.js';
import { createLogger } from './log.js';
import { callerOf, createServer } from './server/create-server.js';
import { fixHeapGrowth } from './server/heap.js';
import { requestStateCodec } from './server/request-state.js';
import { createRuntime } from './server/runtime.js';
import type { HttpConfigError as HttpConfigErrorClass } from './transports/http.js';
import { GuardedStdioTransport } from './transports/stdio.js';
import { VERSION } from './version.js';
import { openStateStore, StateSpecError, stateSecrets, stateStartLine } from './vt/state/open.js';

// The demo's stand-in and the HTTP transport are loaded only by the runs that use them.
let HttpConfigError: typeof HttpConfigErrorClass | undefined;

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
  // The Redis password of VT_STATE too: no line should carry it, whatever a client error may quote.
  const log = createLogger({
    secrets: [config.apiKey, ...config.http.authTokens, ...stateSecrets(config.state)],
  });
  const growth = fixHeapGrowth();
  log.info(
    `memory: response cache up to ${config.cacheMaxMb} MB; V8 heap growth ` +
      (growth === undefined ? "as set on node's command line" : `${growth}% past live data`),
  );

  let recorded: import('./demo/recorded-api.js').RecordedApi | undefined;
  if (config.demo) {
    const { RecordedApi } = await import('./demo/recorded-api.js');
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
    // One line, naming the real cause when the state is this process's memory instead of what VT_STATE names.
    const line = stateStartLine(opened);
    if (opened.fellBack !== undefined || opened.store.health().degradedSince !== undefined) log.warn(line);
    else log.info(line);
  }
  const runtime = createRuntime(config, log, opened ? { store: opened.store } : {});
  // Signs what a 2026-07-28 client echoes back with its user's answer; the key is kept in the state store.
  const requestState = requestStateCodec(opened?.store, callerOf);
  const ctx = { vt: runtime.gateway, config, log, demo: config.demo, triage: runtime.triage, requestState };
  const closers: Array<() => Promise<unknown>> = [];

  if (config.transport === 'http') {
    const transport = await import('./transports/http.js');
    HttpConfigError = transport.HttpConfigError;
    const http = await transport.startHttp({
      ...config.http,
      createServer: (caller) => createServer(ctx, caller),
      // One minute per client for its calls and its jobs' lookups together.
      rates: runtime.triage.fairShare.rates,
      log,
    });
    closers.push(http.close);
    log.info(`vtbrief ${VERSION} serving Streamable HTTP at ${http.url}`);
    if (/^(0\.0\.0\.0|::|\[::\])$/.test(config.http.host)) {
      log.info(
        `listening on every interface: clients use http://<this machine's address or name>:${http.port}/mcp ` +
          'with the header Authorization: Bearer <one of VT_MCP_AUTH_TOKEN>',
      );
    }
  } else {
    const { serveStdio } = await import('@modelcontextprotocol/server/stdio');
    // 'end' as well as 'close': stdin from a file (e.g. < /dev/null) ends but never closes, and then
    // nothing started closing (with Redis, whose socket holds the loop, the process never exited).
    process.stdin.on('end', () => void shutdown());
    process.stdin.on('close', () => void shutdown());
    // Not the SDK's StdioServerTransport: a message over its 10 MB limit made it stop reading without a
    // word (see transports/stdio.ts).
    // Either protocol era from one factory: a 2026-07-28 client's discovery, or a 2025 initialize.
    const served = serveStdio(() => createServer(ctx), {
      transport: new GuardedStdioTransport({ log }),
      onerror: (err) => log.debug(`mcp: ${err.message}`),
    });
    closers.push(async () => served.close());
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
  // A configuration error is one line that says what to change (StateSpecError: VT_STATE names Redis in an
  // installation without its client, among others), not a crash.
  const known =
    err instanceof ConfigError ||
    (HttpConfigError !== undefined && err instanceof HttpConfigError) ||
    err instanceof StateSpecError;
  const msg = known ? err.message : `failed to start: ${err instanceof Error ? err.message : err}`;
  process.stderr.write(`vtbrief: ${msg}\n`);
  process.exit(2);
});
