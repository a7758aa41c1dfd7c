/**
 * Answer sizes over the recordings: exact and the same on every run, so scripts/generate.mjs prints
 * them in the README (checked in CI) and bench/run.mjs prints them in full in docs/BENCHMARKS.md.
 * Measured through an MCP client against the stand-in API, in keyed (not demo) mode: the sizes are
 * those a real key gets, without the demo's banner line.
 */
import { readFileSync } from 'node:fs';
import { BUNDLED_FIXTURES, manifestRoutes } from '../dist/demo/recorded-api.js';
import { fmt, median, startClient, textOf } from './harness.mjs';

const COLL_TYPE = { files: 'file', urls: 'url', domains: 'domain', ip_addresses: 'ip_address' };

/**
 * What the model reads before its first call: the instructions, and each tool's name, title,
 * description and input schema (what clients show it; output schemas are for programs, and their
 * size is reported apart), as test/tool-list.test.ts counts them.
 */
export async function fixedCost() {
  const shown = (t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: t.inputSchema,
  });
  const measure = async (env) => {
    const s = await startClient({ env });
    const { tools } = await s.client.listTools();
    const instructions = s.client.getInstructions() ?? '';
    await s.close();
    return {
      tools: tools.map((t) => ({
        name: t.name,
        chars: JSON.stringify(shown(t)).length,
        output: JSON.stringify(t.outputSchema).length,
      })),
      instructions: instructions.length,
      total: JSON.stringify(tools.map(shown)).length + instructions.length,
    };
  };
  const read = await measure({});
  const all = await measure({ VT_ENABLE_SUBMISSIONS: 'true' });
  return { ...read, withSubmissions: all.total, submissionTools: all.tools.length - read.tools.length };
}

/** Every recorded file, URL, domain and IP object through vt_get_report, concise and detailed. */
export async function reportSizes() {
  // The cache stays on: the detailed view of each report is then read from it, not fetched again.
  const s = await startClient();
  const rows = [];
  try {
    for (const o of s.api.objects()) {
      const indicator = o.type === 'url' ? o.attributes.url : o.id;
      const before = s.api.count();
      const concise = await s.call('vt_get_report', { indicator, type: o.type });
      const requests = s.api.count() - before;
      const detailed = await s.call('vt_get_report', { indicator, type: o.type, detail: 'detailed' });
      if (concise.isError || detailed.isError) throw new Error(`${indicator}: ${textOf(concise)}`);
      rows.push({
        name: `${o.type} ${String(o.id).slice(0, 16)}`,
        raw: JSON.stringify({ data: o }).length,
        concise: textOf(concise).length,
        detailed: textOf(detailed).length,
        requests,
      });
    }
  } finally {
    await s.close();
  }
  rows.sort((a, b) => b.raw - a.raw || a.name.localeCompare(b.name));
  const stat = (k) => ({ median: median(rows.map((r) => r[k])), max: Math.max(...rows.map((r) => r[k])) });
  return {
    rows,
    raw: stat('raw'),
    concise: stat('concise'),
    detailed: stat('detailed'),
    requests: stat('requests'),
  };
}

/** Every routed relationship page, intelligence search and behaviour summary, as the tools answer them. */
export async function answerSizes() {
  const bytes = (file) => readFileSync(`${BUNDLED_FIXTURES}/${file}`).length;
  const rows = [];
  const s = await startClient();
  try {
    const call = async (name, args) => {
      const r = await s.call(name, args);
      return {
        chars: textOf(r).length,
        isError: !!r.isError,
        items: r.structuredContent?.items?.length ?? 0,
      };
    };
    for (const r of manifestRoutes()) {
      const rel = /^\/(files|urls|domains|ip_addresses)\/([^/]+)\/([a-z_]+)$/.exec(r.path);
      if (rel && rel[3] === 'behaviour_summary') {
        const a = await call('vt_get_behaviour', { indicator: rel[2] });
        rows.push({
          tool: 'vt_get_behaviour',
          what: `behaviour of ${rel[2].slice(0, 12)}…`,
          bytes: bytes(r.file),
          ...a,
        });
      } else if (rel && rel[3] !== 'behaviour_mitre_trees') {
        const a = await call('vt_get_relationships', {
          indicator: rel[2],
          type: COLL_TYPE[rel[1]],
          relationship: rel[3],
          limit: 10,
        });
        const who = rel[1] === 'urls' || rel[1] === 'files' ? `${rel[2].slice(0, 12)}…` : rel[2];
        rows.push({ tool: 'vt_get_relationships', what: `${who} ${rel[3]}`, bytes: bytes(r.file), ...a });
      } else if (r.path === '/intelligence/search' && r.query?.query) {
        const a = await call('vt_search', { query: r.query.query, limit: 10 });
        const q = r.query.query.length > 48 ? `${r.query.query.slice(0, 47)}…` : r.query.query;
        rows.push({ tool: 'vt_search', what: q.replace(/\|/g, '\\|'), bytes: bytes(r.file), ...a });
      }
    }
  } finally {
    await s.close();
  }
  const byTool = {};
  for (const tool of ['vt_get_relationships', 'vt_search', 'vt_get_behaviour']) {
    const mine = rows.filter((r) => r.tool === tool);
    byTool[tool] = {
      answers: mine.length,
      median: median(mine.map((r) => r.chars)),
      max: Math.max(0, ...mine.map((r) => r.chars)),
      min: Math.min(...mine.map((r) => r.chars)),
      medianBytes: median(mine.map((r) => r.bytes)),
      maxBytes: Math.max(0, ...mine.map((r) => r.bytes)),
    };
  }
  return { rows, byTool };
}

/** Markdown tables of the three measurements, for docs/BENCHMARKS.md. */
export function sizeTables(fixed, reports, answers) {
  return [
    '## Fixed cost (tools/list + instructions)',
    '',
    '| part | characters |',
    '|---|---:|',
    ...fixed.tools.map((t) => `| ${t.name} | ${fmt(t.chars)} |`),
    `| instructions | ${fmt(fixed.instructions)} |`,
    `| **total** | **${fmt(fixed.total)}** |`,
    `| with the ${fixed.submissionTools} submission tools (VT_ENABLE_SUBMISSIONS=true) | ${fmt(fixed.withSubmissions)} |`,
    '',
    `## vt_get_report over ${reports.rows.length} recorded reports`,
    '',
    '| report | raw JSON | concise text | detailed text | upstream requests |',
    '|---|---:|---:|---:|---:|',
    ...reports.rows.map(
      (r) => `| ${r.name} | ${fmt(r.raw)} | ${fmt(r.concise)} | ${fmt(r.detailed)} | ${r.requests} |`,
    ),
    `| **median** | **${fmt(reports.raw.median)}** | **${fmt(reports.concise.median)}** | **${fmt(reports.detailed.median)}** | **${reports.requests.median}** |`,
    `| **max** | ${fmt(reports.raw.max)} | ${fmt(reports.concise.max)} | ${fmt(reports.detailed.max)} | ${reports.requests.max} |`,
    '',
    '## Relationships, search and behaviour: answer sizes (characters)',
    '',
    '| tool | recorded response | recorded bytes | items | answer chars |',
    '|---|---|---:|---:|---:|',
    ...answers.rows.map(
      (r) =>
        `| ${r.tool} | ${r.what}${r.isError ? ' (error)' : ''} | ${fmt(r.bytes)} | ${r.items} | ${fmt(r.chars)} |`,
    ),
    '',
    '| tool | answers | median chars | max chars | median recorded bytes |',
    '|---|---:|---:|---:|---:|',
    ...Object.entries(answers.byTool).map(
      ([tool, t]) => `| ${tool} | ${t.answers} | ${fmt(t.median)} | ${fmt(t.max)} | ${fmt(t.medianBytes)} |`,
    ),
    '',
  ].join('\n');
}
