/**
 * The key that signs what a 2026-07-28 client echoes back between the rounds of one tool call (its
 * user's answer to a confirmation): generated once per VirusTotal key and kept in the key's state store,
 * so that every replica and the next start verify what another minted. Never derived from the API key.
 */
import { randomBytes } from 'node:crypto';
import {
  createRequestStateCodec,
  type ServerContext as RequestContext,
  type RequestStateCodec,
} from '@modelcontextprotocol/server';
import type { ConfirmState } from '../answers/context.js';
import type { StateStore } from '../vt/state/store.js';

const DOC = 'request-state-key';
const LEASE = 'request-state-key-minting';
/** 32 random bytes, base64url: what the SDK asks of a key at the least. */
const KEY_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** How long an answer may take to come back: the confirmation's own wait. */
const TTL_SECONDS = 5 * 60;

/** The stored key, or a new one filed under a lease (two replicas starting together agree on one). */
async function sharedKey(store: StateStore): Promise<string> {
  const owner = randomBytes(8).toString('hex');
  for (let attempt = 0; attempt < 50; attempt++) {
    const now = Date.now();
    const stored = await store.docGet(DOC, now);
    // A value of another shape (a damaged or planted document) is replaced, not trusted.
    if (stored !== undefined && KEY_SHAPE.test(stored)) return stored;
    if (await store.lease(LEASE, owner, 5_000, now)) {
      try {
        const again = await store.docGet(DOC, Date.now());
        if (again !== undefined && KEY_SHAPE.test(again)) return again;
        const fresh = randomBytes(32).toString('base64url');
        await store.docPut(DOC, fresh, undefined, Date.now());
        return fresh;
      } finally {
        await store.releaseLease(LEASE, owner).catch(() => {});
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no request-state key after 5 s');
}

/**
 * The codec for this process. `caller` binds a state to who minted it: another token's client cannot
 * replay it. Without a store (no API key), or when the store fails, the key is this process's own:
 * an answer then has to come back to the same process, which stdio always does. The key is read on
 * first use, not before the server answers its first request (a start waits for nothing it may not need).
 */
export function requestStateCodec(
  store: StateStore | undefined,
  caller: (ctx: RequestContext) => string,
): RequestStateCodec<ConfirmState> {
  let codec: Promise<RequestStateCodec<ConfirmState>> | undefined;
  const ready = () => {
    codec ??= (async () => {
      let key: string | undefined;
      if (store && store.kind !== 'memory') key = await sharedKey(store).catch(() => undefined);
      return createRequestStateCodec<ConfirmState>({
        key: key ?? randomBytes(32).toString('base64url'),
        ttlSeconds: TTL_SECONDS,
        bind: (ctx) => `${ctx.mcpReq.method}\0${caller(ctx)}`,
      });
    })();
    return codec;
  };
  return {
    mint: async (payload, ctx) => (await ready()).mint(payload, ctx),
    verify: async (state, ctx) => (await ready()).verify(state, ctx),
  };
}
