/**
 * Two clients of one shared HTTP server (a token each), as hostile or careless tenants: a job belongs to
 * the token that started it (another gets "not found" for every way in), a cancel is acknowledged with
 * the final state, bounds refuse with which bound and what frees room, and one client's triage job does
 * not shut the other out of the rate window or of the day.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { testClient } from './helpers/client.js';
import { textOf } from './helpers/harness.js';
import { type RunningServer, startHttpServer } from './helpers/http-server.js';

const A = 'tok-alice-0123456789abcdef';
const B = 'tok-bob-0123456789abcdef00';

let running: RunningServer | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  await running?.close();
  running = undefined;
});

async function client(token: string): Promise<Client> {
  const c = testClient({ name: `tenant-${token.slice(4, 8)}`, version: '0' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL((running as RunningServer).http.url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  clients.push(c);
  return c;
}

const hashes = (n: number, salt: string) =>
  Array.from({ length: n }, (_, i) => createHash('sha256').update(`${salt}-${i}`).digest('hex'));

interface Job {
  job: string;
  status: string;
  total: number;
  counts: Record<string, number>;
  paused_for?: string;
}
const job = (r: unknown) => (r as CallToolResult).structuredContent as unknown as Job;
const call = (c: Client, name: string, args: Record<string, unknown>) =>
  c.callTool({ name, arguments: args }) as Promise<CallToolResult>;

/** A client of the running server without a token (the server has none). */
async function tokenless(name: string): Promise<Client> {
  const c = testClient({ name, version: '0' });
  await c.connect(new StreamableHTTPClientTransport(new URL((running as RunningServer).http.url)));
  clients.push(c);
  return c;
}

describe('an HTTP server without tokens: every caller is one client, as on stdio', () => {
  it('a job started by one client is polled, read, paged and cancelled by another', async () => {
    running = await startHttpServer({ VT_RATE_LIMIT: '1/60', VT_MAX_WAIT_SECONDS: '1' });
    const first = await tokenless('first');
    const second = await tokenless('second');
    const id = job(await call(first, 'vt_triage', { indicators: hashes(10, 'shared') })).job;
    const polled = await call(second, 'vt_triage', { job: id });
    expect(polled.isError).toBeFalsy();
    expect(job(polled)).toMatchObject({ job: id, status: 'running', total: 10 });
    expect((await call(second, 'vt_triage', { job: id, cursor: 'r:0' })).isError).toBeFalsy();
    const read = await second.readResource({ uri: `vt://triage/${id}` });
    expect((read.contents[0] as { text: string }).text).toMatch(
      new RegExp(`^Triage job ${id} \\(running\\)`),
    );
    const cancelled = await call(second, 'vt_triage', { job: id, cancel: true });
    expect(job(cancelled).status).toBe('cancelled');
    expect(job(await call(first, 'vt_triage', { job: id })).status).toBe('cancelled');
  });
});

describe('tenants of one HTTP server', () => {
  it('another token cannot poll, page, cancel, resume or read a job: the same answer as an unknown id', async () => {
    // One lookup a minute, and calls that wait a second at most: the job is still running when polled.
    running = await startHttpServer({
      VT_MCP_AUTH_TOKEN: `${A},${B}`,
      VT_RATE_LIMIT: '1/60',
      VT_MAX_WAIT_SECONDS: '1',
    });
    const alice = await client(A);
    const bob = await client(B);
    const started = await call(alice, 'vt_triage', { indicators: hashes(40, 'own') });
    const id = job(started).job;
    const unknown = textOf(await call(bob, 'vt_triage', { job: 'zzzzzzzzzzzz' })).replaceAll(
      'zzzzzzzzzzzz',
      id,
    );
    for (const args of [
      { job: id },
      { job: id, cursor: 'r:5' },
      { job: id, cancel: true },
      { job: id, resume: true },
    ]) {
      const r = await call(bob, 'vt_triage', args);
      expect(r.isError).toBe(true);
      expect(textOf(r)).toBe(unknown);
    }
    const read = await bob.readResource({ uri: `vt://triage/${id}` }).catch((e: unknown) => e);
    const readUnknown = await bob.readResource({ uri: 'vt://triage/zzzzzzzzzzzz' }).catch((e: unknown) => e);
    expect(read).toBeInstanceOf(Error);
    expect(String((read as Error).message).replaceAll(id, 'zzzzzzzzzzzz')).toBe(
      String((readUnknown as Error).message),
    );
    // Alice still sees it running: Bob's cancel did nothing.
    expect(job(await call(alice, 'vt_triage', { job: id })).status).toBe('running');
    const text = textOf(
      await alice
        .readResource({ uri: `vt://triage/${id}` })
        .then((x) => ({ content: [{ type: 'text', text: (x.contents[0] as { text: string }).text }] })),
    );
    expect(text).toMatch(new RegExp(`^Triage job ${id} \\(running\\)`));

    // Her cancel is acknowledged, and the answer is the final state.
    const cancelled = await call(alice, 'vt_triage', { job: id, cancel: true });
    expect(job(cancelled).status).toBe('cancelled');
    expect(textOf(cancelled)).toMatch(
      /^Cancelled: \d+ of 40 were checked; the other \d+ will not be looked up/,
    );
    expect(textOf(cancelled).split('\n')[1]).toMatch(
      /^Triage job [a-z0-9]{12} \(cancelled\): 40 indicators: .*not checked/,
    );
    const again = await call(alice, 'vt_triage', { job: id, cancel: true });
    expect(textOf(again)).toMatch(/^Nothing to cancel: job [a-z0-9]{12} was already cancelled\./);
  });

  it('a bound refuses a new job, naming the bound, the setting and what frees room', async () => {
    running = await startHttpServer({
      VT_MCP_AUTH_TOKEN: `${A},${B}`,
      VT_RATE_LIMIT: '1/60',
      VT_MAX_WAIT_SECONDS: '1',
      VT_TRIAGE_RUNNING_PER_CLIENT: '1',
    });
    const alice = await client(A);
    const bob = await client(B);
    const first = job(await call(alice, 'vt_triage', { indicators: hashes(5, 'b1') }));
    const refused = await call(alice, 'vt_triage', { indicators: hashes(5, 'b2') });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(
      /^No new triage job: 1 triage jobs of yours are running, the most this server allows \(VT_TRIAGE_RUNNING_PER_CLIENT: 1\)\. There is room again when one of them finishes or is cancelled\. Yours: [a-z0-9]{12} \(running, \d+\/5 checked\)/,
    );
    expect(textOf(refused)).toContain(first.job);
    // Bob's own place is his.
    expect((await call(bob, 'vt_triage', { indicators: hashes(5, 'b3') })).isError).toBeFalsy();
    // Cancelled, Alice's job makes room.
    await call(alice, 'vt_triage', { job: first.job, cancel: true });
    expect((await call(alice, 'vt_triage', { indicators: hashes(5, 'b4') })).isError).toBeFalsy();
  });

  it("while one token's 200-indicator job runs, another token's lookups go through within a window or two", async () => {
    running = await startHttpServer({
      VT_MCP_AUTH_TOKEN: `${A},${B}`,
      VT_RATE_LIMIT: '4/1',
      VT_MAX_WAIT_SECONDS: '10',
    });
    const alice = await client(A);
    const bob = await client(B);
    const big = job(await call(alice, 'vt_triage', { indicators: hashes(200, 'big') }));
    expect(big.status).toBe('running');
    // Each of Bob's lookups is answered, not refused for the line ahead of it (a window is 4 per second).
    for (const h of hashes(5, 'bob')) {
      const t0 = performance.now();
      const r = await call(bob, 'vt_get_report', { indicator: h });
      expect(textOf(r)).not.toMatch(/in use|rate limit|wait/i);
      expect(performance.now() - t0).toBeLessThan(2_500);
    }
    await call(alice, 'vt_triage', { job: big.job, cancel: true });
  });

  it("a job leaves the other active client its part of the day: it pauses at half the cap, and the other's lookups are served", async () => {
    running = await startHttpServer({ VT_MCP_AUTH_TOKEN: `${A},${B}`, VT_DAILY_QUOTA: '20' });
    const alice = await client(A);
    const bob = await client(B);
    // Bob is active first.
    await call(bob, 'vt_quota', {});
    const started = job(await call(alice, 'vt_triage', { indicators: hashes(60, 'day') }));
    let s = started;
    for (let i = 0; i < 10 && s.status === 'running'; i++)
      s = job(await call(alice, 'vt_triage', { job: started.job }));
    expect(s).toMatchObject({ status: 'paused', paused_for: 'fair_share' });
    // Half of the day's 20: the job took 10, not all of them.
    expect(running.api.count('/files/')).toBe(10);
    for (const h of hashes(8, 'bobday')) {
      const r = await call(bob, 'vt_get_report', { indicator: h });
      expect(textOf(r), 'Bob is served within the cap').not.toMatch(/daily cap/);
    }
    expect(running.api.count('/files/')).toBe(18);
  });

  it("a job's lookups count in its owner's minute (VT_MCP_CLIENT_RATE), not in another client's", async () => {
    running = await startHttpServer({
      VT_MCP_AUTH_TOKEN: `${A},${B}`,
      VT_MCP_CLIENT_RATE: '3',
      VT_MAX_WAIT_SECONDS: '1',
    });
    const alice = await client(A);
    const bob = await client(B);
    const started = job(await call(alice, 'vt_triage', { indicators: hashes(20, 'minute') }));
    await new Promise((r) => setTimeout(r, 1_000));
    // Her call took one of her three; her job got the other two, and waits for the minute to turn.
    expect(running.api.count('/files/')).toBe(2);
    expect(
      job((await call(alice, 'vt_triage', { job: started.job }).catch(() => undefined)) ?? {}).status,
    ).not.toBe('done');
    // Bob's minute is his own.
    for (const h of hashes(3, 'bobminute'))
      expect((await call(bob, 'vt_get_report', { indicator: h })).isError).toBeFalsy();
    expect(running.api.count('/files/')).toBe(5);
  });
});
