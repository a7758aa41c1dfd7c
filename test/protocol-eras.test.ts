/**
 * Both protocol eras through the SDK v2 client (@modelcontextprotocol/client), against the built server as
 * clients start it: `node dist/index.js --demo` over stdio, and `--transport http` (with bearer tokens)
 * over Streamable HTTP. The client is pinned to 2026-07-28, negotiates ('auto'), or speaks 2025 ('legacy');
 * every mode must list the same tools, resources and prompts, answer every tool, confirm a submission (by
 * elicitation on 2025, by inputRequired with signed state on 2026-07-28) and word bad input as ours.
 *
 * One server per transport: a stdio child per mode (pin and auto also spawn a short-lived probe sibling),
 * and one HTTP child shared by the three modes. `npm test` builds first; run alone, this file needs a
 * build in dist/ (`npm run build`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  type CallToolResult,
  Client,
  type ElicitResult,
  type JSONRPCMessage,
  type MessageExtraInfo,
  StreamableHTTPClientTransport,
  type Transport,
  type VersionNegotiationMode,
} from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_TOOLS, SUBMISSION_TOOLS } from '../src/server/create-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = `${ROOT}dist/index.js`;
const MODERN = '2026-07-28';
/** Every request of the tests is bounded: a hung server fails a test, never the whole run's clock. */
const REQUEST_MS = 10_000;
const TOKEN_A = 'eras-token-a-0123456789abcdef';
const TOKEN_B = 'eras-token-b-0123456789abcdef';
const DEMO_BANNER = '[DEMO DATA: recorded VirusTotal responses';

const PE_MD5 = 'e2a52f78fc1dc2eb561fd5d77892d642';
const PE_SHA256 = '6b60666d6ace3a450d54fe7b915c46632172ca0d4127d87873f0c111560e66cb';
const SANDBOXED = '03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b';

type Mode = 'pin' | 'auto' | 'legacy';
type Kind = 'stdio' | 'http';
const MODES: Record<Mode, VersionNegotiationMode> = { pin: { pin: MODERN }, auto: 'auto', legacy: 'legacy' };
const KINDS: Kind[] = ['stdio', 'http'];

/** Every server here runs with submissions on: these are the tools it lists, in this order. */
const TOOL_NAMES = [...READ_TOOLS, ...SUBMISSION_TOOLS].map((t) => t.name);
const TEMPLATES = [
  'vt://file/{id}',
  'vt://url/{id}',
  'vt://domain/{name}',
  'vt://ip_address/{ip}',
  'vt://triage/{job}',
];
const PROMPTS = ['investigate_file', 'map_infrastructure', 'triage_indicators'];
/** What a 2026-07-28 client may keep a listing for (create-server.ts LIST_HINT). */
const LIST_HINT = { ttlMs: 60 * 60_000, cacheScope: 'public' };

/** A valid demo call of each read tool, and a line its answer holds (README "Examples", test/golden). */
const READ_CALLS: Record<string, { args: Record<string, unknown>; says: RegExp }> = {
  vt_get_report: { args: { indicator: PE_MD5 }, says: new RegExp(`File ${PE_SHA256}\\nVerdict: MALICIOUS`) },
  vt_triage: {
    args: { indicators: `From the ticket: github[.]com, 1.1.1[.]1 and ${PE_MD5}` },
    says: /Triage job \w+ \(done\): 3 indicators/,
  },
  vt_quota: { args: {}, says: /lookups used; resets at/ },
  vt_get_relationships: {
    args: { indicator: '1.1.1.1', relationship: 'resolutions', limit: 3 },
    says: /resolutions of IP address 1\.1\.1\.1: 3 shown/,
  },
  vt_search: {
    args: { query: 'entity:url hostname:example.com', limit: 3 },
    says: /VT Intelligence `entity:url hostname:example\.com`: [\d,]+ hits, 3 shown/,
  },
  vt_get_behaviour: {
    args: { indicator: SANDBOXED },
    says: new RegExp(`Sandbox behaviour of file ${SANDBOXED}`),
  },
};

interface Listing {
  tools: unknown[];
  resources: string[];
  templates: string[];
  prompts: string[];
}

interface Session {
  kind: Kind;
  mode: Mode;
  client: Client;
  /** Every message the server sent this client after connect (responses, and its own requests). */
  inbox: JSONRPCMessage[];
  /** The messages of the confirmations the client was asked (by elicitation/create or inputRequired). */
  asked: string[];
  /** How the client answers the next confirmation. */
  answer: ElicitResult;
  /** What this session listed (for comparing the modes). */
  listing?: Listing;
}

// ---------------------------------------------------------------- the HTTP server (one child, every mode)

interface HttpChild {
  url: string;
  child: ChildProcess;
  stderr: () => string;
}

/** Our own environment for a child: PATH only, nothing of the caller's (no key, no state location). */
function childEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', VT_STATE: 'memory', VT_ENABLE_SUBMISSIONS: 'true', ...extra };
}

async function startHttpChild(): Promise<HttpChild> {
  const child = spawn(process.execPath, [ENTRY, '--demo', '--transport', 'http', '--port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    // Two tokens (two clients); no per-client minute: three modes' calls share token A's.
    env: childEnv({ VT_MCP_AUTH_TOKEN: `${TOKEN_A},${TOKEN_B}`, VT_MCP_CLIENT_RATE: '0' }),
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  // --port 0: the port the system gave is in the start line.
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line within 10 s:\n${err}`)), 10_000);
    const look = () => {
      const m = /serving Streamable HTTP at (http:\/\/\S+\/mcp)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    child.stderr?.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the HTTP server exited (${code}):\n${err}`));
    });
  });
  const health = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(5_000) });
  expect(health.status).toBe(200);
  return { url, child, stderr: () => err };
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------- sessions

let http: HttpChild | undefined;
const stdioErr = new Map<string, () => string>();

function makeTransport(kind: Kind, mode: Mode): Transport {
  if (kind === 'http') {
    if (!http) throw new Error('the HTTP server did not start');
    // Token B for the 2025 client, A for both 2026 ones: either token is a client.
    const token = mode === 'legacy' ? TOKEN_B : TOKEN_A;
    return new StreamableHTTPClientTransport(new URL(http.url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
  }
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [ENTRY, '--demo'],
    env: childEnv({}),
    cwd: ROOT,
    stderr: 'pipe',
  });
  let err = '';
  (transport.stderr as Readable | null)?.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  stdioErr.set(`${kind}/${mode}`, () => err);
  return transport;
}

async function connect(kind: Kind, mode: Mode): Promise<Session> {
  const client = new Client(
    { name: 'vtbrief-eras-test', version: '0.0.0' },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: MODES[mode] } },
  );
  const session: Session = {
    kind,
    mode,
    client,
    inbox: [],
    asked: [],
    answer: { action: 'accept', content: { confirm: true } },
  };
  // On 2025 the server's elicitation/create lands here; on 2026-07-28 the client fulfils the call's
  // inputRequired through the same handler and calls again with the answer and the signed state.
  client.setRequestHandler('elicitation/create', async (req) => {
    session.asked.push(req.params.message);
    return session.answer;
  });
  const transport = makeTransport(kind, mode);
  await client.connect(transport, { timeout: REQUEST_MS });
  // Everything the server sends from now on is seen on the wire before the client reads it.
  const deliver = transport.onmessage;
  transport.onmessage = (message: JSONRPCMessage, extra?: MessageExtraInfo) => {
    session.inbox.push(message);
    deliver?.(message, extra);
  };
  return session;
}

const sessions = new Map<string, Promise<Session>>();
const key = (kind: Kind, mode: Mode) => `${kind}/${mode}`;

beforeAll(async () => {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run "npm run build" first.`);
  http = await startHttpChild();
  // The six connections open at once; each describe waits for its own (and fails on its own error).
  for (const kind of KINDS) {
    for (const mode of Object.keys(MODES) as Mode[]) {
      const s = connect(kind, mode);
      s.catch(() => {}); // reported by the describe that awaits it
      sessions.set(key(kind, mode), s);
    }
  }
  await Promise.allSettled(sessions.values());
});

afterAll(async () => {
  const settled = await Promise.allSettled(sessions.values());
  await Promise.all(
    settled.map((s) => (s.status === 'fulfilled' ? s.value.client.close().catch(() => {}) : undefined)),
  );
  await stopChild(http?.child);
});

// ---------------------------------------------------------------- helpers

const opts = { timeout: REQUEST_MS };

function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

async function call(s: Session, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return s.client.callTool({ name, arguments: args }, opts);
}

/** Requests the server has sent upstream since it started (vt_quota), to see what a call sent. */
async function upstreamRequests(s: Session): Promise<number> {
  const r = await call(s, 'vt_quota', {});
  const sc = r.structuredContent as { server?: { upstream?: { requests?: number } } } | undefined;
  const n = sc?.server?.upstream?.requests;
  if (typeof n !== 'number') throw new Error(`vt_quota without upstream.requests: ${textOf(r)}`);
  return n;
}

/** How the server asked this session's client since `from`: a server request, or a call's inputRequired. */
function askedBy(s: Session, from: number): { elicitationRequests: number; inputRequired: number } {
  const seen = s.inbox.slice(from);
  return {
    elicitationRequests: seen.filter((m) => 'method' in m && m.method === 'elicitation/create').length,
    inputRequired: seen.filter(
      (m) => 'result' in m && (m.result as { resultType?: unknown }).resultType === 'input_required',
    ).length,
  };
}

const modern = (mode: Mode) => mode !== 'legacy';

// ---------------------------------------------------------------- every transport × mode

for (const kind of KINDS) {
  for (const mode of Object.keys(MODES) as Mode[]) {
    describe(`${kind}, client mode ${mode}`, () => {
      let s: Session;
      beforeAll(async () => {
        try {
          s = await (sessions.get(key(kind, mode)) as Promise<Session>);
        } catch (err) {
          const log = kind === 'http' ? http?.stderr() : stdioErr.get(key(kind, mode))?.();
          throw new Error(`connect failed: ${err instanceof Error ? err.message : err}\n${log ?? ''}`);
        }
      });

      it(modern(mode) ? `negotiates ${MODERN}` : 'speaks a 2025 revision', () => {
        expect(s.client.getServerVersion()?.name).toBe('vtbrief');
        if (modern(mode)) {
          expect(s.client.getProtocolEra()).toBe('modern');
          expect(s.client.getNegotiatedProtocolVersion()).toBe(MODERN);
        } else {
          expect(s.client.getProtocolEra()).toBe('legacy');
          expect(s.client.getNegotiatedProtocolVersion()).toMatch(/^2025-\d\d-\d\d$/);
        }
      });

      it('lists the tools, resources, templates and prompts (with cache hints on 2026-07-28 only)', async () => {
        const bypass = { ...opts, cacheMode: 'bypass' as const };
        const tools = await s.client.listTools(undefined, bypass);
        const resources = await s.client.listResources(undefined, bypass);
        const templates = await s.client.listResourceTemplates(undefined, bypass);
        const prompts = await s.client.listPrompts(undefined, bypass);
        expect(tools.tools.map((t) => t.name)).toEqual(TOOL_NAMES);
        expect(resources.resources.map((r) => r.uri)).toEqual(['vt://docs/search-syntax']);
        expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toEqual(TEMPLATES);
        expect(prompts.prompts.map((p) => p.name).sort()).toEqual(PROMPTS);
        for (const listed of [tools, resources, templates, prompts]) {
          const hint = { ttlMs: listed.ttlMs, cacheScope: listed.cacheScope };
          expect(hint).toEqual(modern(mode) ? LIST_HINT : { ttlMs: undefined, cacheScope: undefined });
        }
        s.listing = {
          tools: tools.tools,
          resources: resources.resources.map((r) => r.uri),
          templates: templates.resourceTemplates.map((t) => t.uriTemplate),
          prompts: prompts.prompts.map((p) => p.name).sort(),
        };
      });

      it('answers every read tool with valid demo arguments', async () => {
        expect(Object.keys(READ_CALLS)).toEqual(READ_TOOLS.map((t) => t.name));
        for (const [name, c] of Object.entries(READ_CALLS)) {
          const r = await call(s, name, c.args);
          const text = textOf(r);
          expect(r.isError, `${name}: ${text}`).toBeFalsy();
          expect(text.startsWith(DEMO_BANNER), name).toBe(true);
          expect(text, name).toMatch(c.says);
          expect(r.structuredContent, name).toBeDefined();
        }
      });

      // 2025 over stateless HTTP: a fresh server per POST has no client capabilities and no way to send
      // the client a request, so the server cannot ask (the test below pins what happens instead).
      const confirms = !(kind === 'http' && mode === 'legacy');

      if (confirms) {
        it('vt_submit_url asks first, sends once on yes, and vt_get_analysis finds what was sent', async () => {
          const url = `http://example.com/eras/${kind}-${mode}`;
          const before = await upstreamRequests(s);
          const mark = s.inbox.length;
          s.asked.length = 0;
          s.answer = { action: 'accept', content: { confirm: true } };
          const r = await call(s, 'vt_submit_url', { url });
          expect(r.isError, textOf(r)).toBeFalsy();
          expect(textOf(r)).toContain(`Submitted "${url}" to VirusTotal. Analysis id: u-`);
          const id = (r.structuredContent as { analysis_id?: string }).analysis_id ?? '';
          expect(id).toMatch(/^u-/);
          expect(s.asked).toHaveLength(1);
          expect(s.asked[0]).toContain(`URL: ${url}`);
          // 2026-07-28: the question came back as the call's inputRequired, never as a server request.
          expect(askedBy(s, mark)).toEqual(
            modern(mode)
              ? { elicitationRequests: 0, inputRequired: 1 }
              : { elicitationRequests: 1, inputRequired: 0 },
          );
          // One POST /urls, though the call went out twice on 2026-07-28 (question, then answer).
          expect(await upstreamRequests(s)).toBe(before + 1);
          // The stand-in filed the submission: its analysis names the URL (first look: queued).
          const a = await call(s, 'vt_get_analysis', { id, wait_seconds: 0 });
          expect(a.isError, textOf(a)).toBeFalsy();
          expect(textOf(a)).toContain(`Target: url "${url}"`);
          expect(a.structuredContent).toMatchObject({ analysis_id: id });
        });

        it('a declined confirmation sends nothing, and the answer says so', async () => {
          const before = await upstreamRequests(s);
          const mark = s.inbox.length;
          s.asked.length = 0;
          s.answer = { action: 'decline' };
          try {
            const r = await call(s, 'vt_submit_url', {
              url: `http://example.com/eras/declined-${kind}-${mode}`,
            });
            expect(r.isError, textOf(r)).toBeFalsy();
            expect(textOf(r)).toMatch(
              /Nothing was sent: the user declined the confirmation to send this URL/,
            );
            expect(r.structuredContent).toEqual({ status: 'declined' });
          } finally {
            s.answer = { action: 'accept', content: { confirm: true } };
          }
          expect(s.asked).toHaveLength(1);
          const how = askedBy(s, mark);
          expect(modern(mode) ? how.inputRequired : how.elicitationRequests).toBe(1);
          expect(await upstreamRequests(s)).toBe(before);
        });
      } else {
        it('2025 over stateless HTTP cannot be asked: the submission goes as for a client without elicitation', async () => {
          // The client declared form elicitation and would decline, but a stateless 2025 POST has no
          // session to send it a request on (the README says so; a 2026-07-28 client is asked).
          const before = await upstreamRequests(s);
          const mark = s.inbox.length;
          s.asked.length = 0;
          s.answer = { action: 'decline' };
          const url = `http://example.com/eras/unasked-${kind}-${mode}`;
          let r: CallToolResult;
          try {
            r = await call(s, 'vt_submit_url', { url });
          } finally {
            s.answer = { action: 'accept', content: { confirm: true } };
          }
          expect(r.isError, textOf(r)).toBeFalsy();
          expect(textOf(r)).toContain(`Submitted "${url}" to VirusTotal.`);
          expect(s.asked).toEqual([]);
          expect(askedBy(s, mark)).toEqual({ elicitationRequests: 0, inputRequired: 0 });
          expect(await upstreamRequests(s)).toBe(before + 1);
          const id = (r.structuredContent as { analysis_id?: string }).analysis_id ?? '';
          const a = await call(s, 'vt_get_analysis', { id, wait_seconds: 0 });
          expect(textOf(a)).toContain(`Target: url "${url}"`);
        });
      }

      it('bad input is an isError answer in our words, not a protocol error', async () => {
        const before = await upstreamRequests(s);
        s.asked.length = 0;
        const report = await call(s, 'vt_get_report', { indicator: 'not an indicator' });
        expect(report.isError).toBe(true);
        expect(textOf(report)).toContain(
          '"not an indicator" is not a recognised indicator. Accepted: a file hash',
        );
        // A schema violation, worded by the tool's own schema message.
        const triage = await call(s, 'vt_triage', { indicators: ['github.com', 42] });
        expect(triage.isError).toBe(true);
        expect(textOf(triage)).toContain(
          'Entry 2 of the list is not a string; give each indicator as a string.',
        );
        const analysis = await call(s, 'vt_get_analysis', { id: 'no spaces allowed' });
        expect(analysis.isError).toBe(true);
        expect(textOf(analysis)).toContain('An analysis id has only letters, digits and - _ = :');
        // A write tool refuses bad input before asking anyone anything.
        const submit = await call(s, 'vt_submit_url', { url: 'javascript:alert(1)' });
        expect(submit.isError).toBe(true);
        expect(textOf(submit)).toContain('"javascript:alert(1)" is not an http, https or ftp URL.');
        expect(s.asked).toEqual([]);
        expect(await upstreamRequests(s)).toBe(before);
      });

      it('an unknown resource is invalid params in our words', async () => {
        const err = await s.client.readResource({ uri: 'vt://nothing/x' }, opts).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: -32602 });
        expect((err as Error).message).toContain(
          'No resource at "vt://nothing/x". This server\'s resources:',
        );
      });

      it('reads the search syntax and a domain report, and gets a prompt', async () => {
        const syntax = await s.client.readResource({ uri: 'vt://docs/search-syntax' }, opts);
        const doc = syntax.contents[0] as { uri: string; text?: string };
        expect(doc.uri).toBe('vt://docs/search-syntax');
        expect(doc.text).toContain('entity:');
        const domain = await s.client.readResource({ uri: 'vt://domain/github.com' }, opts);
        const report = domain.contents[0] as { uri: string; text?: string };
        expect(report.uri).toBe('vt://domain/github.com');
        expect(report.text).toMatch(/(^|\n)Domain github\.com\n/);
        const prompt = await s.client.getPrompt(
          { name: 'investigate_file', arguments: { hash: PE_MD5 } },
          opts,
        );
        const text = prompt.messages.map((m) => (m.content.type === 'text' ? m.content.text : '')).join('\n');
        expect(text).toContain(PE_MD5);
        expect(text).toContain('vt_get_report');
      });
    });
  }
}

describe('every transport and mode', () => {
  it('lists exactly the same tools (whole definitions), resources, templates and prompts', async () => {
    const all = await Promise.all(sessions.values());
    const listings = all.map((s) => ({ at: `${s.kind}/${s.mode}`, listing: s.listing }));
    const first = listings[0];
    expect(first?.listing).toBeDefined();
    for (const l of listings) expect(l.listing, l.at).toEqual(first?.listing);
  });
});

// ---------------------------------------------------------------- HTTP with tokens, on the wire

describe('HTTP with VT_MCP_AUTH_TOKEN', () => {
  /** A 2026-07-28 tools/list as the v2 client sends it: the _meta envelope and the mirrored headers. */
  function modernToolsList(authorization?: string): Promise<Response> {
    if (!http) throw new Error('the HTTP server did not start');
    return fetch(http.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-method': 'tools/list',
        'mcp-protocol-version': MODERN,
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN,
            'io.modelcontextprotocol/clientInfo': { name: 'vtbrief-eras-raw', version: '0.0.0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
      signal: AbortSignal.timeout(REQUEST_MS),
    });
  }

  /** The JSON-RPC message of a response, sent as JSON or as one SSE event. */
  async function messageOf(res: Response): Promise<{ result?: Record<string, unknown>; error?: unknown }> {
    const body = await res.text();
    if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return JSON.parse(body);
    const data = body
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trim());
    return JSON.parse(data[data.length - 1] ?? 'null');
  }

  it('answers a 2026-07-28 request with token A, with the cache hint on the wire', async () => {
    const res = await modernToolsList(`Bearer ${TOKEN_A}`);
    expect(res.status).toBe(200);
    const msg = await messageOf(res);
    const result = msg.result as { tools?: Array<{ name: string }>; ttlMs?: unknown; cacheScope?: unknown };
    expect(result.tools?.map((t) => t.name)).toEqual(TOOL_NAMES);
    expect({ ttlMs: result.ttlMs, cacheScope: result.cacheScope }).toEqual(LIST_HINT);
  });

  it('refuses a request without a token, or with another, with 401', async () => {
    for (const authorization of [undefined, 'Bearer not-a-token', `Bearer ${TOKEN_A}x`]) {
      const res = await modernToolsList(authorization);
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(await messageOf(res)).toMatchObject({ error: { code: -32001 } });
    }
  });

  it('a pinned 2026-07-28 client without a token cannot connect', async () => {
    if (!http) throw new Error('the HTTP server did not start');
    const client = new Client(
      { name: 'vtbrief-eras-test', version: '0.0.0' },
      { versionNegotiation: { mode: { pin: MODERN } } },
    );
    try {
      await expect(
        client.connect(new StreamableHTTPClientTransport(new URL(http.url)), { timeout: REQUEST_MS }),
      ).rejects.toThrow();
      expect(client.getNegotiatedProtocolVersion()).toBeUndefined();
    } finally {
      await client.close().catch(() => {});
    }
  });
});

// ---------------------------------------------------------------- a hostile client and the signed state

describe('a 2026-07-28 confirmation cannot be forged, moved or replayed by another token', () => {
  let id = 100;
  /** A 2026-07-28 tools/call on the wire; the JSON-RPC message that answers it. */
  async function submit(
    token: string,
    url: string,
    extra: { requestState?: string; accept?: boolean } = {},
  ): Promise<{ result?: Record<string, unknown>; error?: { code: number; message: string } }> {
    if (!http) throw new Error('the HTTP server did not start');
    const res = await fetch(http.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
        'mcp-method': 'tools/call',
        'mcp-name': 'vt_submit_url',
        'mcp-protocol-version': MODERN,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: ++id,
        method: 'tools/call',
        params: {
          name: 'vt_submit_url',
          arguments: { url },
          ...(extra.accept
            ? { inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } }
            : {}),
          ...(extra.requestState ? { requestState: extra.requestState } : {}),
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN,
            'io.modelcontextprotocol/clientInfo': { name: 'vtbrief-hostile', version: '0.0.0' },
            'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
          },
        },
      }),
      signal: AbortSignal.timeout(REQUEST_MS),
    });
    const body = await res.text();
    const data = (res.headers.get('content-type') ?? '').includes('text/event-stream')
      ? (body
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .at(-1) ?? 'null')
      : body;
    return JSON.parse(data);
  }
  const sent = (m: { result?: Record<string, unknown> }) =>
    JSON.stringify(m.result ?? {}).includes('Submitted');

  it('asks again for an answer without the state or with another URL; refuses a changed state or another token', async () => {
    const url = 'http://example.com/eras/hostile-one';
    const asked = await submit(TOKEN_A, url);
    expect(asked.result).toMatchObject({ resultType: 'input_required' });
    const state = asked.result?.requestState as string;
    expect(typeof state).toBe('string');

    // "Yes" without the state the server signed: the question again, nothing sent.
    const forged = await submit(TOKEN_A, url, { accept: true });
    expect(forged.result).toMatchObject({ resultType: 'input_required' });
    // The state of one URL brought back for another: the question again.
    const moved = await submit(TOKEN_A, 'http://example.com/eras/hostile-two', {
      accept: true,
      requestState: state,
    });
    expect(moved.result).toMatchObject({ resultType: 'input_required' });
    expect(sent(moved)).toBe(false);
    // Another token's client, or a state changed on the way: refused outright.
    const other = await submit(TOKEN_B, url, { accept: true, requestState: state });
    expect(other.error?.code).toBe(-32602);
    const i = state.length - 2;
    const changed = state.slice(0, i) + (state[i] === 'A' ? 'B' : 'A') + state.slice(i + 1);
    const tampered = await submit(TOKEN_A, url, { accept: true, requestState: changed });
    expect(tampered.error?.code).toBe(-32602);
    // The right answer with the right state: sent.
    const yes = await submit(TOKEN_A, url, { accept: true, requestState: state });
    expect(sent(yes)).toBe(true);
  });
});
