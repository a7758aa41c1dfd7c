/**
 * An in-memory cache of VT answers with a time to live and bounds on entries and bytes (least
 * recently used goes first). It knows just enough of VT's object model to file one answer under
 * every id of the object: a file's md5, sha1 and sha256 share one entry.
 */

export interface CacheEntry {
  /** The parsed body for a success; undefined for a cached "not found". */
  body: unknown;
  notFound: boolean;
  fetchedAt: Date;
  expiresAt: number;
  bytes: number;
}

export interface CacheOptions {
  ttlMs: number;
  notFoundTtlMs: number;
  maxEntries: number;
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

export class ResponseCache {
  // Aliases point at one shared entry object; the Map's order is the LRU order.
  readonly #map = new Map<string, CacheEntry>();
  readonly #o: CacheOptions;
  readonly #now: () => number;
  #hits = 0;
  #misses = 0;

  constructor(opts: CacheOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#o.ttlMs > 0 && this.#o.maxEntries > 0;
  }

  get(key: string): CacheEntry | undefined {
    const e = this.#map.get(key);
    if (!e || e.expiresAt <= this.#now()) {
      if (e) this.#map.delete(key);
      this.#misses++;
      return undefined;
    }
    this.#map.delete(key);
    this.#map.set(key, e);
    this.#hits++;
    return e;
  }

  /** Files the answer under `key` and under every alias id of the object it holds. */
  set(key: string, body: unknown, bytes: number, fetchedAt: Date): void {
    if (!this.enabled) return;
    const entry: CacheEntry = {
      body,
      notFound: false,
      fetchedAt,
      expiresAt: this.#now() + this.#o.ttlMs,
      bytes,
    };
    for (const k of new Set([key, ...aliasKeys(key, body)])) this.#put(k, entry);
    this.#evict();
  }

  setNotFound(key: string, fetchedAt: Date): void {
    if (!this.enabled || this.#o.notFoundTtlMs <= 0) return;
    this.#put(key, {
      body: undefined,
      notFound: true,
      fetchedAt,
      expiresAt: this.#now() + this.#o.notFoundTtlMs,
      bytes: 64,
    });
    this.#evict();
  }

  stats(): CacheStats {
    const total = this.#hits + this.#misses;
    return {
      entries: new Set(this.#map.values()).size,
      bytes: this.#bytes(),
      hits: this.#hits,
      misses: this.#misses,
      hit_rate: total === 0 ? 0 : Math.round((this.#hits / total) * 1000) / 1000,
      ttl_seconds: Math.round(this.#o.ttlMs / 1000),
    };
  }

  #put(key: string, entry: CacheEntry): void {
    this.#map.delete(key);
    this.#map.set(key, entry);
  }

  #bytes(): number {
    let total = 0;
    for (const e of new Set(this.#map.values())) total += e.bytes;
    return total;
  }

  #evict(): void {
    const now = this.#now();
    for (const [k, e] of this.#map) if (e.expiresAt <= now) this.#map.delete(k);
    let entries = new Set(this.#map.values()).size;
    let bytes = this.#bytes();
    while ((entries > this.#o.maxEntries || bytes > this.#o.maxBytes) && this.#map.size > 0) {
      const oldest = this.#map.values().next().value as CacheEntry;
      // Drop the entry under all its aliases at once.
      for (const [k, e] of this.#map) if (e === oldest) this.#map.delete(k);
      entries--;
      bytes -= oldest.bytes;
    }
  }
}

/**
 * Other keys under which a VT answer is the same answer: /files/<md5|sha1|sha256> for a file object.
 * Only plain object lookups are aliased (a relationship page is keyed by its own path).
 */
export function aliasKeys(key: string, body: unknown): string[] {
  if (!/^\/files\/[^/?]+$/.test(key)) return [];
  const data = (body as { data?: { attributes?: Record<string, unknown> } } | undefined)?.data;
  const a = data?.attributes;
  if (!a) return [];
  return ['md5', 'sha1', 'sha256']
    .map((h) => a[h])
    .filter((v): v is string => typeof v === 'string' && /^[0-9a-f]+$/i.test(v))
    .map((v) => `/files/${v.toLowerCase()}`);
}
