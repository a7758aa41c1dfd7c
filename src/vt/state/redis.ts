/**
 * The store for several machines: Redis (node-redis v6). Accounting is atomic in Lua scripts (run by
 * EVALSHA, EVAL when the server does not have them yet): pending slots and settled slots in two
 * sorted sets scored by the time each frees, a counter per UTC day (expiring after ~2 days), a pause
 * key with PX. Cache entries are hashes with PX, alias keys point to them, and an index ordered by
 * storing keeps the size bound (oldest stored goes first). Leases and documents have PX too.
 * Every key is under `<namespace>:<keyspace>:` (namespace "vtbrief" by default). Standalone Redis:
 * the scripts touch keys they build from that prefix, which a cluster would not allow.
 *
 * It never hangs a caller: commands fail at once while disconnected (no offline queue), every command
 * has a time limit, the connection is retried in the background with a capped backoff. The limits are
 * ours (util/deadline.ts): node-redis' own timers fire before a reply that came during a stall of this
 * process is read, so they are only a backstop for a server that never answers.
 *
 * The Lua scripts, and the table of the keys and fields they keep, are in redis-scripts.ts.
 */

import { type CommandParser, createClient, defineScript, RESP_TYPES } from 'redis';
import { z } from 'zod';
import { withinDeadline } from '../../util/deadline.js';
import { nextUtcMidnight } from '../../util/time.js';
import { packBody, unpackBody } from './packed-body.js';
import {
  ACQUIRE,
  CACHE_GET,
  CACHE_SET,
  CACHE_STATS,
  DOC_GET,
  DOC_LIST,
  DOC_PUT,
  LEASE,
  PAUSE,
  REFUND,
  RELEASE,
  SETTLE,
  USAGE,
} from './redis-scripts.js';
import {
  type Acquire,
  type AcquireRequest,
  type CachedBody,
  type CacheStats,
  cacheKeys,
  describeError,
  entryBytes,
  newSlotId,
  type StateStore,
  StateUnavailableError,
  type StoreHealth,
  slotDay,
  type Usage,
  usageOf,
  utcDay,
  type WindowSpec,
  windowMs,
  windowRetryAt,
} from './store.js';

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port/db or rediss://… */
  url: string;
  keyspace: string;
  cacheMaxBytes: number;
  /** First key segment; tests use their own. Default "vtbrief". */
  namespace?: string;
  /** Time limit of each command (ms). Default 1500. */
  timeoutMs?: number;
  /** How long open waits for the first connection before answering anyway (ms). Default timeoutMs. */
  connectWaitMs?: number;
  log?: (msg: string) => void;
}

/**
 * node-redis' own command and connection timeouts. A stall of this process longer than these would
 * fail a command that was answered; they only free what a server that never answers leaves pending.
 */
const BACKSTOP_COMMAND_MS = 30_000;
const BACKSTOP_CONNECT_MS = 10_000;
/** Extra life given to Redis' own expiries beyond the logical ones (a safety net, not the logic). */
const SLACK_MS = 60_000;

/** A script's reply is read as it comes (unknown), and checked by the method that ran it. */
const script = (SCRIPT: string, NUMBER_OF_KEYS: number) =>
  defineScript({
    SCRIPT,
    NUMBER_OF_KEYS,
    parseCommand(parser: CommandParser, keys: string[], args: Array<string | Buffer>) {
      for (const k of keys) parser.pushKey(k);
      parser.push(...args);
    },
    transformReply: (reply: unknown): unknown => reply,
  });

/*
 * The replies of the scripts (redis-scripts.ts), as Redis hands Lua values over: a number as an
 * integer, a string as a string (a Buffer on the connection that maps them so), false as null.
 */
/** ZRANGE … WITHSCORES: member, score, member, score, … */
const FLAT = z.array(z.string());
const ACQUIRE_REPLY = z.union([
  // Granted: the slot and the day's count.
  z.tuple([z.literal(1), z.string(), z.number()]),
  z.tuple([z.literal(0), z.literal('daily'), z.number()]),
  // The pause's end, as stored.
  z.tuple([z.literal(0), z.literal('paused'), z.string()]),
  // The window is full: the live count and the earliest settled and pending slots.
  z.tuple([z.literal(0), z.literal('window'), z.number(), z.number(), FLAT, FLAT]),
]);
/**
 * The day's count and the pause's end as stored ('0' when none), the live count, and the earliest
 * settled and pending slots.
 */
const USAGE_REPLY = z.tuple([z.string(), z.string(), z.number(), FLAT, FLAT]);
/** Body, fetchedAt, notFound, encoding; null when missing or expired. */
const BYTES_FIELD = z.instanceof(Buffer).nullable();
const CACHE_GET_REPLY = z.tuple([z.instanceof(Uint8Array), BYTES_FIELD, BYTES_FIELD, BYTES_FIELD]);
const CACHE_STATS_REPLY = z.tuple([z.number(), z.number()]);
const DOC_LIST_REPLY = z.array(z.string());

/** A script's reply, checked: one of another shape is the store failing, not figures to go by. */
function checked<S extends z.ZodType>(schema: S, reply: unknown, script: string): z.output<S> {
  const r = schema.safeParse(reply);
  if (!r.success) throw new Error(`Redis answered ${script} with a reply of another shape`);
  return r.data;
}

const SCRIPTS = {
  vtbAcquire: script(ACQUIRE, 4),
  vtbSettle: script(SETTLE, 2),
  vtbRefund: script(REFUND, 3),
  vtbPause: script(PAUSE, 1),
  vtbUsage: script(USAGE, 4),
  vtbCacheGet: script(CACHE_GET, 1),
  vtbCacheSet: script(CACHE_SET, 1),
  vtbCacheStats: script(CACHE_STATS, 1),
  vtbLease: script(LEASE, 1),
  vtbRelease: script(RELEASE, 1),
  vtbDocPut: script(DOC_PUT, 2),
  vtbDocGet: script(DOC_GET, 1),
  vtbDocList: script(DOC_LIST, 1),
};

function makeClient(url: string) {
  return createClient({
    url,
    // Commands fail at once while disconnected instead of waiting for a reconnection.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: BACKSTOP_CONNECT_MS,
      // Keep trying in the background, at most every 2 s; callers are never held by it.
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** Math.min(retries, 6), 2000) + Math.floor(Math.random() * 100),
    },
    commandOptions: { timeout: BACKSTOP_COMMAND_MS },
    scripts: SCRIPTS,
  });
}

type Client = ReturnType<typeof makeClient>;

/** redis(s)://host:port/db, without user or password. */
export function redisLocation(url: string): string {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '') || '0';
  return `${u.protocol}//${u.hostname}:${u.port || '6379'}/${db}`;
}

/**
 * Creates the client and waits (up to connectWaitMs) for a first connection. It answers either way:
 * when Redis is not reachable yet, `connected` is false, calls fail fast and the client keeps
 * connecting in the background (a ResilientStore answers from memory meanwhile).
 */
export async function openRedisStore(opts: RedisStoreOptions): Promise<RedisStore> {
  const timeoutMs = opts.timeoutMs ?? 1500;
  let location: string;
  try {
    location = redisLocation(opts.url);
  } catch {
    throw new StateUnavailableError('the Redis URL is not a valid URL');
  }
  let client: Client;
  try {
    client = makeClient(opts.url);
  } catch (err) {
    throw new StateUnavailableError(
      `the Redis client could not be created for ${location}: ${describeError(err)}`,
    );
  }
  const store = new RedisStore(client, { ...opts, timeoutMs }, location);
  await withinDeadline(client.connect(), opts.connectWaitMs ?? timeoutMs).catch(() => {});
  return store;
}

export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly location: string;
  readonly #c: Client;
  /** The same connection, answering bulk strings as Buffers (for cached bodies). */
  readonly #bytes: ReturnType<Client['withTypeMapping']>;
  readonly #p: string;
  readonly #maxBytes: number;
  readonly #log: ((msg: string) => void) | undefined;
  readonly #timeoutMs: number;
  #lastError: string | undefined;
  #closed = false;
  readonly #whenReady: Array<() => void> = [];

  constructor(client: Client, opts: RedisStoreOptions & { timeoutMs: number }, location: string) {
    this.#c = client;
    this.#bytes = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    this.#timeoutMs = opts.timeoutMs;
    this.location = location;
    this.#p = `${opts.namespace ?? 'vtbrief'}:${opts.keyspace}:`;
    this.#maxBytes = Math.max(0, Math.floor(opts.cacheMaxBytes));
    this.#log = opts.log;
    // Without a listener an 'error' event would end the process; one line per outage is enough.
    client.on('error', (err: unknown) => {
      const msg = describeError(err);
      if (this.#lastError === undefined && !this.#closed) this.#log?.(`Redis at ${location}: ${msg}`);
      this.#lastError = msg;
    });
    client.on('ready', () => {
      if (this.#lastError !== undefined && !this.#closed)
        this.#log?.(`Redis at ${location}: connected again`);
      this.#lastError = undefined;
      if (!this.#closed) for (const listener of this.#whenReady) listener();
    });
  }

  /**
   * Calls `listener` each time the connection is (re)established: a store that fell back to memory
   * can return at once, not at its next probe.
   */
  onReady(listener: () => void): void {
    this.#whenReady.push(listener);
  }

  /** A command within this store's time limit. */
  #cmd<T>(command: Promise<T>): Promise<T> {
    return withinDeadline(command, this.#timeoutMs);
  }

  /** The key prefix (for tests and audits): every key this store writes starts with it. */
  get prefix(): string {
    return this.#p;
  }

  get connected(): boolean {
    return this.#c.isReady;
  }

  health(): StoreHealth {
    return {
      kind: 'redis',
      location: this.location,
      shared: true,
      ...(this.#c.isReady || this.#lastError === undefined ? {} : { reason: this.#lastError }),
    };
  }

  async ping(): Promise<void> {
    await this.#cmd(this.#c.ping());
  }

  #slotKeys(): [string, string] {
    return [`${this.#p}sp`, `${this.#p}ss`];
  }

  async acquire(a: AcquireRequest): Promise<Acquire> {
    const { now } = a;
    const day = utcDay(now);
    const slot = newSlotId(day);
    const lease = Math.max(0, Math.floor(a.leaseMs));
    const w = a.window;
    const ttl = Math.max(lease, w ? windowMs(w) : 0) + SLACK_MS;
    const reply = await this.#cmd(
      this.#c.vtbAcquire(
        [...this.#slotKeys(), `${this.#p}d:${day}`, `${this.#p}pause`],
        [
          String(now),
          String(now + lease),
          slot,
          w ? '1' : '0',
          String(w?.requests ?? 0),
          String(a.dailyQuota ?? -1),
          String(ttl),
        ],
      ),
    );
    const r = checked(ACQUIRE_REPLY, reply, 'ACQUIRE');
    if (r[0] === 1) return { granted: true, slot: r[1], dayUsed: r[2] };
    if (r[1] === 'daily') return { granted: false, reason: 'daily', retryAt: nextUtcMidnight(now) };
    if (r[1] === 'paused') return { granted: false, reason: 'paused', retryAt: Number(r[2]) };
    const retryAt =
      (w && windowRetryAt(now, w, r[3], scores(r[4]), scores(r[5]))) ?? now + (w ? windowMs(w) : 1000);
    return { granted: false, reason: 'window', retryAt };
  }

  async settle(slot: string, answeredAt: number, window?: WindowSpec): Promise<void> {
    const wm = window ? windowMs(window) : 0;
    await this.#cmd(
      this.#c.vtbSettle(this.#slotKeys(), [
        slot,
        window ? String(answeredAt + wm) : '',
        String(Math.max(wm, 1) + SLACK_MS),
      ]),
    );
  }

  async refund(slot: string, now: number): Promise<void> {
    const day = slotDay(slot) ?? utcDay(now);
    await this.#cmd(this.#c.vtbRefund([...this.#slotKeys(), `${this.#p}d:${day}`], [slot, String(now)]));
  }

  async pause(until: number, now: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(until - now)) + SLACK_MS;
    await this.#cmd(this.#c.vtbPause([`${this.#p}pause`], [String(Math.ceil(until)), String(ttl)]));
  }

  async usage(now: number, window?: WindowSpec): Promise<Usage> {
    const day = utcDay(now);
    const r = checked(
      USAGE_REPLY,
      await this.#cmd(
        this.#c.vtbUsage(
          [...this.#slotKeys(), `${this.#p}d:${day}`, `${this.#p}pause`],
          [String(now), String(window?.requests ?? 0)],
        ),
      ),
      'USAGE',
    );
    return usageOf(now, window, {
      dayUsed: Number(r[0]),
      pausedUntil: Number(r[1]),
      live: r[2],
      settled: scores(r[3]),
      pending: scores(r[4]),
    });
  }

  async cacheGet(key: string, now: number): Promise<CachedBody | undefined> {
    // The body comes back as bytes (it may be compressed), so every string of the reply does.
    const reply = await this.#cmd(this.#bytes.vtbCacheGet([`${this.#p}ck:${key}`], [this.#p, String(now)]));
    // Missing, expired, or not an entry this version reads: a miss.
    const got = CACHE_GET_REPLY.safeParse(reply);
    if (!got.success) return undefined;
    const r = got.data;
    let body: string;
    try {
      body = unpackBody(r[0], Number(String(r[3] ?? '0')));
    } catch {
      // A damaged entry is a miss: the answer is fetched again and stored anew.
      return undefined;
    }
    const out: CachedBody = { body, fetchedAt: Number(String(r[1])) };
    if (String(r[2]) === '1') out.notFound = true;
    return out;
  }

  async cacheSet(keys: string[], value: CachedBody, ttlMs: number, now: number): Promise<void> {
    const ks = cacheKeys(keys);
    if (ks.length === 0 || ttlMs <= 0) return;
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const packed = packBody(value.body);
    await this.#cmd(
      this.#c.vtbCacheSet(
        [`${this.#p}cidx`],
        [
          this.#p,
          String(now),
          String(now + ttlMs),
          String(ttl),
          String(entryBytes(value, ks, packed.data.byteLength)),
          String(this.#maxBytes),
          Buffer.from(packed.data.buffer, packed.data.byteOffset, packed.data.byteLength),
          String(value.fetchedAt),
          value.notFound ? '1' : '0',
          JSON.stringify(ks),
          String(packed.encoding),
        ],
      ),
    );
  }

  async cacheStats(): Promise<CacheStats> {
    const reply = await this.#cmd(this.#c.vtbCacheStats([`${this.#p}cidx`], [this.#p, '0']));
    const [entries, bytes] = checked(CACHE_STATS_REPLY, reply, 'CACHE_STATS');
    return { entries, bytes };
  }

  async lease(key: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const r = await this.#cmd(
      this.#c.vtbLease([`${this.#p}l:${key}`], [owner, String(now), String(now + ttlMs), String(ttl)]),
    );
    return Number(r) === 1;
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    await this.#cmd(this.#c.vtbRelease([`${this.#p}l:${key}`], [owner]));
  }

  async docPut(key: string, value: string, ttlMs: number | undefined, now: number): Promise<void> {
    await this.#cmd(
      this.#c.vtbDocPut(
        [`${this.#p}doc:${key}`, `${this.#p}didx`],
        [
          key,
          value,
          ttlMs === undefined ? '' : String(now + ttlMs),
          String(Math.max(1, Math.ceil(ttlMs ?? 1))),
        ],
      ),
    );
  }

  async docGet(key: string, now: number): Promise<string | undefined> {
    const r = await this.#cmd(this.#c.vtbDocGet([`${this.#p}doc:${key}`], [String(now)]));
    return r === null || r === undefined ? undefined : String(r);
  }

  async docDelete(key: string): Promise<void> {
    await this.#cmd(this.#c.multi().del(`${this.#p}doc:${key}`).zRem(`${this.#p}didx`, key).exec());
  }

  async docList(prefix: string, now: number): Promise<string[]> {
    const reply = await this.#cmd(
      this.#c.vtbDocList([`${this.#p}didx`], [`${this.#p}doc:`, prefix, String(now)]),
    );
    return checked(DOC_LIST_REPLY, reply, 'DOC_LIST');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#c.isReady) await this.#c.close();
      else this.#c.destroy();
    } catch {
      this.#c.destroy();
    }
  }
}

/** The scores of a flat [member, score, member, score, …] reply. */
function scores(flat: readonly string[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < flat.length; i += 2) out.push(Number(flat[i]));
  return out;
}
