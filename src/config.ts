/**
 * Configuration from the environment and the command line.
 * One table describes every option, so `--help` and the README cannot drift apart.
 */

export interface Config {
  apiKey: string | undefined;
  apiUrl: string;
  maxResponseChars: number;
  timeoutMs: number;
  demo: boolean;
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

export function loadConfig(env: NodeJS.ProcessEnv, argv: string[]): Config {
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
    demo: argv.includes('--demo'),
  };
}

export function helpText(version: string): string {
  const lines = [
    `vt-mcp ${version}: a Model Context Protocol server for VirusTotal.`,
    '',
    'Usage: vt-mcp [--demo] [--help] [--version]',
    '',
    '  --demo      Serve recorded VirusTotal responses bundled with the package (no key, no network).',
    '  --help      Print this help.',
    '  --version   Print the version.',
    '',
    'The server speaks MCP on stdio. Configuration comes from the environment:',
    '',
  ];
  for (const o of ENV_OPTIONS) {
    lines.push(`  ${o.env.join(' or ')}`);
    lines.push(`      ${o.help} Default: ${o.default}.`);
  }
  return `${lines.join('\n')}\n`;
}
