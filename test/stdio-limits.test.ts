/**
 * A stdio message over the 10 MB limit. The SDK's transport stopped reading without
 * a word: the process exited 0, or lingered deaf with --demo. Now one stderr line says why, the request
 * is answered with an error, and the server keeps serving. Needs a build in dist/ (`npm run build`).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Stream } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import { testClient } from './helpers/client.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = `${ROOT}dist/index.js`;
const BUILT = existsSync(ENTRY);
const LIMIT = 10 * 1024 * 1024;
const BIG = 'x'.repeat(11 * 1024 * 1024);

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

/** `node dist/index.js --demo` with raw pipes; collects stdout lines and stderr. */
function spawnDemo(): {
  child: ChildProcessWithoutNullStreams;
  lines: () => Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [ENTRY, '--demo'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  child.stdin.on('error', () => {}); // EPIPE if the server stopped reading: the assertions say so
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stderr: () => err,
    exited,
  };
}

async function until(what: string, cond: () => boolean, stderr: () => string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; stderr: ${stderr().slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('stdio: a message over the size limit', () => {
  it.skipIf(!BUILT)(
    'is answered with an error, said on stderr, and the server keeps serving',
    async () => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [ENTRY, '--demo'],
        env: { PATH: process.env.PATH ?? '' },
        cwd: ROOT,
        stderr: 'pipe',
      });
      let err = '';
      (transport.stderr as Stream | null)?.on('data', (d: Buffer) => {
        err += d.toString('utf8');
      });
      const client = testClient({ name: 'stdio-limits-test', version: '0' });
      await client.connect(transport);
      cleanup.push(() => client.close());

      // The SDK client writes the id last, after the 11 MB of params.
      await expect(
        client.callTool({ name: 'vt_triage', arguments: { text: BIG } }, undefined, { timeout: 15_000 }),
      ).rejects.toThrow(/Request too large: over 10485760 bytes/);
      const stdioLines = err.split('\n').filter((l) => l.includes('stdio:'));
      expect(stdioLines).toHaveLength(1);
      expect(stdioLines[0]).toMatch(/warn: stdio: a message of over 10485760 bytes was received/);
      expect(stdioLines[0]).toMatch(/keeps serving/);

      // Still reading: the next calls are served.
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('vt_get_report');
      const r = await client.callTool({ name: 'vt_get_report', arguments: { indicator: 'github.com' } });
      expect(r.isError).toBeFalsy();
    },
    60_000,
  );

  it.skipIf(!BUILT)(
    'recovers whatever the key order, and a notification gets no answer',
    async () => {
      const s = spawnDemo();
      await until('startup', () => /serving on stdio/.test(s.stderr()), s.stderr);
      // Bounded: a server that stopped reading never drains its pipe.
      const write = (m: string) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5_000);
          const done = () => {
            clearTimeout(timer);
            resolve();
          };
          if (s.child.stdin.write(m)) done();
          else s.child.stdin.once('drain', done);
        });
      // id first (answered at once), then a notification (nothing to answer), then a plain ping.
      await write(
        `{"jsonrpc":"2.0","id":"big-1","method":"tools/call","params":{"name":"vt_triage","arguments":{"text":"${BIG}"}}}\n`,
      );
      await write(`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${BIG}"}}\n`);
      await write('{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
      await until('the ping answer', () => s.lines().some((l) => l.id === 2), s.stderr);

      const answers = s.lines();
      expect(answers.filter((l) => l.id === 'big-1')).toEqual([
        {
          jsonrpc: '2.0',
          id: 'big-1',
          error: { code: -32600, message: expect.stringMatching(/^Request too large: over 10485760 bytes/) },
        },
      ]);
      expect(answers.find((l) => l.id === 2)).toMatchObject({ result: {} });
      expect(answers).toHaveLength(2);
      expect(s.stderr().match(new RegExp(`a message of over ${LIMIT} bytes`, 'g'))).toHaveLength(2);

      // It ends when its client goes away, not before, and cleanly.
      expect(s.child.exitCode).toBeNull();
      s.child.stdin.end();
      expect(await s.exited).toBe(0);
    },
    60_000,
  );

  it.skipIf(!BUILT)(
    'a message just under the limit is still read',
    async () => {
      const s = spawnDemo();
      await until('startup', () => /serving on stdio/.test(s.stderr()), s.stderr);
      const pad = 'y'.repeat(LIMIT - 200);
      s.child.stdin.write(`{"jsonrpc":"2.0","id":3,"method":"ping","params":{"_meta":{"pad":"${pad}"}}}\n`);
      await until('the ping answer', () => s.lines().some((l) => l.id === 3), s.stderr);
      expect(s.lines().find((l) => l.id === 3)).toMatchObject({ result: {} });
      expect(s.stderr()).not.toMatch(/stdio:/);
    },
    60_000,
  );
});

describe('stdio: many requests at once, read slowly', () => {
  it.skipIf(!BUILT)(
    'answers all 600 while stdout is backed up, without a drain listener per pending answer',
    async () => {
      const child = spawn(process.execPath, [ENTRY], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', VT_STATE: 'memory', VIRUSTOTAL_API_KEY: 'test-key' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      cleanup.push(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString('utf8');
      });
      child.stdin.on('error', () => {});
      const stderr = () => err;
      await until('startup', () => /serving on stdio/.test(err), stderr);

      // stdout is not read yet (no 'data' listener): the pipe fills and the server's writes queue up.
      const N = 600;
      const lines = [
        '{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}',
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        ...Array.from({ length: N }, (_, i) => `{"jsonrpc":"2.0","id":${i},"method":"tools/list"}`),
      ];
      child.stdin.write(`${lines.join('\n')}\n`);
      await new Promise((r) => setTimeout(r, 1500));

      const ids = new Set<unknown>();
      let pending = '';
      child.stdout.on('data', (d: Buffer) => {
        pending += d.toString('utf8');
        const parts = pending.split('\n');
        pending = parts.pop() ?? '';
        for (const p of parts) {
          if (p.trim() === '') continue;
          const m = JSON.parse(p) as { id?: unknown; result?: { tools?: unknown[] } };
          if (typeof m.id === 'number' && Array.isArray(m.result?.tools)) ids.add(m.id);
        }
      });
      await until(`${N} answers`, () => ids.size === N, stderr, 30_000);
      expect(ids.size).toBe(N);
      expect(err).not.toMatch(/MaxListenersExceededWarning/);
      child.stdin.end();
    },
    60_000,
  );
});
