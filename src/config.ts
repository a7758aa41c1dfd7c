/**
 * Configuration from the environment and the command line.
 *
 * One table (OPTIONS) defines every environment option once: its names, its default, its help line and
 * how it is parsed. `--help`, the README's configuration table, the MCP registry's server.json and the
 * Claude Desktop bundle's manifest are all generated from it (scripts/generate.mjs), so none can drift.
 */
import { parseArgs } from 'node:util';
import type { JobLimits } from './jobs/triage-jobs.js';
import { parseStateSpec, StateSpecError } from './vt/state/open.js';

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

export class ConfigError extends Error {}

/** What an option's parser is told besides its own value. */
interface ParseContext {
  demo: boolean;
  env: NodeJS.ProcessEnv;
  /** The rate limit as parsed, for defaults that depend on it. */
  rateLimit?: Config['rateLimit'];
}

/** One environment option: its names (the first is canonical), its default as shown, its help, its parser. */
export interface EnvOption<T = unknown> {
  env: string[];
  /** The default as a person reads it (help, README, registry); the parser applies the real one. */
  default: string;
  help: string;
  /** How a registry or bundle should present it. */
  format: 'string' | 'number' | 'boolean' | 'filepath';
  secret?: boolean;
  parse(raw: string | undefined, ctx: ParseContext): T;
}

const option = <T>(o: EnvOption<T>): EnvOption<T> => o;

/** An unset or blank variable is "not given": an empty `VIRUSTOTAL_API_KEY=` never hides `VT_API_KEY`. */
function given(raw: string | undefined): string | undefined {
  const v = raw?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function int(name: string, min: number, max: number, fallback: number) {
  return (raw: string | undefined): number => {
    const v = given(raw);
    if (v === undefined) return fallback;
    const value = Number(v);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got "${raw}".`);
    }
    return value;
  };
}

function list(raw: string | undefined, sep: RegExp = /,/): string[] {
  return (raw ?? '')
    .split(sep)
    .map((x) => x.trim())
    .filter(Boolean);
}

const OFF = /^(off|none)$/i;

/** "4/60s" (also "4/60", "4/1m") → 4 per 60 s; "off" → no limiter. The demo defaults to off. */
export function parseRateLimit(raw: string | undefined, demo = false): Config['rateLimit'] {
  const v = given(raw);
  if (v === undefined) return demo ? undefined : { requests: 4, seconds: 60 };
  if (OFF.test(v)) return undefined;
  const m = /^(\d+)\s*\/\s*(\d+)\s*(s|m|min)?$/i.exec(v);
  const requests = m ? Number(m[1]) : Number.NaN;
  const seconds = m ? Number(m[2]) * (m[3] && /^m/i.test(m[3]) ? 60 : 1) : Number.NaN;
  if (!m || requests < 1 || seconds < 1 || requests > 100_000 || seconds > 86_400) {
    throw new ConfigError(
      `VT_RATE_LIMIT must look like 4/60s (requests per seconds, at least 1 of each), or "off" for no limit; got "${raw}".`,
    );
  }
  return { requests, seconds };
}

/**
 * Concurrency fits the key: a public key's 4/60s window never has more than 4 requests to send, a
 * premium window of N per period gains from up to N in flight (capped at 16), and with no window the
 * limit is the upstream's latency, so 16 callers are served in parallel.
 */
export function defaultConcurrency(rateLimit: Config['rateLimit']): number {
  return rateLimit ? Math.min(16, Math.max(4, rateLimit.requests)) : 16;
}

export const OPTIONS = {
  apiKey: option({
    env: ['VIRUSTOTAL_API_KEY', 'VT_API_KEY'],
    default: '(none)',
    help: 'Your VirusTotal API key. Without one the server starts and each call explains how to set it.',
    format: 'string',
    secret: true,
    parse: (raw) => given(raw),
  }),
  apiUrl: option({
    env: ['VIRUSTOTAL_API_URL'],
    default: 'https://www.virustotal.com/api/v3',
    help: 'Base URL of the VirusTotal API v3 (the tests point it at a local stand-in).',
    format: 'string',
    parse: (raw) => {
      const url = (given(raw) ?? 'https://www.virustotal.com/api/v3').replace(/\/+$/, '');
      let ok = false;
      try {
        ok = ['https:', 'http:'].includes(new URL(url).protocol);
      } catch {}
      if (!ok) throw new ConfigError(`VIRUSTOTAL_API_URL must be an http(s) URL; got "${url}".`);
      return url;
    },
  }),
  maxResponseChars: option({
    env: ['VT_MAX_RESPONSE_CHARS'],
    default: '24000',
    help: 'Upper bound on any one tool answer, its text and its structured content each.',
    format: 'number',
    parse: int('VT_MAX_RESPONSE_CHARS', 2_000, 1_000_000, 24_000),
  }),
  timeoutSeconds: option({
    env: ['VT_TIMEOUT_SECONDS'],
    default: '30',
    help: 'Timeout of one upstream HTTP request, in seconds.',
    format: 'number',
    parse: int('VT_TIMEOUT_SECONDS', 1, 600, 30),
  }),
  rateLimit: option({
    env: ['VT_RATE_LIMIT'],
    default: '4/60s (off with --demo)',
    help: 'Upstream requests allowed per window, as requests/seconds (e.g. 1000/60s), or "off". A public key allows 4/60s.',
    format: 'string',
    parse: (raw, ctx) => parseRateLimit(raw, ctx.demo),
  }),
  dailyQuota: option({
    env: ['VT_DAILY_QUOTA'],
    default: '500',
    help: 'Upstream requests allowed per UTC day (a public key allows 500), or "off".',
    format: 'string',
    parse: (raw) => {
      const v = given(raw);
      if (v !== undefined && OFF.test(v)) return undefined;
      if (v === '0') {
        throw new ConfigError(
          'VT_DAILY_QUOTA=0 would allow no request at all; write "off" for no daily cap.',
        );
      }
      return int('VT_DAILY_QUOTA', 1, 100_000_000, 500)(v);
    },
  }),
  maxConcurrency: option({
    env: ['VT_MAX_CONCURRENCY'],
    default: '4 at 4/60s; the window size up to 16 on a larger window; 16 with the limit off',
    help: 'Upstream requests in flight at once.',
    format: 'number',
    parse: (raw, ctx) => int('VT_MAX_CONCURRENCY', 1, 64, defaultConcurrency(ctx.rateLimit))(raw),
  }),
  maxWaitSeconds: option({
    env: ['VT_MAX_WAIT_SECONDS'],
    default: '90',
    help: 'Longest a call waits for the rate limit or VirusTotal back-off before it answers that the quota is busy.',
    format: 'number',
    parse: int('VT_MAX_WAIT_SECONDS', 0, 3600, 90),
  }),
  cacheTtlSeconds: option({
    env: ['VT_CACHE_TTL_SECONDS'],
    default: '3600',
    help: 'How long answers are cached (0 turns the cache off). Not-found answers are kept 5 minutes at most.',
    format: 'number',
    parse: int('VT_CACHE_TTL_SECONDS', 0, 30 * 86400, 3600),
  }),
  cacheMaxMb: option({
    env: ['VT_CACHE_MAX_MB'],
    default: '64',
    help: 'Upper bound on the cached responses, in MB of response bytes (kept outside the JS heap) plus per-entry overhead; least recently used goes first. The shared store (SQLite, Redis) has the same bound, counted on the bodies as stored (compressed, several times smaller).',
    format: 'number',
    parse: int('VT_CACHE_MAX_MB', 1, 16_384, 64),
  }),
  enableSubmissions: option({
    env: ['VT_ENABLE_SUBMISSIONS'],
    default: 'false',
    help: 'List the tools that submit URLs and files to VirusTotal (what you submit is shared with its community).',
    format: 'boolean',
    parse: (raw) => {
      const v = given(raw);
      if (v === undefined || /^(0|false|no|off)$/i.test(v)) return false;
      if (/^(1|true|yes|on)$/i.test(v)) return true;
      throw new ConfigError(`VT_ENABLE_SUBMISSIONS must be true or false; got "${raw}".`);
    },
  }),
  uploadDirs: option({
    env: ['VT_UPLOAD_DIRS'],
    default: '(none)',
    help: 'Directories vt_submit_file may read, separated by ":" (";" on Windows). Nothing else is ever read.',
    format: 'string',
    parse: (raw) => list(raw, process.platform === 'win32' ? /;/ : /:/),
  }),
  authTokens: option({
    env: ['VT_MCP_AUTH_TOKEN'],
    default: '(none)',
    help: 'Bearer token(s) for --transport http, comma-separated (one per client); required unless on loopback.',
    format: 'string',
    secret: true,
    parse: (raw) => list(raw),
  }),
  allowedHosts: option({
    env: ['VT_MCP_ALLOWED_HOSTS'],
    default: '(none)',
    help: 'Extra Host header values accepted over HTTP, with or without a port (e.g. a proxy name), comma-separated; needed only on loopback without a token.',
    format: 'string',
    parse: (raw) => list(raw),
  }),
  allowedOrigins: option({
    env: ['VT_MCP_ALLOWED_ORIGINS'],
    default: '(none)',
    help: 'Extra browser Origins accepted over HTTP, comma-separated.',
    format: 'string',
    parse: (raw) => list(raw),
  }),
  clientRate: option({
    env: ['VT_MCP_CLIENT_RATE'],
    default: '30',
    help: "Requests that can reach VirusTotal each HTTP client may make per minute: tool calls, report resources and its triage jobs' lookups together (following a job is not counted; 0: no limit).",
    format: 'number',
    parse: int('VT_MCP_CLIENT_RATE', 0, 100_000, 30),
  }),
  state: option({
    env: ['VT_STATE'],
    default: 'sqlite (memory with --demo)',
    help:
      'Where the quota counts and the cache live, shared by every process on the key: "sqlite" (a file in the ' +
      'user cache directory), "sqlite:/path/file.db", "redis://host:port/db" (or rediss://) for replicas, or "memory" (this process only).',
    format: 'string',
    parse: (raw, ctx) => {
      const v = given(raw) ?? (ctx.demo ? 'memory' : 'sqlite');
      try {
        parseStateSpec(v, { env: ctx.env });
      } catch (err) {
        if (err instanceof StateSpecError) throw new ConfigError(err.message);
        throw err;
      }
      return v;
    },
  }),
  triageKeepHours: option({
    env: ['VT_TRIAGE_KEEP_HOURS'],
    default: '24',
    help: 'How long a vt_triage job and its results are kept after it stops (finished, cancelled or paused), in hours.',
    format: 'number',
    parse: int('VT_TRIAGE_KEEP_HOURS', 1, 24 * 90, 24),
  }),
  triageRunningPerClient: option({
    env: ['VT_TRIAGE_RUNNING_PER_CLIENT'],
    default: '2',
    help: 'vt_triage jobs one client (an HTTP token; every stdio caller is one client) may have running at once.',
    format: 'number',
    parse: int('VT_TRIAGE_RUNNING_PER_CLIENT', 1, 1_000, 2),
  }),
  triageKeptPerClient: option({
    env: ['VT_TRIAGE_KEPT_PER_CLIENT'],
    default: '20',
    help: 'vt_triage jobs one client may have kept at once, finished ones included (they go VT_TRIAGE_KEEP_HOURS after they stop).',
    format: 'number',
    parse: int('VT_TRIAGE_KEPT_PER_CLIENT', 1, 10_000, 20),
  }),
  triageRunningMax: option({
    env: ['VT_TRIAGE_RUNNING_MAX'],
    default: '8',
    help: 'vt_triage jobs running at once, every client together; also how many one process works at a time.',
    format: 'number',
    parse: int('VT_TRIAGE_RUNNING_MAX', 1, 1_000, 8),
  }),
  triageKeptMax: option({
    env: ['VT_TRIAGE_KEPT_MAX'],
    default: '200',
    help: 'vt_triage jobs kept at once, every client together.',
    format: 'number',
    parse: int('VT_TRIAGE_KEPT_MAX', 1, 100_000, 200),
  }),
  triageIndicatorsMax: option({
    env: ['VT_TRIAGE_INDICATORS_MAX'],
    default: '50000',
    help: 'Indicators in every kept vt_triage job together (one job holds at most 1,000).',
    format: 'number',
    parse: int('VT_TRIAGE_INDICATORS_MAX', 1_000, 10_000_000, 50_000),
  }),
  triageStoreMb: option({
    env: ['VT_TRIAGE_STORE_MB'],
    default: '64',
    help: 'MB of the state store every kept vt_triage job may take together (their indicators and results).',
    format: 'number',
    parse: int('VT_TRIAGE_STORE_MB', 1, 65_536, 64),
  }),
  maxConnections: option({
    env: ['VT_MCP_MAX_CONNECTIONS'],
    default: '256',
    help:
      'Open HTTP connections accepted at once with --transport http; at the cap a new connection takes the place of ' +
      'the longest idle one that has carried no authenticated request, or is closed at once if there is none.',
    format: 'number',
    parse: int('VT_MCP_MAX_CONNECTIONS', 1, 65_536, 256),
  }),
  maxConnectionsPerAddress: option({
    env: ['VT_MCP_MAX_CONNECTIONS_PER_ADDRESS'],
    default: '32',
    help:
      'Open HTTP connections accepted at once from one address (an IPv6 /64 counts as one; loopback is exempt: a ' +
      'reverse proxy on this machine carries every client); behind a proxy on another machine, raise it to VT_MCP_MAX_CONNECTIONS.',
    format: 'number',
    parse: int('VT_MCP_MAX_CONNECTIONS_PER_ADDRESS', 1, 65_536, 32),
  }),
} satisfies Record<string, EnvOption>;

/** Every option, in the order help and the README list them. */
export const ENV_OPTIONS: EnvOption[] = Object.values(OPTIONS);

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
    const v = values as Record<string, string | boolean | undefined>;
    return {
      demo: v.demo === true,
      help: v.help === true,
      version: v.version === true,
      transport: (v.transport as string | undefined) ?? CLI.transport.default,
      host: v.host as string | undefined,
      port: v.port as string | undefined,
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
