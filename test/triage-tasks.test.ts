/**
 * vt_triage as an MCP task (the tasks extension of the 2026-07-28 revision), driven by clients we did not
 * write: the SDK v2 client, and the extension's own requester (@modelcontextprotocol/ext-tasks) over it.
 * Two HTTP replicas on one SQLite file, each token a client: a task started through one replica runs to
 * completion and is read through the other; another token cannot see it; tasks/cancel stops one; a
 * request that does not declare the extension is refused with -32021.
 */
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createTaskSessionFromClient, resultFromTaskOutcome } from '@modelcontextprotocol/ext-tasks/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordedApi } from '../src/demo/recorded-api.js';
import { taskNotFound } from '../src/tools/triage-tasks.js';
import { type Replica, startReplica } from './helpers/replica.js';
import { tempDir } from './helpers/state-backends.js';

const TASKS = 'io.modelcontextprotocol/tasks';
const KEY = 'tasks-test-key-0123456789abcdef0123456789abcdef0123456789';
const TOKENS = ['token-a-0123456789abcdef0123456789', 'token-b-0123456789abcdef0123456789'] as const;
const N = 120;

const tmp = tempDir('tasks');
const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.remove();
});

/** Recorded files first (verdicts), then hashes VirusTotal does not know (not-found rows): N in all. */
function indicators(api: RecordedApi): string[] {
  const known = (api.objects('file') as Array<{ id: string }>).map((o) => o.id).slice(0, 40);
  const unknown = Array.from({ length: N - known.length }, (_, i) => i.toString(16).padStart(64, 'e'));
  return [...known, ...unknown];
}

type Raw = (req: {
  method: string;
  params?: Record<string, unknown>;
}) => Promise<
  | { kind: 'result'; result: Record<string, unknown> }
  | { kind: 'error'; error: { code: number; message: string } }
>;

interface Modern {
  client: Client;
  raw: Raw;
  /** The request envelope of this client, declaring the tasks extension or not. */
  meta(tasks: boolean): Record<string, unknown>;
}

/**
 * A 2026-07-28 client with token `token`, and a channel for the requests the SDK client does not send
 * itself (it refuses a task for an answer): the ext-tasks requester's way in.
 */
async function modernClient(url: string, token: string): Promise<Modern> {
  const client = new Client(
    { name: 'tasks-test', version: '0.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  closers.push(() => client.close());
  const pending = new Map<string, (m: Record<string, unknown>) => void>();
  let n = 0;
  const forward = transport.onmessage?.bind(transport);
  transport.onmessage = (msg) => {
    const m = msg as unknown as Record<string, unknown>;
    if (typeof m.id === 'string' && m.id.startsWith('raw-') && !('method' in m)) {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
      return;
    }
    forward?.(msg);
  };
  const raw: Raw = async (req) => {
    const id = `raw-${++n}`;
    const answered = new Promise<Record<string, unknown>>((r) => pending.set(id, r));
    await transport.send({
      jsonrpc: '2.0',
      id,
      method: req.method,
      ...(req.params ? { params: req.params } : {}),
    });
    const m = await answered;
    return 'error' in m
      ? { kind: 'error', error: m.error as { code: number; message: string } }
      : { kind: 'result', result: m.result as Record<string, unknown> };
  };
  const meta = (tasks: boolean) => ({
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'tasks-test', version: '0.0.0' },
    'io.modelcontextprotocol/clientCapabilities': tasks ? { extensions: { [TASKS]: {} } } : {},
  });
  return { client, raw, meta };
}

describe('vt_triage as a task across two replicas', () => {
  let api: RecordedApi;
  let one: Replica;
  let two: Replica;
  let list: string[];

  beforeAll(async () => {
    api = await new RecordedApi({ apiKey: KEY }).start();
    closers.push(() => api.close());
    list = indicators(api);
    const env = {
      VT_STATE: `sqlite:${join(tmp.dir, 'state.db')}`,
      // Paced, so that a task is seen working before it completes.
      VT_RATE_LIMIT: '40/1s',
      VT_MCP_AUTH_TOKEN: TOKENS.join(','),
      // Each client's minute would hold the job's lookups to 30 a minute (VT_MCP_CLIENT_RATE).
      VT_MCP_CLIENT_RATE: '0',
    };
    one = await startReplica({ key: KEY, apiUrl: api.url, env, token: TOKENS[0] });
    closers.push(() => one.close());
    two = await startReplica({ key: KEY, apiUrl: api.url, env, token: TOKENS[0] });
    closers.push(() => two.close());
  });

  it(`${N} indicators run to completion through one replica, read through the other, hidden from another token`, async () => {
    const a = await modernClient(one.http.url, TOKENS[0]);
    expect(a.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    let polls = 0;
    const counted: Raw = (req) => {
      if (req.method === 'tasks/get') polls++;
      return a.raw(req);
    };
    const session = createTaskSessionFromClient(a.client as never, {
      endpointId: 'replica-one',
      rawDispatch: counted as never,
      v2RequestFraming: {
        protocolVersion: '2026-07-28',
        clientInfo: { name: 'tasks-test', version: '0.0.0' },
        clientCapabilities: {},
      },
    });
    closers.push(async () => session.close());
    const execution = await session.callTool('vt_triage', { indicators: list });
    expect(execution.kind).toBe('task');
    const seen: string[] = [];
    const { outcome } = await execution.settle({
      onEvent: (ev) => {
        if (ev.type === 'task') seen.push(`${ev.task.status}: ${ev.task.statusMessage ?? ''}`);
      },
    });
    expect(outcome.status).toBe('completed');
    const result = resultFromTaskOutcome(outcome) as { structuredContent?: Record<string, unknown> };
    const done = result.structuredContent as {
      job: string;
      status: string;
      total: number;
      counts: Record<string, number>;
    };
    expect(done).toMatchObject({ status: 'done', total: N });
    expect(seen.some((s) => s.startsWith('working'))).toBe(true);
    // Round trips: the tools/call that starts it, then tasks/get at the interval the server suggests.
    console.log(
      `task of ${N} indicators at 40/1s: 1 tools/call + ${polls} tasks/get; ${seen.length} states seen (${seen.at(-1)})`,
    );
    expect(polls).toBeGreaterThan(0);

    // The same task through the other replica, by the same token: completed, with the same answer.
    const again = await modernClient(two.http.url, TOKENS[0]);
    const got = await again.raw({
      method: 'tasks/get',
      params: { taskId: done.job, _meta: again.meta(true) },
    });
    expect(got.kind).toBe('result');
    const task = (got as { result: Record<string, unknown> }).result;
    expect(task).toMatchObject({ taskId: done.job, status: 'completed', resultType: 'complete' });
    expect((task.result as { structuredContent: unknown }).structuredContent).toEqual(done);

    // Another token: no such task, on either replica; nor can it cancel it.
    for (const r of [one, two]) {
      const b = await modernClient(r.http.url, TOKENS[1]);
      for (const method of ['tasks/get', 'tasks/cancel']) {
        const other = await b.raw({ method, params: { taskId: done.job, _meta: b.meta(true) } });
        expect(other).toMatchObject({ kind: 'error', error: { code: -32602 } });
      }
    }
  }, 60_000);

  it('tasks/cancel stops a task, and a request without the extension is refused with -32021', async () => {
    const a = await modernClient(two.http.url, TOKENS[0]);
    const created = await a.raw({
      method: 'tools/call',
      params: {
        name: 'vt_triage',
        arguments: { indicators: list.map((h) => h.replace(/^./, 'f')) },
        _meta: a.meta(true),
      },
    });
    expect(created).toMatchObject({ kind: 'result', result: { resultType: 'task', status: 'working' } });
    if (created.kind !== 'result') throw new Error('no task');
    const taskId = created.result.taskId as string;

    const refused = await a.raw({ method: 'tasks/get', params: { taskId, _meta: a.meta(false) } });
    expect(refused).toMatchObject({ kind: 'error', error: { code: -32021 } });

    const cancelled = await a.raw({ method: 'tasks/cancel', params: { taskId, _meta: a.meta(true) } });
    expect(cancelled.kind).toBe('result');
    // Read through the other replica: cancelled, not working.
    const b = await modernClient(one.http.url, TOKENS[0]);
    const got = await b.raw({ method: 'tasks/get', params: { taskId, _meta: b.meta(true) } });
    expect(got).toMatchObject({ kind: 'result', result: { status: 'cancelled' } });

    // Without the extension, vt_triage answers as it always has: a job to follow with {job}.
    const plain = await a.client.callTool({ name: 'vt_triage', arguments: { indicators: list.slice(0, 2) } });
    expect(plain.isError).toBeFalsy();
    expect((plain.structuredContent as { job: string }).job).toMatch(/^[a-z0-9]{12}$/);
  }, 30_000);

  it(`the same ${N} followed as a job by a client without the extension: the round trips, for comparison`, async () => {
    const a = await modernClient(one.http.url, TOKENS[0]);
    // Hashes nobody asked for yet: every one a lookup, as in the task above.
    const fresh = Array.from({ length: N }, (_, i) => i.toString(16).padStart(64, 'c'));
    let calls = 1;
    let r = await a.client.callTool({ name: 'vt_triage', arguments: { indicators: fresh } });
    const job = (r.structuredContent as { job: string }).job;
    while ((r.structuredContent as { status: string }).status === 'running') {
      r = await a.client.callTool({ name: 'vt_triage', arguments: { job } });
      calls++;
    }
    expect(r.structuredContent).toMatchObject({ status: 'done', total: N });
    console.log(
      `job of ${N} indicators at 40/1s followed with {job}: ${calls} tools/call (each waits for results)`,
    );
  }, 60_000);
});

describe('a task the store cannot read now', () => {
  it('is an internal error worth asking again, not "no such task", while a shared store is unavailable', () => {
    const down = taskNotFound(
      'abcdefabcdef',
      {
        kind: 'sqlite',
        location: '/tmp/state.db',
        shared: true,
        degradedSince: Date.parse('2026-12-07T00:00:00Z'),
        reason: 'disk I/O error',
      },
      24,
    );
    expect(down.code).toBe(-32603);
    expect(down.message).toMatch(
      /can be read now: the shared state \(sqlite at \/tmp\/state\.db\) is unavailable since 2026-12-07T00:00:00Z \(disk I\/O error\)/,
    );
    const unknown = taskNotFound(
      'abcdefabcdef',
      { kind: 'sqlite', location: '/tmp/state.db', shared: true },
      24,
    );
    expect(unknown.code).toBe(-32602);
    // A memory store that lost its tasks in a restart has nothing to come back: unknown too.
    expect(
      taskNotFound(
        'abcdefabcdef',
        { kind: 'memory', location: 'memory', shared: false, degradedSince: 1 },
        24,
      ).code,
    ).toBe(-32602);
  });
});
