#!/usr/bin/env node
/**
 * Entry point: reads the configuration, wires the VT client to the MCP server, and serves on stdio.
 * A missing key is not fatal: the tools are listed and each call explains how to set the key.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ConfigError, helpText, loadConfig } from './config.js';
import { RecordedApi } from './demo/recorded-api.js';
import { createLogger } from './log.js';
import { createServer } from './server/create-server.js';
import { VERSION } from './version.js';
import { VtClient } from './vt/client.js';
import { DirectGateway } from './vt/gateway.js';

const DEMO_KEY = 'demo-key-not-a-real-virustotal-key';

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(VERSION));
    return;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const unknown = argv.filter((a) => !['--demo'].includes(a));
  if (unknown.length > 0) throw new ConfigError(`Unknown option ${unknown[0]}; see --help.`);

  const config = loadConfig(process.env, argv);
  const log = createLogger({ secrets: [config.apiKey] });

  let recorded: RecordedApi | undefined;
  if (config.demo) {
    recorded = await new RecordedApi().start();
    config.apiUrl = recorded.url;
    config.apiKey = DEMO_KEY;
    log.info('demo mode: answering from recorded responses bundled with the package');
  } else if (!config.apiKey) {
    log.warn('no VIRUSTOTAL_API_KEY set: tools are listed, and each call will explain how to set the key');
  }

  const client = new VtClient({
    baseUrl: config.apiUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    userAgent: `vt-mcp/${VERSION}`,
  });
  const server = createServer({ vt: new DirectGateway(client), config, log, demo: config.demo });

  const shutdown = async () => {
    await server.close().catch(() => {});
    await client.close().catch(() => {});
    await recorded?.close().catch(() => {});
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  process.stdin.on('close', shutdown);

  await server.connect(new StdioServerTransport());
  log.info(`vt-mcp ${VERSION} serving on stdio`);
}

main(process.argv.slice(2)).catch((err) => {
  const msg =
    err instanceof ConfigError ? err.message : `failed to start: ${err instanceof Error ? err.message : err}`;
  process.stderr.write(`vt-mcp: ${msg}\n`);
  process.exit(2);
});
