/**
 * A stand-in for the VirusTotal API v3: a real HTTP server on 127.0.0.1 that answers from recorded
 * responses. `--demo` serves the bundled recordings through it, and the tests run every tool against it.
 * It answers VT's error bodies for unknown objects and a wrong key, and logs every request it gets.
 *
 * Beyond replaying, it keeps the recordings consistent with each other where VT's answers are:
 *   - a file is found by md5, sha1 or sha256, in its report and in its relationship paths alike;
 *   - a search with no recording of its own is matched over the recorded objects (./search.ts);
 *   - a file with a recorded behaviour summary has the contacted_domains, contacted_ips, contacted_urls
 *     and dropped_files that the summary shows (DNS lookups, IP traffic, HTTP requests, dropped files),
 *     unless a recording of that relationship exists. VT builds those relationships from the same
 *     sandbox reports; a related object that is itself recorded is served whole, otherwise by its id.
 * Anything else it does not hold gets VT's 404 NotFoundError (an object) or an empty collection (a
 * relationship of a recorded object, or a page past the recorded ones) marked `meta.recorded: false`,
 * which VT never sends: the stand-in never replays a recorded 404, so in demo mode every not-found means
 * "not in the recordings", and so does every page so marked; the tools say so (src/answers/wording.ts).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../package-root.js';
import { isJson, type Json, jsonObject } from '../util/json.js';
import { canonicalUrl } from '../vt/indicators.js';
import { searchRecordings } from './search.js';
import { SubmissionDesk, UPLOAD_PREFIX } from './submissions.js';

export const BUNDLED_FIXTURES = `${join(PACKAGE_ROOT, 'fixtures', 'vt')}/`;
const API_PREFIX = '/api/v3';

interface LoggedRequest {
  method: string;
  /** Path below /api/v3, decoded. */
  path: string;
  query: Record<string, string>;
  at: number;
}

export interface StandInRequest extends LoggedRequest {
  headers: IncomingMessage['headers'];
}

/** A test hook runs before routing; returning true means it has answered. */
export type RequestHook = (req: StandInRequest, res: ServerResponse) => boolean | Promise<boolean>;

export interface RecordedApiOptions {
  fixturesDir?: string;
  /** When set, any other x-apikey gets VT's 401 WrongCredentialsError. */
  apiKey?: string;
  hook?: RequestHook;
}

/** One entry of fixtures/vt/manifest.json: which recording answers which path. */
const routeSchema = z.object({
  path: z.string(),
  query: z.record(z.string(), z.string()).optional(),
  file: z.string(),
  next: z.string().optional(),
  /** The recording is an object of collections keyed by name (msticpy's searches): serve this one. */
  pick: z.string().optional(),
});
type Route = z.infer<typeof routeSchema>;
const manifestSchema = z.object({ routes: z.array(routeSchema) });

const COLLECTIONS: Record<string, string> = {
  file: 'files',
  url: 'urls',
  domain: 'domains',
  ip_address: 'ip_addresses',
  collection: 'collections',
};

/** What the stand-in answers for a page it holds no recording of (see the file comment). */
const NOT_RECORDED = { recorded: false };

/**
 * Recordings as parsed, by path, shared by every stand-in in the process and frozen, so that none can
 * change one under another (pages and overviews are new objects around them). Parsing all 7.7 MB again
 * for each stand-in and each routed request was most of what a test's stand-in cost.
 */
const parsedRecordings = new Map<string, unknown>();

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

function readRecording(path: string): unknown {
  let parsed = parsedRecordings.get(path);
  if (parsed === undefined) {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    parsed = deepFreeze(value);
    parsedRecordings.set(path, parsed);
  }
  return parsed;
}

/** The routes of a fixtures folder's manifest.json (the bundled recordings by default). */
export function manifestRoutes(dir: string = BUNDLED_FIXTURES): Route[] {
  return manifestSchema.parse(readRecording(`${dir}/manifest.json`)).routes;
}

export class RecordedApi {
  readonly requests: LoggedRequest[] = [];
  /** Submissions (POST /urls, POST /files, uploads) and the analyses they start. */
  readonly submissions = new SubmissionDesk(
    (coll, id) => this.#objects.get(`${coll}/${id.toLowerCase()}`),
    () => new URL(this.#url || 'http://127.0.0.1').origin,
  );
  readonly #objects = new Map<string, Json>();
  readonly #routes: Route[];
  readonly #dir: string;
  readonly #opts: RecordedApiOptions;
  #server: Server | undefined;
  #url = '';

  constructor(opts: RecordedApiOptions = {}) {
    this.#opts = opts;
    this.#dir = opts.fixturesDir ?? BUNDLED_FIXTURES;
    this.#routes = manifestRoutes(this.#dir);
    // Sorted: which of two equally rich recordings of one object answers must not depend on the disk.
    const names = readdirSync(this.#dir).filter((n) => n.endsWith('.json') && n !== 'manifest.json');
    for (const name of names.sort()) {
      this.#indexObjects(readRecording(`${this.#dir}/${name}`));
    }
  }

  /**
   * Every full file, URL, domain and IP object in the recordings (what searches match and reports are
   * given for), or every object of one type (type "collection" for the recorded collections).
   */
  objects(type?: string): Json[] {
    const seen = new Set<Json>();
    for (const o of this.#objects.values()) {
      if (type ? o.type === type : o.type !== 'collection') seen.add(o);
    }
    return [...seen];
  }

  #indexObjects(body: unknown): void {
    const candidates: unknown[] = [];
    if (isJson(body)) {
      const b = body;
      // An object is wrapped in `data`, or unwrapped (its type at the top), or, in OpenCTI's debug dumps
      // ({request_info, response}), the response.
      const dumped =
        b.request_info && b.response && typeof b.response === 'object' && !Array.isArray(b.response);
      if (Array.isArray(b.data)) candidates.push(...b.data);
      else if (b.data && typeof b.data === 'object') candidates.push(b.data);
      else if (typeof b.type === 'string') candidates.push(b);
      else if (dumped) candidates.push(b.response);
    }
    for (const c of candidates) {
      if (!isJson(c)) continue;
      const o = c;
      const a = jsonObject(o.attributes);
      const coll = COLLECTIONS[String(o.type)];
      if (!coll || !a || typeof o.id !== 'string') continue;
      // One object can be recorded several times (a report, a search hit): the richest recording answers.
      const put = (id: string) => {
        const key = `${coll}/${id.toLowerCase()}`;
        const prev = this.#objects.get(key);
        if (!prev || Object.keys(jsonObject(prev.attributes) ?? {}).length < Object.keys(a).length) {
          this.#objects.set(key, o);
        }
      };
      put(o.id);
      if (o.type === 'file')
        for (const h of ['md5', 'sha1', 'sha256']) {
          const hash = a[h];
          if (typeof hash === 'string') put(hash);
        }
    }
  }

  async start(port = 0): Promise<this> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent)
          send(res, 500, { error: { code: 'TransientError', message: 'stand-in failure' } });
        else res.destroy();
      });
    });
    this.#server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => this.#server?.listen(port, '127.0.0.1', resolve));
    const { port: bound } = tcpAddress(this.#server);
    this.#url = `http://127.0.0.1:${bound}${API_PREFIX}`;
    return this;
  }

  /** Base URL to give the client as VIRUSTOTAL_API_URL. */
  get url(): string {
    return this.#url;
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Requests received for paths starting with this prefix (all when omitted). */
  count(prefix = ''): number {
    return this.requests.filter((r) => r.path.startsWith(prefix)).length;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://stand-in');
    const isUpload = u.pathname.startsWith(UPLOAD_PREFIX);
    if (!u.pathname.startsWith(`${API_PREFIX}/`) && !isUpload) return send(res, 404, notFound('path'));
    const path = isUpload ? u.pathname : u.pathname.slice(API_PREFIX.length);
    const query = Object.fromEntries(u.searchParams.entries());
    const logged: LoggedRequest = { method: req.method ?? 'GET', path, query, at: Date.now() };
    this.requests.push(logged);
    if (this.#opts.hook && (await this.#opts.hook({ ...logged, headers: req.headers }, res))) return;

    const key = req.headers['x-apikey'];
    if (!key)
      return send(res, 401, {
        error: { code: 'AuthenticationRequiredError', message: 'X-Apikey header is missing' },
      });
    if (this.#opts.apiKey !== undefined && key !== this.#opts.apiKey) {
      return send(res, 401, { error: { code: 'WrongCredentialsError', message: 'Wrong API key' } });
    }
    if (await this.submissions.handle(req.method ?? 'GET', path, req, res)) return;
    if (req.method !== 'GET') {
      return send(res, 403, {
        error: { code: 'ForbiddenError', message: 'The stand-in API only answers GET.' },
      });
    }

    const segments = path.split('/').slice(1).map(decodeURIComponent);
    if (segments[0] === 'urls' && segments[1]) segments[1] = urlObjectId(segments[1]);
    // VT knows a file by any of its hashes; the recordings' paths name it by sha256.
    if (segments[0] === 'files' && segments[1]) {
      const known = this.#objects.get(`files/${segments[1].toLowerCase()}`);
      if (typeof known?.id === 'string') segments[1] = known.id;
    }
    const normalPath = `/${segments.join('/')}`;

    const route = this.#findRoute(normalPath, query);
    if (route) return send(res, 200, this.#page(this.#load(route.file, route.pick), query, route.next));
    if (normalPath === '/intelligence/search') {
      const found = searchRecordings(query.query ?? '', this.objects());
      if (!found.ok)
        return send(res, 400, { error: { code: 'InvalidArgumentError', message: found.reason } });
      // VT answers a search that matches nothing with an empty collection, not a 404.
      return send(res, 200, this.#page({ data: found.hits, meta: { total_hits: found.hits.length } }, query));
    }
    if (segments.length === 3) {
      const derived = this.#derived(segments[0] ?? '', segments[1] ?? '', segments[2] ?? '');
      if (derived) return send(res, 200, this.#page(derived, query));
    }

    if (segments.length === 2) {
      const o = this.#objects.get(`${segments[0]}/${(segments[1] ?? '').toLowerCase()}`);
      if (o && query.relationships) {
        return send(res, 200, { data: this.#withRelationships(o, segments[0] ?? '', query.relationships) });
      }
      if (o) return send(res, 200, { data: o });
    }
    // A known object with no recording of this relationship: VT would answer an empty collection (not a
    // 404), which the stand-in does too, saying that it is not recorded rather than that there are none.
    if (segments.length === 3 && this.#objects.has(`${segments[0]}/${(segments[1] ?? '').toLowerCase()}`)) {
      return send(res, 200, { data: [], meta: NOT_RECORDED, links: { self: 'stand-in' } });
    }
    return send(res, 404, notFound(segments[1] ?? path));
  }

  #findRoute(path: string, query: Record<string, string>): Route | undefined {
    // "*" in a route matches any one path segment (e.g. the key in /users/*/overall_quotas).
    const matches = (pattern: string) => {
      const a = pattern.split('/');
      const b = path.split('/');
      return a.length === b.length && a.every((seg, i) => seg === '*' || seg === b[i]);
    };
    return this.#routes.find(
      (r) => matches(r.path) && Object.entries(r.query ?? {}).every(([k, v]) => query[k] === v),
    );
  }

  /**
   * GET /{coll}/{id}?relationships=a,b: the object plus one descriptor block per name, built from the
   * routed recording of /{coll}/{id}/{name} (first 10 descriptors). `count` is only given when the
   * recording is the whole collection (no cursor); a name with no recording gets an empty block.
   */
  #withRelationships(o: Json, coll: string, names: string): Json {
    const relationships: Json = {};
    for (const name of names.split(',').filter(Boolean)) {
      const route = this.#findRoute(`/${coll}/${String(o.id)}/${name}`, {});
      const body = route
        ? this.#load(route.file, route.pick)
        : (this.#derived(coll, String(o.id), name) ?? { data: [], meta: NOT_RECORDED });
      const data = body.data;
      const many = Array.isArray(data);
      const items: unknown[] = Array.isArray(data) ? data : data ? [data] : [];
      const descriptors = items.slice(0, 10).map(descriptor);
      const cursor = jsonObject(body.meta)?.cursor;
      const meta: Json =
        body.meta === NOT_RECORDED
          ? { ...NOT_RECORDED }
          : typeof cursor === 'string'
            ? {}
            : { count: items.length };
      if (items.length > 10) meta.cursor = 'rec:10';
      else if (typeof cursor === 'string') meta.cursor = cursor;
      relationships[name] = {
        data: many ? descriptors : (descriptors[0] ?? null),
        meta,
        links: { self: 'stand-in' },
      };
    }
    return { ...o, relationships };
  }

  #load(file: string, pick?: string): Json {
    const body = readRecording(`${this.#dir}/${file}`);
    if (pick !== undefined) return { data: jsonObject(body)?.[pick] ?? [] };
    return isJson(body) && 'data' in body ? body : { data: body };
  }

  /**
   * A relationship of file `id` derived from its recorded behaviour summary (see the file comment), or
   * undefined when there is no such summary or the relationship is not one a summary shows.
   */
  #derived(coll: string, id: string, name: string): Json | undefined {
    if (coll !== 'files') return undefined;
    const route = this.#findRoute(`/files/${id}/behaviour_summary`, {});
    if (!route) return undefined;
    const b = jsonObject(this.#load(route.file, route.pick).data) ?? {};
    const list = (v: unknown) =>
      (Array.isArray(v) ? v : []).filter((x): x is Json => !!x && typeof x === 'object');
    const related = (type: string, ids: unknown[], attributes: (id: string) => Json = () => ({})) => {
      const unique = [...new Set(ids.filter((x): x is string => typeof x === 'string' && x !== ''))];
      const data = unique.map((rid) => {
        const objectId = type === 'url' ? urlObjectId(Buffer.from(rid).toString('base64url')) : rid;
        return (
          this.#objects.get(`${COLLECTIONS[type]}/${objectId.toLowerCase()}`) ?? {
            type,
            id: objectId,
            attributes: attributes(rid),
          }
        );
      });
      return { data, meta: { count: data.length }, links: { self: 'stand-in' } };
    };
    switch (name) {
      case 'contacted_domains':
        return related(
          'domain',
          list(b.dns_lookups).map((d) => d.hostname),
        );
      case 'contacted_ips':
        return related(
          'ip_address',
          list(b.ip_traffic).map((t) => t.destination_ip),
        );
      case 'contacted_urls':
        return related(
          'url',
          list(b.http_conversations).map((h) => h.url),
          (url) => ({ url }),
        );
      case 'dropped_files':
        return related(
          'file',
          list(b.files_dropped).map((f) => f.sha256),
          (sha256) => ({ sha256 }),
        );
      default:
        return undefined;
    }
  }

  /**
   * Serves a collection honouring `limit` and `cursor`: it is cut into pages with stand-in cursors
   * ("rec:<offset>"), and a recording's own cursor is handed back after the last slice (then `next`,
   * the recording of the page after it, answers that cursor).
   */
  #page(first: Json, query: Record<string, string>, next?: string): Json {
    const recordedMeta = jsonObject(first.meta);
    const recordedCursor = recordedMeta?.cursor;
    if (next && query.cursor && query.cursor === recordedCursor) return this.#load(next);
    const items: unknown = first.data;
    if (!Array.isArray(items)) return first;
    const limit = Math.max(1, Math.min(Number(query.limit) || 10, 300));
    const offset = query.cursor?.startsWith('rec:') ? Number(query.cursor.slice(4)) || 0 : 0;
    // A cursor of VirusTotal's own whose page was never recorded.
    if (query.cursor && !query.cursor.startsWith('rec:')) return { data: [], meta: NOT_RECORDED, links: {} };
    const data = items.slice(offset, offset + limit);
    const meta: Json = { ...recordedMeta };
    delete meta.cursor;
    if (offset + limit < items.length) meta.cursor = `rec:${offset + limit}`;
    else if (typeof recordedCursor === 'string') meta.cursor = recordedCursor;
    return { data, meta, links: { self: 'stand-in' } };
  }
}

/** VT accepts a URL id as sha256 of the canonical URL or as its unpadded base64url; the stand-in maps both. */
function urlObjectId(id: string): string {
  if (/^[0-9a-f]{64}$/i.test(id)) return id.toLowerCase();
  const decoded = Buffer.from(id, 'base64url').toString('utf8');
  const canonical = canonicalUrl(decoded);
  return canonical ? createHash('sha256').update(canonical).digest('hex') : id;
}

/** The descriptor of a related object in a relationships block: its type and id (and context). */
function descriptor(item: unknown): Json {
  const i = jsonObject(item);
  return {
    type: i?.type,
    id: i?.id,
    ...(i?.context_attributes ? { context_attributes: i.context_attributes } : {}),
  };
}

/** Where a server listening on TCP is bound (address() is a string only for a pipe or socket file). */
function tcpAddress(server: Server): AddressInfo {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server is not listening on TCP');
  return address;
}

function notFound(what: string): Json {
  return { error: { code: 'NotFoundError', message: `Resource "${what}" not found` } };
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
