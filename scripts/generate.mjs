#!/usr/bin/env node
/**
 * Writes the files that restate what the code already defines, so they cannot drift:
 *   - README.md, between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers
 *     (the configuration table, from src/config.ts's option table);
 *   - server.json, the MCP registry entry (name, version and variables from package.json and the options);
 *   - manifest.json, the Claude Desktop bundle's manifest (tools from the tool definitions).
 * `--check` writes nothing and exits 1 naming every stale file (test/generated.test.ts runs it in CI).
 * It reads the built code in dist/: run `npm run build` first (`npm test` does).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configTableMarkdown, OPTIONS } from '../dist/config.js';
import { READ_TOOLS, SUBMISSION_TOOLS } from '../dist/server/create-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));

/** The registry's schema revision this server.json follows (its documented fields; see test/registry.test.ts). */
export const SERVER_SCHEMA = 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json';

/** The one-line description the registry (100 characters at most) and the bundle show. */
export const SHORT_DESCRIPTION =
  'VirusTotal for AI assistants: compact reports, pivots, triage, rate limits handled.';

/** Options a stdio user sets; the VT_MCP_* ones concern --transport http and are not offered there. */
const STDIO_OPTIONS = Object.values(OPTIONS).filter((o) => !o.env[0].startsWith('VT_MCP_'));

/** A default a registry client can prefill; "(none)" and prose defaults are left out. */
function plainDefault(o) {
  return /^[\w./:-]+$/.test(o.default) && o.default !== '(none)' ? o.default : undefined;
}

export function serverJson() {
  return {
    $schema: SERVER_SCHEMA,
    name: pkg.mcpName,
    title: 'vtbrief: VirusTotal for AI assistants',
    description: SHORT_DESCRIPTION,
    repository: { url: pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, ''), source: 'github' },
    version: pkg.version,
    packages: [
      {
        registryType: 'npm',
        registryBaseUrl: 'https://registry.npmjs.org',
        identifier: pkg.name,
        version: pkg.version,
        runtimeHint: 'npx',
        transport: { type: 'stdio' },
        environmentVariables: STDIO_OPTIONS.map((o) => {
          const def = plainDefault(o);
          return {
            name: o.env[0],
            description: o.help,
            isRequired: o === OPTIONS.apiKey,
            isSecret: o.secret === true,
            format: o.format,
            ...(def !== undefined ? { default: def } : {}),
          };
        }),
      },
    ],
  };
}

/** The bundle asks for the key (sensitive) and, optionally, the two limits a premium key changes. */
const USER_CONFIG = [
  { key: 'api_key', option: OPTIONS.apiKey, title: 'VirusTotal API key', type: 'string', required: true },
  { key: 'rate_limit', option: OPTIONS.rateLimit, title: 'Rate limit', type: 'string', default: '4/60s' },
  { key: 'daily_quota', option: OPTIONS.dailyQuota, title: 'Daily quota', type: 'string', default: '500' },
];

export function manifestJson() {
  return {
    manifest_version: '0.3',
    name: pkg.name,
    display_name: 'vtbrief: VirusTotal',
    version: pkg.version,
    description: SHORT_DESCRIPTION,
    long_description: pkg.description,
    author: { name: pkg.author ?? 'the vtbrief authors' },
    repository: { type: 'git', url: pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '') },
    license: pkg.license,
    keywords: pkg.keywords,
    server: {
      type: 'node',
      entry_point: 'dist/index.js',
      mcp_config: {
        command: 'node',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the bundle host substitutes ${__dirname}.
        args: ['${__dirname}/dist/index.js'],
        env: Object.fromEntries(USER_CONFIG.map((u) => [u.option.env[0], `\${user_config.${u.key}}`])),
      },
    },
    tools: [...READ_TOOLS, ...SUBMISSION_TOOLS].map((t) => ({ name: t.name, description: t.title })),
    compatibility: { platforms: ['darwin', 'win32', 'linux'], runtimes: { node: pkg.engines.node } },
    user_config: Object.fromEntries(
      USER_CONFIG.map((u) => [
        u.key,
        {
          type: u.type,
          title: u.title,
          description: u.option.help,
          required: u.required === true,
          ...(u.option.secret ? { sensitive: true } : {}),
          ...(u.default !== undefined ? { default: u.default } : {}),
        },
      ]),
    ),
  };
}

const README_SECTIONS = {
  config: () => configTableMarkdown(),
};

export function readme(text) {
  let out = text;
  for (const [name, make] of Object.entries(README_SECTIONS)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const a = out.indexOf(open);
    const b = out.indexOf(close);
    if (a < 0 || b < a) throw new Error(`README.md lacks the ${open} … ${close} markers`);
    out = `${out.slice(0, a + open.length)}\n${make()}\n${out.slice(b)}`;
  }
  return out;
}

function main() {
  const check = process.argv.includes('--check');
  const json = (v) => `${JSON.stringify(v, null, 2)}\n`;
  const files = {
    'server.json': json(serverJson()),
    'manifest.json': json(manifestJson()),
    'README.md': readme(readFileSync(`${root}README.md`, 'utf8')),
  };
  const stale = [];
  for (const [name, want] of Object.entries(files)) {
    let have = '';
    try {
      have = readFileSync(`${root}${name}`, 'utf8');
    } catch {}
    if (have === want) continue;
    stale.push(name);
    if (!check) writeFileSync(`${root}${name}`, want);
  }
  if (check && stale.length > 0) {
    console.error(`stale: ${stale.join(', ')}; run "npm run generate" and commit the result.`);
    process.exit(1);
  }
  console.log(stale.length === 0 ? 'generated files are up to date' : `wrote ${stale.join(', ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
