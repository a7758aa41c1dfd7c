/**
 * The key that signs what a 2026-07-28 client echoes back between the rounds of a confirmation: made
 * once per VirusTotal key and kept in the key's state store, so that replicas (two connections to one
 * SQLite file here) and the next start verify what another minted; bound to the caller; never the API
 * key; a damaged or planted key document is replaced, not trusted.
 */
import type { ServerContext } from '@modelcontextprotocol/server';
import { afterAll, describe, expect, it } from 'vitest';
import { requestStateCodec } from '../src/server/request-state.js';
import { sqliteConnections } from './helpers/state-backends.js';

const API_KEY = 'request-state-test-key-0123456789abcdef0123456789abcdef';
const files = sqliteConnections('request-state', API_KEY);
afterAll(() => files.close());
const connection = files.connection;

/** What the codec reads of a request: its method and the caller the HTTP layer filed. */
const request = (caller?: string) =>
  ({
    mcpReq: { method: 'tools/call' },
    ...(caller ? { http: { authInfo: { clientId: caller, token: caller, scopes: [] } } } : {}),
  }) as unknown as ServerContext;
const callerOf = (ctx: ServerContext) => ctx.http?.authInfo?.clientId ?? 'local';

describe('request-state key', () => {
  it('two replicas starting together agree on one key: what one mints, the other verifies', async () => {
    const a = requestStateCodec(connection('shared.db'), callerOf);
    const b = requestStateCodec(connection('shared.db'), callerOf);
    // Both make their key at once, as two replicas starting together would.
    const [state] = await Promise.all([
      a.mint({ subject: 'x' }, request('token:aa')),
      b.mint({ subject: 'y' }, request('token:aa')),
    ]);
    await expect(b.verify(state, request('token:aa'))).resolves.toEqual({ subject: 'x' });
    // The next start reads the same key.
    const later = requestStateCodec(connection('shared.db'), callerOf);
    await expect(later.verify(state, request('token:aa'))).resolves.toEqual({ subject: 'x' });
  });

  it('refuses a state changed on the way, or brought back by another caller', async () => {
    const codec = requestStateCodec(connection('bind.db'), callerOf);
    const state = await codec.mint({ subject: 'url\0http://a.example/' }, request('token:aa'));
    await expect(codec.verify(state, request('token:bb'))).rejects.toThrow();
    await expect(codec.verify(state, request())).rejects.toThrow();
    const i = state.length - 3;
    const changed = state.slice(0, i) + (state[i] === 'A' ? 'B' : 'A') + state.slice(i + 1);
    await expect(codec.verify(changed, request('token:aa'))).rejects.toThrow();
  });

  it('keeps a random key, not the API key, and replaces a planted one', async () => {
    const store = connection('planted.db');
    const first = requestStateCodec(store, callerOf);
    // Nothing is read or written before the key is first needed: a start waits for nothing.
    expect(await store.docGet('request-state-key', Date.now())).toBeUndefined();
    await first.mint({ subject: 's' }, request());
    const key = await store.docGet('request-state-key', Date.now());
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key).not.toContain(API_KEY.slice(0, 16));
    // Someone who can write the store plants a short, guessable key: it is not used.
    await store.docPut('request-state-key', 'secret', undefined, Date.now());
    const codec = requestStateCodec(store, callerOf);
    const minted = await codec.mint({ subject: 's' }, request());
    const now = await store.docGet('request-state-key', Date.now());
    expect(now).not.toBe('secret');
    expect(now).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(codec.verify(minted, request())).resolves.toEqual({ subject: 's' });
  });
});
