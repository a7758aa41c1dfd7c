#!/usr/bin/env node
/**
 * Writes the files that restate what the code already defines, so they cannot drift:
 *   - README.md, between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers: the
 *     configuration table (from src/config-options.ts's table); the tool list (every tool as tools/list
 *     shows it, the write tools included: title, hints, description, parameters); the example answers, each the real
 *     answer of the built server in demo mode to the call shown above it, driven through an MCP client
 *     (bench/harness.mjs); the answer sizes (bench/sizes.mjs, exact over the recordings); and the
 *     timing figures of the benchmark report committed in docs/BENCHMARKS.md;
 *   - server.json, the MCP registry entry (name, version and variables from package.json and the options);
 *   - manifest.json, the Claude Desktop bundle's manifest (tools from the tool definitions).
 * `--check` writes nothing and exits 1 naming every stale file (test/publishing.test.ts runs it in CI).
 * It reads the built code in dist/: run `npm run build` first (`npm test` and `npm run generate` do).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmt, startClient, textOf } from '../bench/harness.mjs';
import { figuresOf } from '../bench/run.mjs';
import { answerSizes, fixedCost, reportSizes } from '../bench/sizes.mjs';
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

/**
 * The README's example calls, by section: each is answered by a fresh demo server (so no answer depends
 * on another's cache) and printed whole, or cut after `lines` lines with a counted marker.
 */
export const EXAMPLES = {
  'example-report': [{ tool: 'vt_get_report', args: { indicator: 'e2a52f78fc1dc2eb561fd5d77892d642' } }],
  'example-unknown': [{ tool: 'vt_get_report', args: { indicator: '8.8.8.8' } }],
  'example-triage': [
    {
      tool: 'vt_triage',
      args: {
        indicators:
          'From the ticket: hxxp://example[.]com, github[.]com, 1.1.1[.]1, e2a52f78fc1dc2eb561fd5d77892d642 (invoice.pdf)',
      },
    },
  ],
  'example-relationships': [
    { tool: 'vt_get_relationships', args: { indicator: '1.1.1.1', relationship: 'resolutions', limit: 3 } },
    {
      tool: 'vt_get_relationships',
      args: {
        indicator: '03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b',
        relationships: ['contacted_domains', 'contacted_ips', 'dropped_files'],
      },
    },
  ],
  'example-search': [
    { tool: 'vt_search', args: { query: 'imphash:f34d5f2d4577ed6d9ceec516c1f5a744', limit: 3 } },
    { tool: 'vt_search', args: { query: 'entity:url hostname:example.com', limit: 3 } },
  ],
  'example-behaviour': [
    {
      tool: 'vt_get_behaviour',
      args: { indicator: '03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b' },
      lines: 16,
    },
  ],
};

/** Stands for the time in "Source: VirusTotal, fetched <time>." lines, which differs on every call. */
export const FETCH_TIME = '<fetch time>';
/** Stands for a triage job's id, which is random. */
export const JOB_ID = 'JOBID';

/** One example: the call as `> tool {json}` and the demo's answer, in a fence no answer can close. */
async function example({ tool, args, lines }) {
  const s = await startClient({ demo: true });
  let answer;
  try {
    answer = textOf(await s.call(tool, args));
  } finally {
    await s.close();
  }
  answer = answer.replace(
    /(Source: VirusTotal, fetched )\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g,
    `$1${FETCH_TIME}`,
  );
  // A job id is random: the example shows where it stands (and follows it) without one.
  const job = /Triage job ([a-z0-9]{12}) /.exec(answer)?.[1];
  if (job) answer = answer.replaceAll(job, JOB_ID);
  let shown = answer.split('\n');
  if (lines !== undefined && shown.length > lines + 1) {
    shown = [...shown.slice(0, lines), `(… ${shown.length - lines} more lines)`];
  }
  const longest = Math.max(2, ...[...answer.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return [fence, `> ${tool} ${JSON.stringify(args)}`, ...shown, fence].join('\n');
}

async function examples(name) {
  const blocks = [];
  for (const e of EXAMPLES[name]) blocks.push(await example(e));
  return blocks.join('\n\n');
}

const kb = (bytes) => `${fmt(bytes / 1024)} KB`;

/** Measured once per run: the sizes over the recordings (exact) and the committed benchmark's timings. */
let measured;
async function measurements() {
  if (measured) return measured;
  const bench = readFileSync(`${root}docs/BENCHMARKS.md`, 'utf8');
  const timing = figuresOf(bench);
  if (!timing) throw new Error('docs/BENCHMARKS.md has no figures: run "npm run bench -- --write"');
  const budgets = readFileSync(`${root}test/tool-list.test.ts`, 'utf8');
  const budget = (name) => {
    const m = new RegExp(`${name} = ([\\d_]+)`).exec(budgets);
    if (!m) throw new Error(`test/tool-list.test.ts no longer defines ${name}`);
    return Number(m[1].replace(/_/g, ''));
  };
  measured = {
    fixed: await fixedCost(),
    reports: await reportSizes(),
    answers: await answerSizes(),
    timing,
    budget: budget('FIXED_COST_BUDGET'),
    budgetWithSubmissions: budget('WITH_SUBMISSIONS_BUDGET'),
  };
  return measured;
}

/** The "small answers" claim of the introduction, from the same measurement as the table below. */
async function reportSize() {
  const { reports } = await measurements();
  return (
    `over the ${reports.rows.length} objects recorded for the demo, a report is ${fmt(reports.concise.median)} ` +
    `characters at the median and ${fmt(reports.concise.max)} at most (the demo's banner line aside), where ` +
    `VirusTotal's JSON is ${kb(reports.raw.median)} at the median and up to ${kb(reports.raw.max)}`
  );
}

/** A paragraph (or a list item, continued under `indent`) cut into lines of at most `width` characters. */
function wrap(text, indent = '', width = 110) {
  const lines = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

async function measurementsSection() {
  const { fixed, reports, answers, timing: t, budget, budgetWithSubmissions } = await measurements();
  const rel = answers.byTool.vt_get_relationships;
  const search = answers.byTool.vt_search;
  const beh = answers.byTool.vt_get_behaviour;
  const x = (r) => `${r.toFixed(2)}×`;
  return [
    wrap(
      `**Fixed cost**: what a client shows the model before its first call (each read tool's name, title, description and input schema, and the server instructions): ` +
        `**${fmt(fixed.total)} characters** (\`test/tool-list.test.ts\` fails at ${fmt(budget)}). With the ` +
        `${fixed.submissionTools} submission tools enabled: ${fmt(fixed.withSubmissions)} (budget ${fmt(budgetWithSubmissions)}).`,
    ),
    '',
    wrap(
      `**Report size** over the ${reports.rows.length} recorded file, URL, domain and IP objects ` +
        '(characters; raw JSON minified):',
    ),
    '',
    '|        | raw JSON | concise text | detailed text | upstream requests |',
    '| ------ | -------: | -----------: | ------------: | ----------------: |',
    `| median | ${fmt(reports.raw.median)} | ${fmt(reports.concise.median)} | ${fmt(reports.detailed.median)} | ${reports.requests.median} |`,
    `| max | ${fmt(reports.raw.max)} | ${fmt(reports.concise.max)} | ${fmt(reports.detailed.max)} | ${reports.requests.max} |`,
    '',
    wrap(
      `**Relationships, search, behaviour** (10 items per page): the ${rel.answers} recorded relationship ` +
        `pages (up to ${kb(rel.maxBytes)} of JSON) come out at ${fmt(rel.median)} characters at the median and ` +
        `${fmt(rel.max)} at most; the ${search.answers} recorded searches at ${fmt(search.median)} (at most ` +
        `${fmt(search.max)}); the ${kb(beh.maxBytes)} behaviour summary at ${fmt(beh.max)}.`,
    ),
    '',
    wrap(
      `Timings, from the run in [\`docs/BENCHMARKS.md\`](docs/BENCHMARKS.md) (node ${t.node}, ${t.cores} ` +
        `cores, ${t.date}):`,
    ),
    '',
    wrap(
      `- **Mediation** (no rate limit, 8 concurrent): 200 lookups through the server take ` +
        `${x(t.mediationRatio)} as long as 200 direct HTTP requests to the stand-in; a cache hit takes ` +
        `${x(t.cacheHitRatio)} the time of an upstream lookup.`,
      '  ',
    ),
    ...(t.coldStartMemoryRatio === undefined
      ? []
      : [
          wrap(
            `- **Cold start** (spawn to the answer to \`initialize\` over stdio): ${x(t.coldStartMemoryRatio)} the ` +
              `time of a minimal SDK v2 server with one tool on VT_STATE=memory, ${x(t.coldStartSqliteRatio)} on the ` +
              'default SQLite file' +
              (t.coldStartMemoryNoCacheRatio === undefined
                ? '.'
                : ` (${x(t.coldStartMemoryNoCacheRatio)} and ${x(t.coldStartSqliteNoCacheRatio)} without Node's ` +
                  'module compile cache, which the bin turns on).'),
            '  ',
          ),
        ]),
    ...(t.missSqliteToMemory === undefined
      ? []
      : [
          wrap(
            `- **What a miss costs the store**: 200 distinct lookups through the bin (8 in flight, an upstream ` +
              `that answers at once) take ${x(t.missSqliteToMemory)} the time on SQLite` +
              (t.missRedisToMemory === undefined ? '' : ` and ${x(t.missRedisToMemory)} on Redis`) +
              ` that they take on memory; the server's CPU per lookup is ${t.missCpuSqliteMs.toFixed(2)} ms on ` +
              `SQLite and ${t.missCpuMemoryMs.toFixed(2)} ms on memory` +
              (t.txPerMiss === undefined
                ? ''
                : `, with ${t.txPerMiss.toFixed(1)} write transactions per lookup on SQLite`) +
              `; the SQLite file holds ${fmt(t.stateFileLookups)} lookups in ${fmt(t.stateFileClosedMb ?? t.stateFileMb)} MB` +
              (t.stateFileClosedMb !== undefined
                ? ` (${fmt(t.stateFileMb)} MB with its -wal while the server runs).`
                : '.'),
            '  ',
          ),
        ]),
    wrap(
      `- **HTTP**: 50 concurrent clients × 20 calls on cached data: ${fmt(t.httpOk)} of ${fmt(t.httpCalls)} ` +
        `succeed (clients and server on the same machine); p50 ${fmt(t.httpP50)} ms and p99 ${fmt(t.httpP99)} ms ` +
        `per call, ${fmt(t.httpPerSecond)} calls/s; the server's peak memory ${fmt(t.httpPeakMb)} MB ` +
        `(${fmt(t.httpIdleMb)} MB before the load).`,
      '  ',
    ),
    ...(t.httpCost2025Ratio === undefined
      ? []
      : [
          wrap(
            `- **HTTP against a minimal server**: the same load on one cached report, against a minimal SDK v2 HTTP ` +
              `server whose one tool answers 1 KB (ours answers about 6 KB): ${x(t.httpCost2025Ratio)} its calls per ` +
              `second for 2025 clients and ${x(t.httpCost2026Ratio)} for 2026-07-28 clients; p99 ` +
              `${x(t.httpCost2025P99Ratio)} and ${x(t.httpCost2026P99Ratio)} of its own; server CPU per call ` +
              `${t.httpCost2025CpuMs.toFixed(2)} ms against ${t.httpCost2025MinimalCpuMs.toFixed(2)} ms.`,
            '  ',
          ),
        ]),
    ...(t.connect2025StdioMs === undefined
      ? []
      : [
          wrap(
            `- **Connect by protocol era** (the SDK v2 client, until its first tools/list has answered): over stdio ` +
              `${fmt(t.connect2025StdioMs)} ms for a 2025 client and ${fmt(t.connect2026StdioMs)} ms for one pinned ` +
              `to 2026-07-28 (the client starts a throw-away server process to probe for the revision first); over ` +
              `HTTP ${fmt(t.connect2025HttpMs)} ms and ${fmt(t.connect2026HttpMs)} ms.`,
            '  ',
          ),
        ]),
    wrap(
      `- **Memory**: ${fmt(t.memoryLookups)} distinct lookups through the bin raise its peak resident set ` +
        `${fmt(t.memoryOnMb)} MB above the warmed-up baseline at the default ${fmt(t.memoryCacheMb)} MB cache ` +
        `(${x(t.memoryOnMb / t.memoryCacheMb)} the setting), and ${fmt(t.memoryOffMb)} MB with the cache off.`,
      '  ',
    ),
  ].join('\n');
}

/** A JSON Schema (draft 7, as tools/list gives it) in a few words: type, allowed values and bounds. */
function schemaWords(s, plural = false) {
  if (!s || typeof s !== 'object') return plural ? 'values' : 'any value';
  if (Array.isArray(s.anyOf)) return s.anyOf.map((x) => schemaWords(x, plural)).join(', or ');
  const n = (v) => fmt(v);
  if (Array.isArray(s.enum))
    return `${plural ? 'each ' : ''}one of ${s.enum.map((v) => `\`${v}\``).join(', ')}`;
  if (s.type === 'array') {
    const lo = s.minItems ?? 0;
    const count =
      s.maxItems !== undefined
        ? lo > 0
          ? `${n(lo)} to ${n(s.maxItems)} `
          : `up to ${n(s.maxItems)} `
        : lo > 0
          ? `at least ${n(lo)} `
          : '';
    return `a list of ${count}${schemaWords(s.items, true)}`;
  }
  const name =
    { string: 'string', integer: 'integer', number: 'number', boolean: 'boolean' }[s.type] ?? 'value';
  const bounds = [];
  if (s.minLength > 0 && s.maxLength !== undefined)
    bounds.push(`of ${n(s.minLength)} to ${n(s.maxLength)} characters`);
  else if (s.maxLength !== undefined) bounds.push(`of at most ${n(s.maxLength)} characters`);
  else if (s.minLength > 0) bounds.push(`of at least ${n(s.minLength)} characters`);
  if (s.minimum !== undefined && s.maximum !== undefined)
    bounds.push(`from ${n(s.minimum)} to ${n(s.maximum)}`);
  else if (s.minimum !== undefined) bounds.push(`of at least ${n(s.minimum)}`);
  else if (s.maximum !== undefined) bounds.push(`of at most ${n(s.maximum)}`);
  return [plural ? `${name}s` : `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`, ...bounds].join(' ');
}

/** The hints a client reads, in words. */
function hintWords(a = {}) {
  return [
    a.readOnlyHint ? 'read-only' : 'writes',
    ...(a.destructiveHint ? ['destructive'] : []),
    ...(a.idempotentHint ? ['idempotent'] : []),
    ...(a.openWorldHint ? ['open world'] : []),
  ].join(', ');
}

/** A description in one line: its first sentence, or the part before a colon when that is long. */
function oneLine(text) {
  const sentence = /^(.+?\.)(\s|$)/.exec(text)?.[1] ?? text;
  if (sentence.length <= 160) return sentence;
  const head = /^([^:]+):\s/.exec(sentence)?.[1];
  return head ? `${head}.` : sentence;
}

/**
 * The tool list: every tool as tools/list shows it to the model, from a server with the write tools
 * enabled: a table (name, title, hints, first sentence), then each tool's whole description and
 * parameters with their documentation. Nothing here is written by hand.
 */
async function toolList() {
  const s = await startClient({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
  let tools;
  try {
    tools = (await s.client.listTools()).tools;
  } finally {
    await s.close();
  }
  const writes = new Set(SUBMISSION_TOOLS.map((t) => t.name));
  const cell = (v) => String(v).replace(/\|/g, '\\|').replace(/\s+/g, ' ');
  const lines = [
    '| Tool | Title | Hints | What it does |',
    '| ---- | ----- | ----- | ------------ |',
    ...tools.map(
      (t) =>
        `| \`${t.name}\` | ${cell(t.title ?? '')} | ${hintWords(t.annotations)}${
          writes.has(t.name) ? '; only with `VT_ENABLE_SUBMISSIONS=true`' : ''
        } | ${cell(oneLine(t.description ?? ''))} |`,
    ),
  ];
  for (const t of tools) {
    const props = Object.entries(t.inputSchema.properties ?? {});
    const required = new Set(t.inputSchema.required ?? []);
    lines.push(
      '',
      '<details>',
      `<summary><code>${t.name}</code>: ${cell(t.title ?? '')}, its description and parameters</summary>`,
      '',
      wrap(t.description ?? ''),
      '',
      ...(props.length === 0
        ? ['No parameters.']
        : props.map(([name, p]) => {
            const extras = [
              required.has(name) ? 'required' : 'optional',
              ...(p.default !== undefined ? [`default \`${JSON.stringify(p.default)}\``] : []),
            ];
            const doc = p.description ? ` ${p.description}` : '';
            return wrap(`- \`${name}\` (${extras.join(', ')}): ${schemaWords(p)}.${doc}`, '  ');
          })),
      '',
      '</details>',
    );
  }
  return lines.join('\n');
}

/** README sections: `inline` ones sit inside a sentence, the others on lines of their own. */
const README_SECTIONS = {
  config: { make: () => configTableMarkdown() },
  tools: { make: toolList },
  'report-size': { make: reportSize, inline: true },
  ...Object.fromEntries(Object.keys(EXAMPLES).map((name) => [name, { make: () => examples(name) }])),
  measurements: { make: measurementsSection },
};

export async function readme(text) {
  let out = text;
  for (const [name, { make, inline }] of Object.entries(README_SECTIONS)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const a = out.indexOf(open);
    const b = out.indexOf(close);
    if (a < 0 || b < a) throw new Error(`README.md lacks the ${open} … ${close} markers`);
    const body = await make();
    // A marker inside a section (an answer quoting one, say) would move the section's end next time.
    if (/<!-- \/?generated:/.test(body))
      throw new Error(`the ${name} section would contain a generated marker`);
    out = `${out.slice(0, a + open.length)}${inline ? body : `\n${body}\n`}${out.slice(b)}`;
  }
  return out;
}

/** The text with each "(analysed <date>, N … ago)" read as the same. */
const ageless = (text) =>
  text.replace(/(\(analysed \d{4}-\d\d-\d\d), \d+ (?:days|months|years) ago\)/g, '$1, <age> ago)');

async function main() {
  const check = process.argv.includes('--check');
  const json = (v) => `${JSON.stringify(v, null, 2)}\n`;
  const files = {
    'server.json': json(serverJson()),
    'manifest.json': json(manifestJson()),
    'README.md': await readme(readFileSync(`${root}README.md`, 'utf8')),
  };
  const stale = [];
  for (const [name, want] of Object.entries(files)) {
    let have = '';
    try {
      have = readFileSync(`${root}${name}`, 'utf8');
    } catch {}
    // The examples' verdict ages grow with the calendar: a file is stale for what it says, not for that.
    if (have === want || (check && ageless(have) === ageless(want))) continue;
    stale.push(name);
    if (!check) writeFileSync(`${root}${name}`, want);
  }
  if (check && stale.length > 0) {
    console.error(`stale: ${stale.join(', ')}; run "npm run generate" and commit the result.`);
    process.exit(1);
  }
  console.log(stale.length === 0 ? 'generated files are up to date' : `wrote ${stale.join(', ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
