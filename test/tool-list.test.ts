/**
 * What the model reads before its first call: the tools/list result and the server instructions.
 * The listing is snapshotted (test/__snapshots__/tools.snap.json) so that every change to it is a
 * reviewed diff; UPDATE_TOOLSNAPS=true rewrites the snapshot. Its size is budgeted.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_TOOLS } from '../src/server/create-server.js';
import { type Harness, startHarness } from './helpers/harness.js';

const SNAP_DIR = fileURLToPath(new URL('./__snapshots__/', import.meta.url));
const SNAP = `${SNAP_DIR}tools.snap.json`;
const UPDATE = process.env.UPDATE_TOOLSNAPS === 'true';
const FIXED_COST_BUDGET = 9_000;

let h: Harness;
let tools: Tool[];
beforeAll(async () => {
  h = await startHarness();
  tools = (await h.client.listTools()).tools;
});
afterAll(async () => {
  await h.close();
});

describe('tools/list', () => {
  it('matches the reviewed snapshot', () => {
    const current = JSON.parse(JSON.stringify({ tools })) as unknown;
    const missing = !existsSync(SNAP);
    if (missing || UPDATE) {
      mkdirSync(SNAP_DIR, { recursive: true });
      writeFileSync(SNAP, `${JSON.stringify(current, null, 2)}\n`);
      if (missing && !UPDATE) {
        throw new Error(
          `No tool snapshot existed; one was written to ${SNAP}. Review it, then rerun. ` +
            'To create or refresh it on purpose: UPDATE_TOOLSNAPS=true npx vitest run test/tool-list.test.ts',
        );
      }
      return;
    }
    const stored = JSON.parse(readFileSync(SNAP, 'utf8')) as unknown;
    try {
      expect(current).toEqual(stored);
    } catch (err) {
      throw new Error(
        'What the model sees in tools/list has changed. Review the diff below; if the change is intended, ' +
          'rerun with UPDATE_TOOLSNAPS=true (UPDATE_TOOLSNAPS=true npx vitest run test/tool-list.test.ts) ' +
          `and commit test/__snapshots__/tools.snap.json.\n${err instanceof Error ? err.message : String(err)}`,
      );
    }
  });

  it('names: vt_ prefix, lower case, at most 64 characters, unique', () => {
    expect(tools.length).toBeGreaterThan(0);
    for (const t of tools) {
      expect(t.name).toMatch(/^vt_/);
      expect(t.name).toMatch(/^[a-z0-9_]{1,64}$/);
    }
    expect(new Set(tools.map((t) => t.name)).size).toBe(tools.length);
  });

  it('every tool sets all four annotations explicitly; read tools are read-only', () => {
    const reads = new Set(READ_TOOLS.map((t) => t.name));
    expect(reads.has('vt_get_report')).toBe(true);
    for (const t of tools) {
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
    for (const t of tools) {
      expect(t.title ?? '', t.name).not.toBe('');
      expect(t.description?.length ?? 0, t.name).toBeGreaterThan(40);
      expect(t.description?.length ?? 0, t.name).toBeLessThanOrEqual(1_200);
      expect(t.inputSchema.type, t.name).toBe('object');
      expect(t.outputSchema?.type, t.name).toBe('object');
    }
  });

  it(`fixed cost (tools/list + instructions) stays under ${FIXED_COST_BUDGET} characters`, () => {
    const listed = JSON.stringify(tools).length;
    const instructions = h.client.getInstructions()?.length ?? 0;
    expect(instructions).toBeGreaterThan(0);
    const total = listed + instructions;
    console.log(
      `fixed cost: ${total} characters (tools/list ${listed} for ${tools.length} tools + instructions ${instructions}); budget ${FIXED_COST_BUDGET}`,
    );
    expect(total).toBeLessThan(FIXED_COST_BUDGET);
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
      const total = JSON.stringify(tools).length + (s.client.getInstructions()?.length ?? 0);
      console.log(`fixed cost with submissions: ${total} characters for ${tools.length} tools`);
      expect(total).toBeLessThan(WITH_SUBMISSIONS_BUDGET);
    } finally {
      await s.close();
    }
  });
});
