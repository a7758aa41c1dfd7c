/**
 * The options table: every environment option defined once, with its names, its default, its help line
 * and how it is parsed. config.ts reads the environment with it and prints it for --help; the README's
 * configuration table, server.json and the bundle's manifest are generated from it (scripts/generate.mjs).
 */
import {
  ConfigError,
  defaultConcurrency,
  given,
  int,
  list,
  OFF,
  type ParseContext,
  parseRateLimit,
} from './config-values.js';
import { parseStateSpec, StateSpecError } from './vt/state/open.js';

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
