/**
 * A server built without the state store's signing key (as tests and benchmarks build one) still asks a
 * 2026-07-28 client to confirm a submission: it signs with a key of its own, never sends unasked.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningServer, startHttpServer } from './helpers/http-server.js';

const open: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of open.reverse()) await c().catch(() => {});
});

describe('confirmation without the store key', () => {
  it('a declined question sends nothing; an accepted one sends once', async () => {
    const s: RunningServer = await startHttpServer({ VT_ENABLE_SUBMISSIONS: 'true' });
    open.push(() => s.close());
    let answer: { action: 'accept'; content: { confirm: boolean } } | { action: 'decline' } = {
      action: 'decline',
    };
    const asked: string[] = [];
    const client = new Client(
      { name: 'own-key', version: '0.0.0' },
      { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    client.setRequestHandler('elicitation/create', async (req) => {
      asked.push(String((req.params as { message?: string }).message ?? ''));
      return answer;
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(s.http.url)));
    open.push(() => client.close());
    const url = 'http://example.com/own-key';
    const no = await client.callTool({ name: 'vt_submit_url', arguments: { url } });
    expect(JSON.stringify(no.content)).toMatch(/declined/);
    expect(s.api.submissions.received).toEqual([]);
    answer = { action: 'accept', content: { confirm: true } };
    const yes = await client.callTool({ name: 'vt_submit_url', arguments: { url } });
    expect(yes.isError).toBeFalsy();
    expect(s.api.submissions.received).toEqual([{ kind: 'url', value: url }]);
    expect(asked).toHaveLength(2);
  });
});
