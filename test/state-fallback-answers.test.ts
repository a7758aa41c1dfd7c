/**
 * What the model is told when the key's state is this process's memory instead of what VT_STATE names:
 * vt_quota says whose counts these are, since when, why, and whether it is retried (never "shared by
 * every process" and "unavailable" in one answer), and vt_triage says what an unknown job id means
 * where jobs are kept (memory: a restart loses them; a shared store unavailable now: ask again later)
 * before telling it to start again. Servers are built as index.ts builds them, on a real SQLite store
 * (behind a switch that makes every call fail) or on what openStateStore() falls back to.
 */
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStateStore } from '../src/vt/state/open.js';
import { ResilientStore } from '../src/vt/state/resilient.js';
import { openSqliteStore } from '../src/vt/state/sqlite.js';
import { keyspace } from '../src/vt/state/store.js';
import { type Harness, startHarness, TEST_KEY, textOf } from './helpers/harness.js';
import { tempDir } from './helpers/state-backends.js';
import { SwitchedStore } from './helpers/state-switch.js';

const t = tempDir('fallback-answers');
afterAll(() => t.remove());

const harnesses: Harness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** A server on a SQLite file behind a switch, wrapped as openStateStore() wraps it; probed only when asked. */
async function onSwitchedSqlite(name: string) {
  const path = join(t.dir, `${name}.db`);
  const sw = new SwitchedStore(openSqliteStore({ path, keyspace: keyspace(TEST_KEY), cacheMaxBytes: 1e6 }));
  const store = new ResilientStore(sw, { cacheMaxBytes: 1e6, timeoutMs: 500, probeEveryMs: 3_600_000 });
  const h = await startHarness({ store, env: { VT_DAILY_QUOTA: '500' } });
  harnesses.push(h);
  return { h, sw, store, path };
}

/** A server on the memory openStateStore() falls back to on a Node without node:sqlite. */
async function onFallback() {
  const { store, fellBack } = await openStateStore(`sqlite:${join(t.dir, 'never.db')}`, {
    apiKey: TEST_KEY,
    env: {},
    cacheMaxBytes: 1e6,
    sqlite: { driver: null },
  });
  const h = await startHarness({ store });
  harnesses.push(h);
  return { h, fellBack: fellBack as string };
}

interface StateFigures {
  backend: string;
  location: string;
  shared: boolean;
  degraded_since?: string;
  degraded_reason?: string;
  retrying?: boolean;
  cache?: unknown;
}
const stateOf = (r: CallToolResult) => (r.structuredContent as { state?: StateFigures }).state;

describe('vt_quota', () => {
  it('a shared store that fails: this process counts alone since when, why, retried; never "shared by every process"', async () => {
    const { h, sw, store, path } = await onSwitchedSqlite('quota');
    await h.call('vt_get_report', { indicator: 'github.com' });
    const healthy = await h.call('vt_quota', {});
    expect(textOf(healthy)).toContain(`State: sqlite at ${path}, shared by every process on this key`);
    expect(stateOf(healthy)).toMatchObject({ backend: 'sqlite', shared: true });
    expect(stateOf(healthy)?.degraded_since).toBeUndefined();

    sw.mode = 'throw';
    await store.usage(Date.now());
    const r = await h.call('vt_quota', {});
    const text = textOf(r);
    expect(text).not.toMatch(/shared by every process|shared cache|state line counts every process/);
    expect(text).toMatch(
      new RegExp(
        `State: sqlite at ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is unavailable since \\S+Z \\(switched off\\)\\. ` +
          "The counts above are this process's only: other processes' lookups on this key are not in them " +
          '\\(VirusTotal counts every use of the key\\)\\. It is retried every few seconds and used again once it answers\\.',
      ),
    );
    const st = stateOf(r);
    expect(st).toMatchObject({
      backend: 'sqlite',
      shared: false,
      degraded_reason: 'switched off',
      retrying: true,
    });
    expect(st?.degraded_since).toMatch(ISO);
    expect(st?.cache).toBeUndefined();

    // Back: shared again, and nothing says otherwise.
    sw.mode = 'ok';
    await store.probe();
    const back = await h.call('vt_quota', {});
    expect(textOf(back)).toContain('shared by every process on this key');
    expect(textOf(back)).not.toMatch(/unavailable|this process's only/);
    expect(stateOf(back)).toMatchObject({ shared: true });
    expect(stateOf(back)?.retrying).toBeUndefined();
  });

  it('memory in place of SQLite: names the cause and since when, says it is not retried', async () => {
    const { h, fellBack } = await onFallback();
    expect(fellBack).toMatch(/has no built-in SQLite/);
    const r = await h.call('vt_quota', {});
    const text = textOf(r);
    expect(text).toContain(
      `, because ${fellBack}. The counts above are this process's only: other processes on this key are not in ` +
        'them (VirusTotal counts every use of the key), and a restart loses them and the triage jobs. Not ' +
        'retried: once the cause is fixed, restart the server.',
    );
    expect(text).toMatch(/State: this process's memory since \d{4}-\d{2}-\d{2}T\S+Z, because this Node/);
    expect(text).not.toMatch(/shared by every process|state line counts every process/);
    const st = stateOf(r);
    expect(st).toMatchObject({
      backend: 'memory',
      shared: false,
      degraded_reason: fellBack,
      retrying: false,
    });
    expect(st?.degraded_since).toMatch(ISO);
  });

  it('memory asked for (or no store at all): no state line, the counts are said to be this process only', async () => {
    const h = await startHarness();
    harnesses.push(h);
    const r = await h.call('vt_quota', {});
    expect(stateOf(r)).toBeUndefined();
    expect(textOf(r)).toContain(
      'These counts are this process only; VirusTotal counts every use of the key.',
    );
  });
});

describe('vt_triage with a job id the server does not find', () => {
  const UNKNOWN = 'aaaaaaaaaaaa';

  it('in memory: a restart loses jobs, said before "start it again", with what starting again costs', async () => {
    const h = await startHarness();
    harnesses.push(h);
    const r = await h.call('vt_triage', { job: UNKNOWN });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe(
      `No triage job ${UNKNOWN} in this server. It keeps triage jobs in this process's memory, so a restart of ` +
        'the server loses them: the job may have been lost with a restart, or it finished more than 24 h ago and ' +
        'was removed, or it never existed. Starting it again with `indicators` looks every indicator up again, ' +
        'spending those lookups again.',
    );
  });

  it('in memory that replaced SQLite: also says why', async () => {
    const { h, fellBack } = await onFallback();
    const r = await h.call('vt_triage', { job: UNKNOWN });
    expect(textOf(r)).toContain(
      `It keeps triage jobs in this process's memory, because ${fellBack}, so a restart of the server loses them`,
    );
  });

  it('on a shared store that is unavailable now: the job may be there; ask again rather than start again', async () => {
    const { h, sw, store, path } = await onSwitchedSqlite('triage');
    sw.mode = 'throw';
    await store.usage(Date.now());
    const r = await h.call('vt_triage', { job: UNKNOWN });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(
      new RegExp(
        `^No triage job ${UNKNOWN} can be read now: the shared state \\(sqlite at ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) ` +
          'is unavailable since \\S+Z \\(switched off\\), and jobs kept there cannot be read until it answers again ' +
          '\\(it is retried every few seconds\\)\\. Ask for this job again in a minute\\.',
      ),
    );
    expect(textOf(r)).not.toMatch(/never existed/);
  });

  it('on a healthy shared store: it never existed or was removed', async () => {
    const { h } = await onSwitchedSqlite('healthy');
    const r = await h.call('vt_triage', { job: UNKNOWN });
    expect(textOf(r)).toBe(
      `No triage job ${UNKNOWN}: it never existed, or it finished more than 24 h ago and was removed. ` +
        'Start it again with `indicators`.',
    );
  });
});
