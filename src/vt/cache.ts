/**
 * An in-memory cache of VT answers with a time to live and bounds on entries and memory (least
 * recently used goes first, in O(1), by lru-cache). It keeps each answer as the bytes that came over
 * the wire, in a buffer of its own outside the JavaScript heap, and parses them on a hit (a fresh
 * object each time). So VT_CACHE_MAX_MB counts what the cache really holds, and an evicted answer's
 * memory is given back at once (see release) rather than lingering as old-generation garbage until
 * V8's next full collection, which is what made the peak several times the setting. The few answers
 * asked for most recently are also kept parsed (HOT_*), frozen, so that a burst of calls for the same
 * object (a team's server, a pipeline) parses it once. It knows just
 * enough of VT's object model to file one answer under every id of the object: a file's md5, sha1
 * and sha256 share one entry.
 */
import { LRUCache } from 'lru-cache';
import { deepFreeze } from '../util/freeze.js';
import { field } from '../util/json.js';

export interface CacheEntry {
  /** The parsed body for a success (frozen: callers share it); undefined for a cached "not found". */
  body: unknown;
  notFound: boolean;
  fetchedAt: Date;
}

export interface CacheOptions {
  ttlMs: number;
  notFoundTtlMs: number;
  maxEntries: number;
  /** Upper bound on the memory the entries take, as estimated by `entrySize`. */
  maxBytes: number;
  now?: () => number;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  hit_rate: number;
  ttl_seconds: number;
}

interface Stored {
  /** The body as received (UTF-8 JSON), in a buffer of its own; undefined for a "not found". */
  raw: Buffer | undefined;
  fetchedAt: Date;
  expiresAt: number;
  /** The other keys this entry is filed under. */
  aliases: string[];
  size: number;
}

/** Per entry: the entry object, its Date, the Buffer object, the LRU's slots (measured, rounded up). */
const ENTRY_OVERHEAD = 384;
/** Per key: the string and its row in the LRU or the alias table. */
const KEY_OVERHEAD = 96;

/**
 * Answers kept parsed besides their bytes: the last few hit, up to this many bytes of JSON (several
 * times that on the heap, outside VT_CACHE_MAX_MB: a bounded few MB).
 */
const HOT_ENTRIES = 32;
const HOT_BYTES = 2 * 1024 * 1024;

/** Memory an entry takes: its body bytes, its keys and a fixed overhead. */
export function entrySize(bodyBytes: number, keys: string[]): number {
  let k = 0;
  for (const key of keys) k += key.length * 2 + KEY_OVERHEAD;
  return bodyBytes + k + ENTRY_OVERHEAD;
}

export class ResponseCache {
  readonly #o: CacheOptions;
  readonly #now: () => number;
  /** Entries under their primary key; undefined when the cache is off. */
  readonly #lru: LRUCache<string, Stored> | undefined;
  /** Alias key → primary key; a row lives exactly as long as its entry (removed on dispose). */
  readonly #alias = new Map<string, string>();
  /** Recently hit entries, parsed and frozen, by the buffer they were parsed from (gone with it). */
  readonly #hot = new LRUCache<Buffer, object>({
    max: HOT_ENTRIES,
    maxSize: HOT_BYTES,
    sizeCalculation: (_v, raw) => Math.max(1, raw.length),
  });
  #hits = 0;
  #misses = 0;

  constructor(opts: CacheOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    if (this.enabled) {
      // Expiry is checked here on read (an expired entry still counts until read or evicted, within
      // the same bounds), with this cache's clock.
      this.#lru = new LRUCache<string, Stored>({
        max: Math.floor(opts.maxEntries),
        maxSize: Math.max(1, Math.floor(opts.maxBytes)),
        sizeCalculation: (v) => v.size,
        dispose: (v, key) => {
          for (const a of v.aliases) if (this.#alias.get(a) === key) this.#alias.delete(a);
          if (v.raw) {
            this.#hot.delete(v.raw);
            release(v.raw);
          }
        },
      });
    }
  }

  get enabled(): boolean {
    return this.#o.ttlMs > 0 && this.#o.maxEntries >= 1 && this.#o.maxBytes >= 1;
  }

  get(key: string): CacheEntry | undefined {
    const primary = this.#alias.get(key) ?? key;
    let v = this.#lru?.get(primary);
    if (v && v.expiresAt <= this.#now()) {
      this.#lru?.delete(primary);
      v = undefined;
    }
    if (!v) {
      this.#misses++;
      return undefined;
    }
    let body: unknown;
    if (v.raw !== undefined) {
      body = this.#hot.get(v.raw);
      if (body === undefined) {
        try {
          body = deepFreeze(JSON.parse(v.raw.toString('utf8')));
        } catch {
          this.#lru?.delete(primary);
          this.#misses++;
          return undefined;
        }
        if (v.raw.length <= HOT_BYTES && body !== null && typeof body === 'object')
          this.#hot.set(v.raw, body);
      }
    }
    this.#hits++;
    return { body, notFound: v.raw === undefined, fetchedAt: v.fetchedAt };
  }

  /**
   * Files the answer (its JSON as received) under `key` and under every alias id of the object it
   * holds. `body` is the parsed JSON when the caller has it, to find the aliases without parsing again.
   */
  get ttlMs(): number {
    return this.#o.ttlMs;
  }

  get notFoundTtlMs(): number {
    return Math.min(this.#o.ttlMs, this.#o.notFoundTtlMs);
  }

  /** `ttlMs` overrides the cache's own (an answer another process fetched earlier has less time left). */
  set(key: string, json: Buffer | string, fetchedAt: Date, body?: unknown, ttlMs = this.#o.ttlMs): void {
    if (!this.#lru) return;
    let parsed = body;
    if (parsed === undefined) {
      try {
        parsed = JSON.parse(json.toString());
      } catch {
        return;
      }
    }
    const [primary, ...aliases] = keysFor(key, parsed);
    if (ttlMs <= 0) return;
    this.#store(primary, aliases, ownBuffer(json), fetchedAt, ttlMs);
  }

  setNotFound(key: string, fetchedAt: Date, ttlMs = this.notFoundTtlMs): void {
    if (!this.#lru || ttlMs <= 0) return;
    this.#store(key, [], undefined, fetchedAt, ttlMs);
  }

  stats(): CacheStats {
    const total = this.#hits + this.#misses;
    return {
      entries: this.#lru?.size ?? 0,
      bytes: this.#lru?.calculatedSize ?? 0,
      hits: this.#hits,
      misses: this.#misses,
      hit_rate: total === 0 ? 0 : Math.round((this.#hits / total) * 1000) / 1000,
      ttl_seconds: Math.round(this.#o.ttlMs / 1000),
    };
  }

  /** Every key the cache files anything under (primary and alias), for tests and audits. */
  keys(): string[] {
    return [...(this.#lru?.keys() ?? []), ...this.#alias.keys()];
  }

  #store(primary: string, aliases: string[], raw: Buffer | undefined, fetchedAt: Date, ttlMs: number): void {
    const lru = this.#lru;
    if (!lru) return;
    // An older entry under any of these keys is replaced whole (with all its own aliases).
    for (const k of [primary, ...aliases]) {
      const owner = this.#alias.get(k);
      if (owner !== undefined && owner !== primary) lru.delete(owner);
      this.#alias.delete(k);
      if (k !== primary && lru.has(k)) lru.delete(k);
    }
    const size = entrySize(raw?.length ?? 0, [primary, ...aliases]);
    lru.set(primary, { raw, fetchedAt, expiresAt: this.#now() + ttlMs, aliases, size });
    // Too large to keep (larger than the whole bound): nothing was stored, so no aliases either.
    if (!lru.has(primary)) return;
    for (const a of aliases) this.#alias.set(a, primary);
  }
}

/**
 * The bytes in a buffer of their own, exactly their size: a small Buffer is often a slice of a shared
 * 8 KB pool slab, which a cache entry would otherwise keep alive whole.
 */
function ownBuffer(json: Buffer | string): Buffer {
  const src = typeof json === 'string' ? Buffer.from(json, 'utf8') : json;
  if (src.byteOffset === 0 && src.buffer.byteLength === src.length) return src;
  const own = Buffer.allocUnsafeSlow(src.length);
  src.copy(own);
  return own;
}

/**
 * Gives an evicted entry's memory back now rather than at the next full garbage collection (which
 * V8 puts off until external memory has grown by 64 MB): its buffer is detached, its bytes moved to
 * a new, short-lived ArrayBuffer that the next young-generation collection frees. Only done to a
 * buffer the cache owns whole (see ownBuffer); nothing else holds it once it is out of the cache.
 */
function release(buf: Buffer): void {
  const ab = buf.buffer;
  if (buf.byteOffset !== 0 || ab.byteLength !== buf.length || ab.byteLength === 0) return;
  // A SharedArrayBuffer can be neither transferred nor detached.
  if (!(ab instanceof ArrayBuffer)) return;
  try {
    // ArrayBuffer.prototype.transfer (ES2024) is newer than the library types this is checked against.
    if ('transfer' in ab && typeof ab.transfer === 'function') ab.transfer(0);
    else structuredClone(ab, { transfer: [ab] });
  } catch {
    // Already detached, or not transferable: the garbage collector frees it in due course.
  }
}

/**
 * Every key an answer is filed under, the primary first: a file is filed under its sha256 whichever
 * hash it was asked by, so every spelling meets one entry.
 */
export function keysFor(key: string, body: unknown): [primary: string, ...aliases: string[]] {
  const keys = [...new Set([key, ...aliasKeys(key, body)])];
  const primary = keys.find((k) => /^\/files\/[0-9a-f]{64}$/.test(k)) ?? key;
  return [primary, ...keys.filter((k) => k !== primary)];
}

/**
 * Other keys under which a VT answer is the same answer: /files/<md5|sha1|sha256> for a file object.
 * Only plain object lookups are aliased (a relationship page is keyed by its own path).
 */
export function aliasKeys(key: string, body: unknown): string[] {
  if (!/^\/files\/[^/?]+$/.test(key)) return [];
  const a = field(field(body, 'data'), 'attributes');
  if (!a) return [];
  return ['md5', 'sha1', 'sha256']
    .map((h) => field(a, h))
    .filter((v): v is string => typeof v === 'string' && /^[0-9a-f]+$/i.test(v))
    .map((v) => `/files/${v.toLowerCase()}`);
}
