/**
 * VirusTotal's operations, typed: what the tools, resources and prompts ask for, over the gateway
 * (cache, limits, retries). Paths, query parameters, the JSON:API envelope (parsed once, here: see
 * envelope.ts), the multipart body of an upload and the upload-URL exchange of a large file all live
 * here; callers get objects, pages with their cursor, and typed errors. Nothing here knows MCP.
 */
import type { z } from 'zod';
import { madeOnce } from '../util/freeze.js';
import { pageCursor } from '../util/sanitize.js';
import {
  dataObjectEnvelope,
  type JsonObject,
  listEnvelope,
  objectEnvelope,
  quotasEnvelope,
  relationshipBlock,
  stringEnvelope,
  submittedEnvelope,
  type VtObject,
} from './envelope.js';
import { unexpectedShape, VtError } from './errors.js';
import type { Fetched, GatewayStats, VtGateway } from './gateway-contract.js';
import type { Indicator } from './indicators.js';
import type { WaitInfo } from './limiter.js';
import { vtPath } from './paths.js';

export type { JsonObject, VtObject } from './envelope.js';

/** What every operation may be given by its caller. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** Skip any cached answer (one lookup; the fresh answer is cached). */
  fresh?: boolean | undefined;
  /** Told while the request waits for its turn (progress notifications). */
  onWait?: ((w: WaitInfo) => void) | undefined;
  /** Time (ms since epoch) after which the request must not be sent. */
  deadline?: number | undefined;
}

/** An answer and where it came from. */
interface Got<T> {
  value: T;
  fetchedAt: Date;
  fromCache: boolean;
}

/** Which object: a parsed indicator or collection (anything with its API collection and VT id). */
type ObjectRef = { collection: Indicator['collection'] | 'collections'; id: string };

/** One page of a relationship or a search. */
export interface Page {
  items: VtObject[];
  /** The cursor of the next page, only when it is a cursor (safe to print and send back). */
  next?: string;
  /** VirusTotal sent something as a cursor that is not one: more exist, but cannot be asked for. */
  cursorRefused?: boolean;
  /** VT's count of the relationship, or its total hits of the search. */
  total?: number;
  /**
   * The demo's stand-in holds no recording of this page (its `meta.recorded` is false). Real VirusTotal
   * never says so; the tools read it only in demo mode, where "none" would be a claim about VirusTotal.
   */
  unrecorded?: true;
}

/** One relationship of an object fetched with several relationships: the first descriptors, the count. */
export interface RelationshipSample {
  items: VtObject[];
  count?: number;
  /** VirusTotal has a cursor for more than it listed. */
  hasMore: boolean;
  /** VT's error code (raw, to be cleaned before showing) when it could not give this relationship. */
  error?: string;
  /** The demo's stand-in holds no recording of this relationship (see Page.unrecorded). */
  unrecorded?: true;
}

interface WithRelationships {
  object: VtObject;
  /** Per name asked for; undefined when VirusTotal did not return the block. */
  relationships: Record<string, RelationshipSample | undefined>;
}

export interface Behaviour {
  /** The merged behaviour summary; undefined when VirusTotal has none (404, or an empty object). */
  summary?: JsonObject;
  /** The ATT&CK trees per sandbox; undefined when they could not be fetched (see treesError). */
  trees?: JsonObject;
  treesError?: unknown;
}

interface UsedAllowed {
  used: number;
  allowed: number;
}

/** Per quota name (api_requests_daily, ...): the key's user and group figures VirusTotal gives. */
export type Quotas = Record<string, { user?: UsedAllowed; group?: UsedAllowed }>;

export interface Analysis {
  object: VtObject;
  /** What the analysis is of: `url_info` ({id, url}) or `file_info` ({sha256, ...}). */
  meta: JsonObject;
}

/** A file to upload: its bytes (read once, hashed by the caller), name, size and archive password. */
export interface Upload {
  data: Blob;
  name: string;
  size: number;
  password?: string | undefined;
}

export interface Submitted {
  analysisId: string;
}

/** Larger files go to an upload URL that VirusTotal hands out for each one. */
const DIRECT_UPLOAD_MAX_BYTES = 32 * 1024 * 1024;

/**
 * Checks read of a cached answer, by the answer: the cache hands every caller of a recent answer one
 * frozen object (cache.ts), so a burst of calls for it checks it once, and the summaries made from the
 * result are remembered too (summaries/index.ts).
 */
const CHECKED = new WeakMap<object, Map<z.ZodType, unknown>>();

function parsed<S extends z.ZodType>(schema: S, body: unknown, expected: string): z.infer<S> {
  // CHECKED keeps each schema's output under the schema itself; one map holds outputs of many types,
  // so what comes back is the output of `schema` by that key, which no map type can say.
  return madeOnce(CHECKED, body, schema, () => {
    const r = schema.safeParse(body);
    if (!r.success) throw unexpectedShape(expected);
    return r.data;
  }) as z.infer<S>;
}

function got<T>(res: Fetched<unknown>, value: T): Got<T> {
  return { value, fetchedAt: res.fetchedAt, fromCache: res.fromCache };
}

function pageOf(body: unknown): Page {
  const b = parsed(listEnvelope, body, 'a list of objects');
  const { next, refused } = pageCursor(b.meta?.cursor);
  const total = b.meta?.count ?? b.meta?.total_hits;
  return {
    items: b.data,
    ...(next !== undefined ? { next } : {}),
    ...(refused ? { cursorRefused: true } : {}),
    ...(total !== undefined ? { total } : {}),
    ...(b.meta?.recorded === false ? { unrecorded: true as const } : {}),
  };
}

export class VtApi {
  readonly #gw: VtGateway;
  readonly #client: string | undefined;

  /**
   * `client`: whom the requests are for (a caller of a shared server, a job's owner): the limiter shares
   * its line fairly between them.
   */
  constructor(gateway: VtGateway, opts: { client?: string } = {}) {
    this.#gw = gateway;
    this.#client = opts.client;
  }

  /** The same operations, for another client. */
  forClient(client: string): VtApi {
    return new VtApi(this.#gw, { client });
  }

  get hasKey(): boolean {
    return this.#gw.hasKey;
  }

  /** Spending, limits and cache figures of this process; undefined where nothing is mediated. */
  stats(): GatewayStats | undefined {
    return this.#gw.stats();
  }

  /** The key's shared state across processes, where the gateway keeps one. */
  async sharedStats(): Promise<Awaited<ReturnType<NonNullable<VtGateway['sharedStats']>>> | undefined> {
    return this.#gw.sharedStats?.();
  }

  #get(path: string, call: CallOptions, extra: { query?: Record<string, string | number | undefined> } = {}) {
    return this.#gw.fetch<unknown>({
      path,
      ...(extra.query ? { query: extra.query } : {}),
      ...(call.signal ? { signal: call.signal } : {}),
      ...(call.fresh ? { fresh: true } : {}),
      ...(call.onWait ? { onWait: call.onWait } : {}),
      ...(call.deadline !== undefined ? { deadline: call.deadline } : {}),
      ...(this.#client !== undefined ? { client: this.#client } : {}),
    });
  }

  /** A file, URL, domain or IP address report. */
  async getObject(ref: ObjectRef, call: CallOptions = {}): Promise<Got<VtObject>> {
    const res = await this.#get(vtPath`/${ref.collection}/${ref.id}`, call);
    return got(res, parsed(objectEnvelope, res.body, 'an object').data);
  }

  /**
   * A collection (GET /collections/{id}): a curated threat actor, campaign, malware family, report or
   * vulnerability of Google Threat Intelligence, or a user-made IoC collection. Anything but an object of
   * type "collection" is not an answer to this request.
   */
  async getCollection(id: string, call: CallOptions = {}): Promise<Got<VtObject>> {
    const res = await this.#get(vtPath`/collections/${id}`, call);
    const object = parsed(objectEnvelope, res.body, 'a collection').data;
    if (object.type !== 'collection') throw unexpectedShape('a collection');
    return got(res, object);
  }

  /** The object with the first descriptors and the count of several relationships, in one request. */
  async getWithRelationships(
    ref: ObjectRef,
    names: string[],
    call: CallOptions = {},
  ): Promise<Got<WithRelationships>> {
    const res = await this.#get(vtPath`/${ref.collection}/${ref.id}`, call, {
      query: { relationships: names.join(',') },
    });
    const object = parsed(objectEnvelope, res.body, 'an object').data;
    const relationships: WithRelationships['relationships'] = {};
    for (const name of names) {
      const raw = object.relationships?.[name];
      const block = raw === undefined ? undefined : relationshipBlock.safeParse(raw);
      if (!block?.success) {
        relationships[name] = undefined;
        continue;
      }
      const b = block.data;
      const cursor = b.meta?.cursor;
      relationships[name] = {
        items: b.data,
        ...(b.meta?.count !== undefined ? { count: b.meta.count } : {}),
        hasMore: typeof cursor === 'string' && cursor !== '',
        ...(b.error ? { error: b.error.code ?? 'error' } : {}),
        ...(b.meta?.recorded === false ? { unrecorded: true as const } : {}),
      };
    }
    return got(res, { object, relationships });
  }

  /** One page of a relationship, as full objects. */
  async listRelationship(
    ref: ObjectRef,
    name: string,
    page: { limit: number; cursor?: string | undefined },
    call: CallOptions = {},
  ): Promise<Got<Page>> {
    const res = await this.#get(vtPath`/${ref.collection}/${ref.id}/${name}`, call, {
      query: { limit: page.limit, cursor: page.cursor || undefined },
    });
    return got(res, pageOf(res.body));
  }

  /** One page of a VT Intelligence search (premium keys). */
  async search(
    q: {
      query: string;
      limit: number;
      cursor?: string | undefined;
      order?: string | undefined;
      descriptorsOnly?: boolean | undefined;
    },
    call: CallOptions = {},
  ): Promise<Got<Page>> {
    const res = await this.#get('/intelligence/search', call, {
      query: {
        query: q.query,
        limit: q.limit,
        cursor: q.cursor || undefined,
        order: q.order,
        descriptors_only: q.descriptorsOnly ? 'true' : undefined,
      },
    });
    return got(res, pageOf(res.body));
  }

  /**
   * A file's merged sandbox behaviour and its ATT&CK trees (two requests, in parallel). No summary
   * (404 or empty) is an answer, not an error; trees that cannot be fetched leave the summary standing.
   */
  async behaviour(fileId: string, call: CallOptions = {}): Promise<Got<Behaviour>> {
    const [summary, trees] = await Promise.allSettled([
      this.#get(vtPath`/files/${fileId}/behaviour_summary`, call),
      this.#get(vtPath`/files/${fileId}/behaviour_mitre_trees`, call),
    ]);
    if (summary.status === 'rejected') {
      const err = summary.reason;
      if (err instanceof VtError && err.kind === 'not_found') {
        return { value: {}, fetchedAt: new Date(), fromCache: false };
      }
      throw err;
    }
    const data = parsed(dataObjectEnvelope, summary.value.body, 'a behaviour summary').data;
    const value: Behaviour = data && Object.keys(data).length > 0 ? { summary: data } : {};
    if (trees.status === 'rejected') {
      if (trees.reason instanceof VtError && trees.reason.kind === 'cancelled') throw trees.reason;
      value.treesError = trees.reason;
    } else {
      value.trees = dataObjectEnvelope.safeParse(trees.value.body).data?.data ?? {};
    }
    return got(summary.value, value);
  }

  /** VirusTotal's own counters of the key (always fresh). The gateway puts the key in at the last moment. */
  async quotas(call: CallOptions = {}): Promise<Got<Quotas>> {
    const res = await this.#gw.fetch<unknown>({
      path: '/overall_quotas',
      asKeyUser: true,
      fresh: true,
      ...(call.signal ? { signal: call.signal } : {}),
    });
    const data = parsed(quotasEnvelope, res.body, 'quota figures').data;
    const out: Quotas = {};
    for (const [name, q] of Object.entries(data)) {
      if (q.user || q.group)
        out[name] = { ...(q.user ? { user: q.user } : {}), ...(q.group ? { group: q.group } : {}) };
    }
    return got(res, out);
  }

  /** Sends a URL for scanning. Never retried: a submission sent twice is two submissions. */
  async submitUrl(url: string, call: CallOptions = {}): Promise<Submitted> {
    const res = await this.#gw.submit<unknown>({
      path: '/urls',
      body: new URLSearchParams({ url }).toString(),
      contentType: 'application/x-www-form-urlencoded',
      ...(call.signal ? { signal: call.signal } : {}),
      ...(call.onWait ? { onWait: call.onWait } : {}),
      ...(this.#client !== undefined ? { client: this.#client } : {}),
    });
    return submitted(res.body);
  }

  /**
   * Uploads a file: up to 32 MB directly, larger ones to the one-time upload URL VirusTotal hands out
   * (fetched fresh; the client sends the key only if that URL is on the API's own host).
   */
  async uploadFile(file: Upload, call: CallOptions = {}): Promise<Submitted> {
    const { FormData } = await import('undici');
    const form = new FormData();
    form.append('file', file.data, file.name);
    if (file.password) form.append('password', file.password);
    let target = '/files';
    if (file.size > DIRECT_UPLOAD_MAX_BYTES) {
      const u = await this.#get('/files/upload_url', { ...call, fresh: true });
      const url = parsed(stringEnvelope, u.body, 'an upload URL').data;
      if (!url) throw unexpectedShape('an upload URL');
      target = url;
    }
    const res = await this.#gw.submit<unknown>({
      path: target,
      body: form,
      ...(call.signal ? { signal: call.signal } : {}),
      ...(call.onWait ? { onWait: call.onWait } : {}),
      ...(this.#client !== undefined ? { client: this.#client } : {}),
    });
    return submitted(res.body);
  }

  /** An analysis (the result of a submission): its object, and what it is of. */
  async getAnalysis(id: string, call: CallOptions = {}): Promise<Got<Analysis>> {
    const res = await this.#get(vtPath`/analyses/${id}`, call);
    const b = parsed(objectEnvelope, res.body, 'an analysis');
    return got(res, { object: b.data, meta: b.meta ?? {} });
  }
}

function submitted(body: unknown): Submitted {
  const id = submittedEnvelope.safeParse(body).data?.data?.id;
  // Accepted but unnamed: the submission happened, so this is not one to send again.
  if (id === undefined || id === '') throw unexpectedShape('an analysis id', { retryable: false });
  return { analysisId: String(id) };
}
