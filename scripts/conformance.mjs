#!/usr/bin/env node
/**
 * Runs the MCP conformance suite's server scenarios that fit any server against vtbrief over
 * Streamable HTTP (demo data, loopback), in two passes on one server process:
 *
 *   - the 2025 revisions: @modelcontextprotocol/conformance@0.1.16, the scenarios in SCENARIOS_2025;
 *   - the 2026-07-28 revision: @modelcontextprotocol/conformance@0.2.0-alpha.12, each scenario in
 *     SCENARIOS_2026 run with `--spec-version 2026-07-28` (the 2026 wire: no initialize, a `_meta`
 *     envelope and the Mcp-* headers on every request). A scenario the runner skips at that version
 *     prints no result and counts as a failure.
 *
 * The 2026-07-28 server scenarios of 0.2.0-alpha.12 (`conformance list --server --spec-version
 * 2026-07-28`) left out, all because they need the suite's own fixtures (tools, resources, prompts of
 * given names) that no server but a test server has:
 *   - server-stateless: 24 of its 28 checks pass; the other 4 (sep-2575-server-rejects-undeclared-
 *     capability, sep-2575-missing-capability-http-400, sep-2575-http-server-no-independent-requests-on-
 *     stream, sep-2575-server-no-log-without-loglevel) are "not testable" without the diagnostic tools
 *     test_missing_capability, test_streaming_elicitation and test_logging_tool, and fail as such;
 *   - completion-complete: prompt test_prompt_with_arguments, and the completions capability (vtbrief
 *     offers no completions: completion/complete is "Method not found");
 *   - tools-call-simple-text, -image, -audio, -embedded-resource, -mixed-content, -error, -with-progress,
 *     json-schema-2020-12: tools test_simple_text, …, json_schema_2020_12_tool;
 *   - resources-read-text, resources-read-binary, resources-templates-read: resources test://static-text,
 *     test://static-binary, test://template/{id}/data;
 *   - prompts-get-simple, -with-args, -embedded-resource, -with-image: prompts test_simple_prompt, …;
 *   - http-custom-header-server-validation: a tool whose input schema declares x-mcp-header parameters
 *     (vtbrief has none; its 5 checks are "not testable" and fail);
 *   - input-required-result-* but unsupported-methods: tools test_input_required_result_*. Three of them
 *     (missing-input-response, ignore-extra-params, validate-input) exit 0 against any server, but only
 *     because their one real check turns into a warning, or passes on the -32602 of an unknown tool: a
 *     pass there would say nothing, so they are not run.
 * The tasks-* scenarios belong to the tasks extension, not to the revision (at --spec-version 2026-07-28
 * the runner skips them unless --force), and need the fixture tools greet, slow_compute, failing_job
 * and protocol_error_job.
 *
 * The server runs with VT_MCP_CLIENT_RATE=0: the suite's requests are one client's, and the default 30
 * tool calls and report reads a minute would answer some of them 429 (a guard, not a protocol matter).
 * The suite runs on the Node that runs this script (22 or later, as the package itself needs:
 * scripts/use-node.sh puts it on PATH). One line per scenario (PASS or FAIL, the checks passed and any
 * warnings), then the count; exits 1 on any failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

const SCENARIOS_2025 = [
  'server-initialize',
  'ping',
  'tools-list',
  'logging-set-level',
  'resources-list',
  'prompts-list',
  'dns-rebinding-protection',
];

const SCENARIOS_2026 = [
  'tools-list',
  'resources-list',
  'prompts-list',
  'caching',
  'http-header-validation',
  'dns-rebinding-protection',
  'sep-2164-resource-not-found',
  'server-sse-multiple-streams',
  'input-required-result-unsupported-methods',
];

const PASSES = [
  { label: '', pkg: '@modelcontextprotocol/conformance@0.1.16', args: [], scenarios: SCENARIOS_2025 },
  {
    label: '2026-07-28 ',
    pkg: '@modelcontextprotocol/conformance@0.2.0-alpha.12',
    args: ['--spec-version', '2026-07-28'],
    scenarios: SCENARIOS_2026,
  },
];

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});

const server = spawn(
  process.execPath,
  ['dist/index.js', '--demo', '--transport', 'http', '--port', String(port)],
  {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, VT_MCP_CLIENT_RATE: '0' },
  },
);
let serverLog = '';
server.stderr.on('data', (d) => {
  serverLog += d;
});

const url = `http://127.0.0.1:${port}/mcp`;
for (let i = 0; i < 50; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 100));
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the suite colours its output.
const ANSI = /\x1b\[[0-9;]*m/g;
let total = 0;
let failed = 0;
for (const pass of PASSES) {
  for (const scenario of pass.scenarios) {
    total++;
    const r = spawnSync(
      'npx',
      [
        '-y',
        '-p',
        pass.pkg,
        '-c',
        ['conformance server', '--url', url, '--scenario', scenario, ...pass.args].join(' '),
      ],
      { encoding: 'utf8', timeout: 180_000 },
    );
    const out = `${r.stdout}\n${r.stderr}`.replace(ANSI, '');
    const m = /Passed: (\d+)\/(\d+), (\d+) failed(?:, (\d+) warnings?)?/.exec(out);
    const ok = r.status === 0 && m && m[3] === '0' && m[1] === m[2];
    if (!ok) failed++;
    const warnings = m && Number(m[4] ?? 0) > 0 ? `, ${m[4]} warning${m[4] === '1' ? '' : 's'}` : '';
    process.stdout.write(
      `${ok ? 'PASS' : 'FAIL'} ${pass.label}${scenario}${m ? ` (${m[1]}/${m[2]} checks${warnings})` : ''}\n`,
    );
    if (!ok) process.stdout.write(`${out.slice(-3000)}\n`);
  }
}
server.kill();
if (failed > 0) process.stdout.write(`server log:\n${serverLog}\n`);
process.stdout.write(`conformance: ${total - failed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);
