/**
 * What the model reads before its first call: the tools/list result and the server instructions.
 * Each tool's listing (name, title, description, input and output schemas, annotations) is approved
 * in test/__toolsnaps__/<tool>.json, the write tools included (they are listed only with
 * VT_ENABLE_SUBMISSIONS=true), and so are the instructions and the resources and prompts a client
 * lists: every change to them is a reviewed diff. UPDATE_TOOLSNAPS=true accepts changes (and deletes
 * the snapshots of tools that are gone). The listing's size is budgeted.
 */
import { fileURLToPath } from 'node:url';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_TOOLS, SUBMISSION_TOOLS } from '../src/server/create-server.js';
import { type Approvals, approve, checkNoStale } from './helpers/approved.js';
import { type Harness, startHarness } from './helpers/harness.js';

const SNAPS: Approvals = {
  dir: fileURLToPath(new URL('./__toolsnaps__/', import.meta.url)),
  variable: 'UPDATE_TOOLSNAPS',
  command: 'UPDATE_TOOLSNAPS=true npx vitest run test/tool-list.test.ts',
};
const FIXED_COST_BUDGET = 9_000;
/** Not tools: the instructions and the resources and prompts lists. */
const SERVER_SNAPS = ['instructions.txt', 'resources-prompts.json'];

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/**
 * What clients put in front of the model: each tool's name, title, description and input schema (the
 * output schema and the annotations are for programs). The fixed cost counts these and the instructions.
 */
const shownToModel = (t: Tool) => ({
  name: t.name,
  title: t.title,
  description: t.description,
  inputSchema: t.inputSchema,
});

let h: Harness;
let tools: Tool[];
/** Every tool, as a server with VT_ENABLE_SUBMISSIONS=true lists it. */
let allTools: Tool[];
beforeAll(async () => {
  h = await startHarness();
  tools = (await h.client.listTools()).tools;
  const s = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
  try {
    allTools = (await s.client.listTools()).tools;
  } finally {
    await s.close();
  }
});
afterAll(async () => {
  await h.close();
});

describe('tool snapshots (test/__toolsnaps__)', () => {
  it('the default listing is the read tools, each listed as with submissions enabled', () => {
    expect(tools.map((t) => t.name)).toEqual(READ_TOOLS.map((t) => t.name));
    expect(allTools.map((t) => t.name)).toEqual([...READ_TOOLS, ...SUBMISSION_TOOLS].map((t) => t.name));
    for (const t of tools) expect(t, t.name).toEqual(allTools.find((x) => x.name === t.name));
  });

  it.each([...READ_TOOLS, ...SUBMISSION_TOOLS].map((t) => t.name))('%s matches its snapshot', (name) => {
    const listed = allTools.find((t) => t.name === name);
    expect(listed, `${name} is not listed`).toBeDefined();
    approve(SNAPS, `${name}.json`, json(listed));
  });

  it('the instructions match their snapshot', () => {
    approve(SNAPS, 'instructions.txt', h.client.getInstructions() ?? '');
  });

  it('the resources, resource templates and prompts a client lists match their snapshot', async () => {
    const [resources, templates, prompts] = await Promise.all([
      h.client.listResources(),
      h.client.listResourceTemplates(),
      h.client.listPrompts(),
    ]);
    approve(
      SNAPS,
      'resources-prompts.json',
      json({
        resources: resources.resources,
        resourceTemplates: templates.resourceTemplates,
        prompts: prompts.prompts,
      }),
    );
  });

  it('there is no snapshot of a tool that no longer exists', () => {
    const produced = [...allTools.map((t) => `${t.name}.json`), ...SERVER_SNAPS];
    checkNoStale(SNAPS, produced, /./);
  });
});

describe('tools/list', () => {
  it('names: vt_ prefix, lower case, at most 64 characters, unique', () => {
    expect(allTools.length).toBeGreaterThan(0);
    for (const t of allTools) {
      expect(t.name).toMatch(/^vt_/);
      expect(t.name).toMatch(/^[a-z0-9_]{1,64}$/);
    }
    expect(new Set(allTools.map((t) => t.name)).size).toBe(allTools.length);
  });

  it('every tool sets all four annotations explicitly; read tools are read-only', () => {
    const reads = new Set(READ_TOOLS.map((t) => t.name));
    expect(reads.has('vt_get_report')).toBe(true);
    for (const t of allTools) {
      const a = t.annotations ?? {};
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof a[hint], `${t.name}.${hint}`).toBe('boolean');
      }
      if (reads.has(t.name)) {
        expect(a.readOnlyHint, t.name).toBe(true);
        expect(a.destructiveHint, t.name).toBe(false);
      }
    }
  });

  it('every tool has a title, a description of at most 1,200 characters, and both schemas', () => {
    for (const t of allTools) {
      expect(t.title ?? '', t.name).not.toBe('');
      expect(t.description?.length ?? 0, t.name).toBeGreaterThan(40);
      expect(t.description?.length ?? 0, t.name).toBeLessThanOrEqual(1_200);
      expect(t.inputSchema.type, t.name).toBe('object');
      expect(t.outputSchema?.type, t.name).toBe('object');
    }
  });

  it(`fixed cost (tools/list + instructions) stays under ${FIXED_COST_BUDGET} characters`, () => {
    const listed = JSON.stringify(tools.map(shownToModel)).length;
    const instructions = h.client.getInstructions()?.length ?? 0;
    expect(instructions).toBeGreaterThan(0);
    const total = listed + instructions;
    console.log(
      `fixed cost: ${total} characters (tools/list as shown to the model ${listed} for ${tools.length} tools + instructions ${instructions}); budget ${FIXED_COST_BUDGET}`,
    );
    expect(total).toBeLessThan(FIXED_COST_BUDGET);
  });

  it('output schemas: typed, and their size reported (clients do not show them to the model)', () => {
    const sizes = allTools.map((t) => `${t.name} ${JSON.stringify(t.outputSchema).length}`);
    const total = allTools.reduce((n, t) => n + JSON.stringify(t.outputSchema).length, 0);
    console.log(`output schemas: ${total} characters (${sizes.join(', ')})`);
    // Typed: no tool answers with an untyped record or list of untyped items any more.
    for (const t of allTools) {
      const schema = JSON.stringify(t.outputSchema);
      expect(schema, t.name).not.toMatch(/"additionalProperties":\{\}|"items":\{\}/);
    }
  });
});

describe('tools/list with submissions enabled', () => {
  // Not part of the read-only budget, but bounded too: three write tools must not cost more than
  // about a third again of the read tools.
  const WITH_SUBMISSIONS_BUDGET = 11_000;

  it(`stays under ${WITH_SUBMISSIONS_BUDGET} characters and lists the three submission tools`, async () => {
    const s = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true' } });
    try {
      const { tools } = await s.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(
        expect.arrayContaining(['vt_submit_url', 'vt_submit_file', 'vt_get_analysis']),
      );
      const total =
        JSON.stringify(tools.map(shownToModel)).length + (s.client.getInstructions()?.length ?? 0);
      console.log(`fixed cost with submissions: ${total} characters for ${tools.length} tools`);
      expect(total).toBeLessThan(WITH_SUBMISSIONS_BUDGET);
    } finally {
      await s.close();
    }
  });
});
