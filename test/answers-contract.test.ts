/**
 * The answer contract over every recording: each tool's structuredContent conforms to the
 * output schema it lists (checked with Ajv, as a validating client does), and both its text and its
 * structured content (measured as JSON) keep within VT_MAX_RESPONSE_CHARS, at the default budget and
 * at the smallest one. What the structure had to leave out is counted in `truncated`.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestRoutes } from '../src/demo/recorded-api.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';
import { type OutputCheck, outputSchemaOf, schemaProblem } from './helpers/upstream.js';

const COLL_TYPE: Record<string, string> = {
  files: 'file',
  urls: 'url',
  domains: 'domain',
  ip_addresses: 'ip_address',
};

interface Call {
  tool: string;
  args: Record<string, unknown>;
}

/** Every call the recordings answer: reports (concise and detailed), pages, searches, behaviours, a triage. */
function recordedCalls(h: Harness): Call[] {
  const calls: Call[] = [];
  const objects = h.api.objects() as Array<{ type: string; id: string }>;
  for (const o of objects) {
    for (const detail of ['concise', 'detailed']) {
      calls.push({ tool: 'vt_get_report', args: { indicator: o.id, type: o.type, detail } });
    }
  }
  for (const r of manifestRoutes()) {
    const rel = /^\/(files|urls|domains|ip_addresses)\/([^/]+)\/([a-z_]+)$/.exec(r.path);
    if (rel?.[3] === 'behaviour_summary') {
      calls.push({ tool: 'vt_get_behaviour', args: { indicator: rel[2] } });
    } else if (rel && rel[3] !== 'behaviour_mitre_trees') {
      const base = { indicator: rel[2], type: COLL_TYPE[rel[1] as string] };
      calls.push({ tool: 'vt_get_relationships', args: { ...base, relationship: rel[3], limit: 40 } });
      calls.push({ tool: 'vt_get_relationships', args: { ...base, relationships: [rel[3], 'comments'] } });
    } else if (r.path === '/intelligence/search' && r.query?.query) {
      calls.push({ tool: 'vt_search', args: { query: r.query.query, limit: 300 } });
    }
  }
  calls.push({ tool: 'vt_triage', args: { indicators: objects.slice(0, 100).map((o) => o.id) } });
  calls.push({ tool: 'vt_quota', args: {} });
  return calls;
}

for (const budget of [24_000, 2_000]) {
  describe(`VT_MAX_RESPONSE_CHARS=${budget}`, () => {
    let h: Harness;
    const checks = new Map<string, OutputCheck>();
    beforeAll(async () => {
      h = await startHarness({ env: { VT_MAX_RESPONSE_CHARS: String(budget) } });
      for (const t of (await h.client.listTools()).tools)
        checks.set(t.name, await outputSchemaOf(h.client, t.name));
    });
    afterAll(async () => {
      await h.close();
    });

    it('every recorded answer conforms to its output schema, and text and structure both fit', async () => {
      const calls = recordedCalls(h);
      expect(calls.length).toBeGreaterThan(300);
      const problems: string[] = [];
      let cut = 0;
      for (const c of calls) {
        const r = (await h.callRaw(c.tool, c.args)) as CallToolResult;
        const what = `${c.tool} ${JSON.stringify(c.args).slice(0, 100)}`;
        if (r.isError) {
          problems.push(`${what}: isError ${textOf(r).slice(0, 200)}`);
          continue;
        }
        const schema = schemaProblem(checks.get(c.tool) as OutputCheck, r);
        if (schema) problems.push(`${what}: ${schema}`);
        const text = textOf(r).length;
        const structured = JSON.stringify(r.structuredContent).length;
        if (text > budget) problems.push(`${what}: text ${text} > ${budget}`);
        if (structured > budget) problems.push(`${what}: structuredContent ${structured} > ${budget}`);
        if (r.structuredContent?.truncated) {
          cut++;
          if (budget > 3_000)
            console.log(`cut at ${budget}: ${what} ${JSON.stringify(r.structuredContent.truncated)}`);
        }
      }
      console.log(`${calls.length} answers at ${budget}: ${cut} with a cut structure`);
      expect(problems).toEqual([]);
      if (budget < 3_000) expect(cut).toBeGreaterThan(0);
    }, 120_000);
  });
}
