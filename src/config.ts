/**
 * Configuration from the environment and the command line.
 *
 * One table (OPTIONS, in config-options.ts) defines every environment option once: its names, its default,
 * its help line and how it is parsed. `--help`, the README's configuration table, the MCP registry's
 * server.json and the Claude Desktop bundle's manifest are all generated from it (scripts/generate.mjs), so
 * none can drift. How one value is read (ConfigError, whole numbers, lists, the rate limit) is in
 * config-values.ts.
 */
import { parseArgs } from 'node:util';
import { ENV_OPTIONS, type EnvOption, OPTIONS } from './config-options.js';
import { ConfigError, given, int, type ParseContext } from './config-values.js';
import type { JobLimits } from './jobs/job-bounds.js';

export { ENV_OPTIONS, type EnvOption, OPTIONS } from './config-options.js';
export { ConfigError, defaultConcurrency, parseRateLimit } from './config-values.js';

/** How --transport http listens and whom it lets in. */
export interface HttpSettings {
  host: string;
  port: number;
  /** Accepted bearer tokens, one per client or team member; required whenever host is not loopback. */
  authTokens: string[];
  /** Extra Host header values and Origins to accept (e.g. a reverse proxy's name). */
  allowedHosts: string[];
  allowedOrigins: string[];
  /** Requests that can reach VirusTotal each client may make per minute (0: no limit). */
  clientCallsPerMinute: number;
  /**
   * Open connections accepted at once; at the cap a new connection replaces the longest idle one that has
   * carried no authenticated request, or is closed at once.
   */
  maxConnections: number;
  /** Open connections accepted at once from one address (an IPv6 /64 counts as one); loopback is exempt. */
  maxConnectionsPerAddress: number;
}

export interface Config {
  apiKey: string | undefined;
  apiUrl: string;
  maxResponseChars: number;
  timeoutMs: number;
  /** Requests per window; undefined when the limiter is off. */
  rateLimit: { requests: number; seconds: number } | undefined;
  /** Upstream requests per UTC day; undefined for no cap. */
  dailyQuota: number | undefined;
  maxConcurrency: number;
  maxWaitMs: number;
  cacheTtlMs: number;
  cacheMaxMb: number;
  demo: boolean;
  transport: 'stdio' | 'http';
  http: HttpSettings;
  /** Submission tools are listed only when this is true. */
  enableSubmissions: boolean;
  /** Directories vt_submit_file may read from; none by default. */
  uploadDirs: string[];
  /** Where the key's shared state lives (VT_STATE): "sqlite", "sqlite:/path", "redis://…" or "memory". */
  state: string;
  /** How long a finished triage job is kept, in hours. */
  triageKeepHours: number;
  /** How many triage jobs, and how much of the store, the callers of this server may hold. */
  triageLimits: JobLimits;
}

/** The command line, defined once: parseArgs reads it and --help prints it. */
const CLI = {
  demo: {
    type: 'boolean',
    help: 'Serve recorded VirusTotal responses bundled with the package (no key, no network).',
  },
  transport: {
    type: 'string',
    default: 'stdio',
    help: 'stdio (default), or http: stateless Streamable HTTP at /mcp, with /healthz.',
  },
  host: { type: 'string', default: '127.0.0.1', help: 'Address to listen on with --transport http.' },
  port: { type: 'string', default: '3000', help: 'Port to listen on with --transport http.' },
  help: { type: 'boolean', short: 'h', help: 'Print this help.' },
  version: { type: 'boolean', help: 'Print the version.' },
} as const;

export interface CliFlags {
  demo: boolean;
  help: boolean;
  version: boolean;
  transport: string;
  /** Undefined when not given (the default then applies). */
  host: string | undefined;
  port: string | undefined;
}

/** Parses the command line; unknown options are an error that names the known ones. */
export function parseCli(argv: string[]): CliFlags {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.entries(CLI).map(([name, o]) => [
          name,
          { type: o.type, ...('short' in o ? { short: o.short } : {}) },
        ]),
      ),
    });
    // The options are built from CLI, so parseArgs types every value loosely: each is read as its type.
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return {
      demo: values.demo === true,
      help: values.help === true,
      version: values.version === true,
      transport: text(values.transport) ?? CLI.transport.default,
      host: text(values.host),
      port: text(values.port),
    };
  } catch (err) {
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)} See --help.`);
  }
}

/** The first non-blank value among an option's names. */
function read(env: NodeJS.ProcessEnv, o: EnvOption): string | undefined {
  for (const name of o.env) {
    if (given(env[name]) !== undefined) return env[name];
  }
  return undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv, argv: string[]): Config {
  const cli = parseCli(argv);
  if (cli.transport !== 'stdio' && cli.transport !== 'http') {
    throw new ConfigError(`--transport must be stdio or http; got "${cli.transport}".`);
  }
  if (cli.transport !== 'http' && (cli.host !== undefined || cli.port !== undefined)) {
    throw new ConfigError(
      `${cli.host !== undefined ? '--host' : '--port'} applies only to --transport http; add --transport http, or drop it.`,
    );
  }
  const ctx: ParseContext = { demo: cli.demo, env };
  const get = <T>(o: EnvOption<T>): T => o.parse(read(env, o), ctx);
  const rateLimit = get(OPTIONS.rateLimit);
  ctx.rateLimit = rateLimit;
  return {
    apiKey: get(OPTIONS.apiKey),
    apiUrl: get(OPTIONS.apiUrl),
    maxResponseChars: get(OPTIONS.maxResponseChars),
    timeoutMs: get(OPTIONS.timeoutSeconds) * 1000,
    rateLimit,
    dailyQuota: get(OPTIONS.dailyQuota),
    maxConcurrency: get(OPTIONS.maxConcurrency),
    maxWaitMs: get(OPTIONS.maxWaitSeconds) * 1000,
    cacheTtlMs: get(OPTIONS.cacheTtlSeconds) * 1000,
    cacheMaxMb: get(OPTIONS.cacheMaxMb),
    demo: cli.demo,
    transport: cli.transport,
    http: {
      host: cli.host ?? CLI.host.default,
      port: int('--port', 0, 65_535, 3000)(cli.port),
      authTokens: get(OPTIONS.authTokens),
      allowedHosts: get(OPTIONS.allowedHosts),
      allowedOrigins: get(OPTIONS.allowedOrigins),
      clientCallsPerMinute: get(OPTIONS.clientRate),
      maxConnections: get(OPTIONS.maxConnections),
      maxConnectionsPerAddress: get(OPTIONS.maxConnectionsPerAddress),
    },
    enableSubmissions: get(OPTIONS.enableSubmissions),
    uploadDirs: get(OPTIONS.uploadDirs),
    state: get(OPTIONS.state),
    triageKeepHours: get(OPTIONS.triageKeepHours),
    triageLimits: {
      runningPerClient: get(OPTIONS.triageRunningPerClient),
      storedPerClient: get(OPTIONS.triageKeptPerClient),
      runningTotal: get(OPTIONS.triageRunningMax),
      storedTotal: get(OPTIONS.triageKeptMax),
      indicatorsTotal: get(OPTIONS.triageIndicatorsMax),
      bytesTotal: get(OPTIONS.triageStoreMb) * 1024 * 1024,
    },
  };
}

export function helpText(version: string): string {
  const flags = Object.entries(CLI).map(([name, o]) => {
    const def = 'default' in o && name !== 'transport' ? ` (default ${o.default})` : '';
    return `  --${name.padEnd(12)} ${o.help.replace(/\.$/, `${def}.`)}`;
  });
  const lines = [
    `vtbrief ${version}: a Model Context Protocol server for VirusTotal.`,
    '',
    'Usage: vtbrief [--demo] [--transport stdio|http] [--host 127.0.0.1] [--port 3000] [--help] [--version]',
    '',
    ...flags,
    '',
    'Configuration comes from the environment:',
    '',
  ];
  for (const o of ENV_OPTIONS) {
    lines.push(`  ${o.env.join(' or ')}`);
    lines.push(`      ${o.help} Default: ${o.default}.`);
  }
  return `${lines.join('\n')}\n`;
}

/** The README's configuration table (scripts/generate.mjs writes it between markers). */
export function configTableMarkdown(): string {
  const rows = ENV_OPTIONS.map((o) => {
    const names = o.env.map((n) => `\`${n}\``).join(' (or ') + (o.env.length > 1 ? ')' : '');
    const def = o.default === '(none)' ? 'none' : o.default.replace(/^[^ (]+/, (d) => `\`${d}\``);
    return `| ${names} | ${def} | ${o.help.replace(/\|/g, '\\|')} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
