/**
 * Configuration from the environment and the command line.
 * One table describes every option, so `--help` and the README cannot drift apart.
 */
import { parseArgs } from 'node:util';

/** How --transport http listens and whom it lets in. */
export interface HttpSettings {
  host: string;
  port: number;
  /** Accepted bearer tokens, one per client or team member; required whenever host is not loopback. */
  authTokens: string[];
  /** Extra Host header values and Origins to accept (e.g. a reverse proxy's name). */
  allowedHosts: string[];
  allowedOrigins: string[];
  /** tools/call requests each client may make per minute (0: no limit). */
  clientCallsPerMinute: number;
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
}

interface EnvOption {
  env: string[];
  default: string;
  help: string;
}

export const ENV_OPTIONS: EnvOption[] = [
  { env: ['VIRUSTOTAL_API_KEY', 'VT_API_KEY'], default: '(none)', help: 'Your VirusTotal API key.' },
  {
    env: ['VIRUSTOTAL_API_URL'],
    default: 'https://www.virustotal.com/api/v3',
    help: 'Base URL of the VirusTotal API v3.',
  },
  {
    env: ['VT_MAX_RESPONSE_CHARS'],
    default: '24000',
    help: 'Upper bound on the text of any one tool answer.',
  },
  { env: ['VT_TIMEOUT_SECONDS'], default: '30', help: 'Timeout of one upstream HTTP request.' },
  {
    env: ['VT_RATE_LIMIT'],
    default: '4/60s (off with --demo)',
    help: 'Upstream requests allowed per window, as <requests>/<seconds>s, or "off". A public key allows 4/60s.',
  },
  {
    env: ['VT_DAILY_QUOTA'],
    default: '500',
    help: 'Upstream requests allowed per UTC day (a public key allows 500), or "off".',
  },
  { env: ['VT_MAX_CONCURRENCY'], default: '4', help: 'Upstream requests in flight at once.' },
  {
    env: ['VT_MAX_WAIT_SECONDS'],
    default: '90',
    help: 'Longest a call waits for the rate limit or VT backoff before it answers that the quota is busy.',
  },
  {
    env: ['VT_CACHE_TTL_SECONDS'],
    default: '3600',
    help: 'How long answers are cached (0 disables the cache). Not-found answers are kept 5 minutes at most.',
  },
  { env: ['VT_CACHE_MAX_MB'], default: '64', help: 'Upper bound on the memory the cache holds.' },
  {
    env: ['VT_ENABLE_SUBMISSIONS'],
    default: 'false',
    help: 'List the tools that submit URLs and files to VirusTotal (what you submit is shared with its community).',
  },
  {
    env: ['VT_UPLOAD_DIRS'],
    default: '(none)',
    help: 'Directories vt_submit_file may read, separated by ":" (";" on Windows). Nothing else is ever read.',
  },
  {
    env: ['VT_MCP_AUTH_TOKEN'],
    default: '(none)',
    help: 'Bearer token(s) for --transport http, comma-separated (one per client); required unless on loopback.',
  },
  {
    env: ['VT_MCP_ALLOWED_HOSTS'],
    default: '(none)',
    help: 'Extra Host header values accepted over HTTP (e.g. a proxy name), comma-separated.',
  },
  { env: ['VT_MCP_ALLOWED_ORIGINS'], default: '(none)', help: 'Extra browser Origins accepted over HTTP.' },
  {
    env: ['VT_MCP_CLIENT_RATE'],
    default: '30',
    help: 'Tool calls each HTTP client may make per minute, so no one client spends the whole team quota.',
  },
];

export class ConfigError extends Error {}

function intFrom(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got "${raw}".`);
  }
  return value;
}

export interface CliFlags {
  demo: boolean;
  help: boolean;
  version: boolean;
  transport: string;
  host: string;
  port: string;
}

/** Parses the command line; unknown options are an error that names the known ones. */
export function parseCli(argv: string[]): CliFlags {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        demo: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
        transport: { type: 'string', default: 'stdio' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '3000' },
      },
    });
    return values as CliFlags;
  } catch (err) {
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)} See --help.`);
  }
}

function list(raw: string | undefined, sep: RegExp = /,/): string[] {
  return (raw ?? '')
    .split(sep)
    .map((x) => x.trim())
    .filter(Boolean);
}

export function loadConfig(env: NodeJS.ProcessEnv, argv: string[]): Config {
  const cli = parseCli(argv);
  const demo = cli.demo;
  if (cli.transport !== 'stdio' && cli.transport !== 'http') {
    throw new ConfigError(`--transport must be stdio or http; got "${cli.transport}".`);
  }
  const key = (env.VIRUSTOTAL_API_KEY ?? env.VT_API_KEY ?? '').trim();
  const apiUrl = (env.VIRUSTOTAL_API_URL ?? 'https://www.virustotal.com/api/v3').trim().replace(/\/+$/, '');
  try {
    const u = new URL(apiUrl);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error();
  } catch {
    throw new ConfigError(`VIRUSTOTAL_API_URL must be an http(s) URL; got "${apiUrl}".`);
  }
  return {
    apiKey: key === '' ? undefined : key,
    apiUrl,
    maxResponseChars: intFrom('VT_MAX_RESPONSE_CHARS', env.VT_MAX_RESPONSE_CHARS, 24_000, 2_000, 1_000_000),
    timeoutMs: intFrom('VT_TIMEOUT_SECONDS', env.VT_TIMEOUT_SECONDS, 30, 1, 600) * 1000,
    rateLimit: parseRateLimit(env.VT_RATE_LIMIT, demo),
    dailyQuota: isOff(env.VT_DAILY_QUOTA)
      ? undefined
      : intFrom('VT_DAILY_QUOTA', env.VT_DAILY_QUOTA, 500, 1, 100_000_000),
    maxConcurrency: intFrom('VT_MAX_CONCURRENCY', env.VT_MAX_CONCURRENCY, 4, 1, 64),
    maxWaitMs: intFrom('VT_MAX_WAIT_SECONDS', env.VT_MAX_WAIT_SECONDS, 90, 0, 3600) * 1000,
    cacheTtlMs: intFrom('VT_CACHE_TTL_SECONDS', env.VT_CACHE_TTL_SECONDS, 3600, 0, 30 * 86400) * 1000,
    cacheMaxMb: intFrom('VT_CACHE_MAX_MB', env.VT_CACHE_MAX_MB, 64, 1, 16_384),
    demo,
    transport: cli.transport,
    http: {
      host: cli.host,
      port: intFrom('--port', cli.port, 3000, 0, 65_535),
      authTokens: list(env.VT_MCP_AUTH_TOKEN),
      allowedHosts: list(env.VT_MCP_ALLOWED_HOSTS),
      allowedOrigins: list(env.VT_MCP_ALLOWED_ORIGINS),
      clientCallsPerMinute: intFrom('VT_MCP_CLIENT_RATE', env.VT_MCP_CLIENT_RATE, 30, 0, 100_000),
    },
    enableSubmissions: /^(1|true|yes|on)$/i.test(env.VT_ENABLE_SUBMISSIONS?.trim() ?? ''),
    uploadDirs: list(env.VT_UPLOAD_DIRS, process.platform === 'win32' ? /;/ : /:/),
  };
}

function isOff(raw: string | undefined): boolean {
  return raw !== undefined && /^(off|none|false|0)$/i.test(raw.trim());
}

/** "4/60s" (also "4/60", "4/1m") → 4 per 60 s; "off" → no limiter. The demo defaults to off. */
export function parseRateLimit(raw: string | undefined, demo = false): Config['rateLimit'] {
  if (raw === undefined || raw.trim() === '') return demo ? undefined : { requests: 4, seconds: 60 };
  if (isOff(raw)) return undefined;
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*(s|m|min)?\s*$/i.exec(raw);
  const requests = m ? Number(m[1]) : Number.NaN;
  const seconds = m ? Number(m[2]) * (m[3] && /^m/i.test(m[3]) ? 60 : 1) : Number.NaN;
  if (!m || requests < 1 || seconds < 1 || requests > 100_000 || seconds > 86_400) {
    throw new ConfigError(
      `VT_RATE_LIMIT must look like 4/60s (requests per seconds) or "off"; got "${raw}".`,
    );
  }
  return { requests, seconds };
}

export function helpText(version: string): string {
  const lines = [
    `vtbrief ${version}: a Model Context Protocol server for VirusTotal.`,
    '',
    'Usage: vtbrief [--demo] [--transport stdio|http] [--host 127.0.0.1] [--port 3000] [--help] [--version]',
    '',
    '  --demo         Serve recorded VirusTotal responses bundled with the package (no key, no network).',
    '  --transport    stdio (default), or http: stateless Streamable HTTP at /mcp, with /healthz.',
    '  --host         Address to listen on with --transport http (default 127.0.0.1).',
    '  --port         Port to listen on with --transport http (default 3000).',
    '  --help         Print this help.',
    '  --version      Print the version.',
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
