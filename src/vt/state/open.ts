/**
 * VT_STATE → a StateStore. `sqlite` (the default) is one file in the user's cache directory, or
 * `sqlite:/path/to/file.db`; `redis://host:port/db` or `rediss://…`; `memory`. A shared store comes
 * wrapped in a ResilientStore (answers from memory while it is unavailable). When the SQLite driver
 * or file cannot be opened, the answer is a memory store and `fellBack` says why, in plain words;
 * stateStartLine() is the one line the server logs about it at start. VT_STATE=redis://… in an
 * installation without the Redis client is a configuration error, not a fallback.
 */
import { posix, win32 } from 'node:path';
import { field } from '../../util/json.js';
import { defaultStatePath, home, type PathContext } from './location.js';
import { MemoryStore } from './memory.js';
import { ResilientStore } from './resilient.js';
import { openSqliteStore, type SqliteDriver } from './sqlite.js';
import {
  describeError,
  keyspace,
  type StateStore,
  StateUnavailableError,
  type StoreHealth,
} from './store.js';

export type StateSpec =
  | { kind: 'memory' }
  /** isDefault: the user's cache directory (ours: a shared sticky directory is not accepted there). */
  | { kind: 'sqlite'; path: string; isDefault: boolean }
  | { kind: 'redis'; url: string };

export { defaultStatePath, type PathContext } from './location.js';

export const STATE_SPEC_HELP =
  'VT_STATE must be "sqlite" (the default: a file in the user cache directory), "sqlite:/absolute/path/file.db", ' +
  '"redis://host:port/db", "rediss://host:port/db" or "memory"';

/**
 * A VT_STATE value fit for an error message: whatever may be a URL's user and password is hidden.
 * Not the URL parser's idea of them: a password holding "/", "?" or "#" ends the parser's authority
 * early (the URL then fails to parse, or parses with part of the password as its host), so
 * everything from "//" (or the scheme's ":") to the LAST "@" of the whole string goes.
 */
function safeSpec(spec: string): string {
  const at = spec.lastIndexOf('@');
  if (at === -1) return spec.slice(0, 200);
  const slashes = spec.indexOf('//');
  const colon = spec.indexOf(':');
  const from = slashes !== -1 && slashes < at ? slashes + 2 : colon !== -1 && colon < at ? colon + 1 : 0;
  return `${spec.slice(0, from)}***@${spec.slice(at + 1)}`.slice(0, 200);
}

/** What a password with URL syntax in it needs, said when the URL does not come out as written. */
const ENCODE_HINT =
  'percent-encode "/", "?", "#", "@", "%" and spaces in the user and password (e.g. "/" as "%2F", "%" as "%25")';

/**
 * The secrets a VT_STATE value carries, for the logger's redaction set: a Redis URL's password as
 * written, as the URL parser normalises it, and decoded (what the Redis client sends). Taken from the
 * text before the last "@" as well as from the parser, so that a URL the parser misreads still gives
 * its password. Empty for anything but a redis:// or rediss:// URL with a password.
 */
export function stateSecrets(spec: string | undefined): string[] {
  const s = (spec ?? '').trim();
  if (!/^rediss?:\/\//i.test(s)) return [];
  const out = new Set<string>();
  const at = s.lastIndexOf('@');
  const userinfo = at === -1 ? '' : s.slice(s.indexOf('//') + 2, at);
  const colon = userinfo.indexOf(':');
  const written = colon === -1 ? '' : userinfo.slice(colon + 1);
  let parsed = '';
  try {
    parsed = new URL(s).password;
  } catch {
    // The password as written is still there.
  }
  for (const form of [written, parsed]) {
    if (!form) continue;
    out.add(form);
    try {
      out.add(decodeURIComponent(form));
    } catch {
      // Not valid percent-encoding (e.g. "%zz"): the Redis client cannot send it either.
    }
  }
  return [...out];
}

export class StateSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateSpecError';
  }
}

/** Parses VT_STATE; throws StateSpecError with a message naming what is accepted. */
export function parseStateSpec(spec: string | undefined, ctx: PathContext): StateSpec {
  const s = (spec ?? '').trim();
  const lower = s.toLowerCase();
  const platform = ctx.platform ?? process.platform;
  if (s === '' || lower === 'sqlite') {
    const path = defaultStatePath(ctx);
    if (path === undefined) {
      throw new StateSpecError(
        `${STATE_SPEC_HELP}. No home directory is known to place the default file in: set VT_STATE=sqlite:/path/file.db.`,
      );
    }
    return { kind: 'sqlite', path, isDefault: true };
  }
  if (lower === 'memory') return { kind: 'memory' };
  if (lower.startsWith('sqlite:')) {
    let p = s.slice('sqlite:'.length).trim();
    if (p === '') throw new StateSpecError(`${STATE_SPEC_HELP}; "sqlite:" needs a path after it.`);
    const h = home(ctx);
    if ((p === '~' || p.startsWith('~/') || p.startsWith('~\\')) && h) p = h + p.slice(1);
    const path = platform === 'win32' ? win32 : posix;
    if (!path.isAbsolute(p)) {
      throw new StateSpecError(`${STATE_SPEC_HELP}; the path "${p.slice(0, 200)}" is not absolute.`);
    }
    p = path.normalize(p);
    if (p.endsWith(path.sep))
      throw new StateSpecError(`${STATE_SPEC_HELP}; "${p.slice(0, 200)}" names a directory.`);
    return { kind: 'sqlite', path: p, isDefault: false };
  }
  if (lower.startsWith('redis://') || lower.startsWith('rediss://')) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new StateSpecError(
        `${STATE_SPEC_HELP}; "${safeSpec(s)}" is not a valid URL${s.includes('@') ? `: ${ENCODE_HINT}` : ''}.`,
      );
    }
    // An "@" past the host: the user or password holds "/", "?" or "#" as is, which ended the host
    // early (the part of the password before it would be taken for the host and port).
    if (/@|%40/.test(u.pathname + u.search + u.hash)) {
      throw new StateSpecError(
        `${STATE_SPEC_HELP}; "${safeSpec(s)}" would be read with part of its user or password as the host: ${ENCODE_HINT}.`,
      );
    }
    try {
      decodeURIComponent(u.username);
      decodeURIComponent(u.password);
    } catch {
      throw new StateSpecError(
        `${STATE_SPEC_HELP}; the user or password of "${safeSpec(s)}" is not valid percent-encoding: ${ENCODE_HINT}.`,
      );
    }
    if (!u.hostname) throw new StateSpecError(`${STATE_SPEC_HELP}; "${safeSpec(s)}" names no host.`);
    if (u.port && !/^\d+$/.test(u.port))
      throw new StateSpecError(`${STATE_SPEC_HELP}; bad port in "${safeSpec(s)}".`);
    if (!/^\/?(\d{1,5})?$/.test(u.pathname)) {
      throw new StateSpecError(`${STATE_SPEC_HELP}; the path of "${safeSpec(s)}" must be a database number.`);
    }
    return { kind: 'redis', url: s };
  }
  throw new StateSpecError(`${STATE_SPEC_HELP}; got "${safeSpec(s)}".`);
}

export interface OpenStateOptions extends PathContext {
  apiKey: string;
  cacheMaxBytes: number;
  log?: (msg: string) => void;
  /** The ResilientStore's settings; false for the bare backend (tests). */
  resilient?: false | { timeoutMs?: number; probeEveryMs?: number };
  redis?: {
    namespace?: string;
    timeoutMs?: number;
    connectWaitMs?: number;
    /** Loads the Redis store's module (tests stand in an installation without the `redis` package). */
    load?: () => Promise<typeof import('./redis.js')>;
  };
  /** driver: null stands for a Node without node:sqlite (tests). */
  sqlite?: { busyTimeoutMs?: number; driver?: SqliteDriver | null };
}

export interface OpenedState {
  store: StateStore;
  /** The backend VT_STATE names. */
  requested: StateSpec['kind'];
  /** Why the requested backend could not be opened (the store is then memory, for the process's life). */
  fellBack?: string;
}

/**
 * Memory in place of the store VT_STATE names, for the life of this process: health() says why and
 * since when (degradedSince), as a ResilientStore's does, but nothing is retried (kind 'memory' tells
 * the two apart): what failed at start (a Node without node:sqlite, a file that cannot be opened)
 * stays failed until someone fixes it and restarts the server.
 */
class FallbackMemoryStore extends MemoryStore {
  readonly #since: number;
  constructor(cacheMaxBytes: number, reason: string) {
    super({ cacheMaxBytes, reason });
    this.#since = Date.now();
  }
  override health(): StoreHealth {
    return { ...super.health(), degradedSince: this.#since };
  }
}

/** redis(s)://host:port/db, without user or password (the Redis module may be the thing missing). */
function redisLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || '6379'}/${u.pathname.replace(/^\//, '') || '0'}`;
  } catch {
    return 'redis://…';
  }
}

/**
 * The `redis` package (or one of its own, or our module that imports it) is not installed: the
 * Claude Desktop bundle leaves it out on purpose. Any other failure to load is something else.
 */
function isRedisClientMissing(err: unknown): boolean {
  const message = field(err, 'message');
  if (field(err, 'code') !== 'ERR_MODULE_NOT_FOUND' || typeof message !== 'string') return false;
  return /['"](?:redis|@redis\/[^'"]+)['"]|[/\\]redis\.js['"]/.test(message);
}

/**
 * The error of VT_STATE=redis://… without the Redis client. Replicas that each fell back to their own
 * memory would each spend the key's whole quota: the server refuses to start instead, and says how to
 * get a server that has the client. Names the URL's host, port and database only, never a password.
 */
export function redisClientMissingMessage(url: string): string {
  return (
    `VT_STATE=${redisLocation(url)} needs the Redis client, which this installation does not include ` +
    "(the Claude Desktop bundle runs one user's server on SQLite: leave VT_STATE unset); " +
    'to run replicas on Redis, run the npm package: npx -y vtbrief'
  );
}

/** SQLite's primary result codes that say why a file could not be opened (node:sqlite's errcode). */
const SQLITE_CAUSES: Record<number, string> = {
  5: 'another process holds its lock (database is locked)',
  6: 'another connection holds its lock (database table is locked)',
  8: 'it is read-only to this process (attempt to write a readonly database)',
  10: 'the disk could not be read or written (disk I/O error)',
  11: 'it is damaged (database disk image is malformed)',
  13: 'the disk is full (database or disk is full)',
  14: 'SQLite cannot open it (unable to open database file)',
  26: 'it is not a SQLite database (file is not a database)',
};

/** File-system error codes met while preparing the file and its directory. */
const FS_CAUSES: Record<string, string> = {
  EACCES: 'permission denied: this user may not read and write it, or create it in its directory',
  EPERM: 'permission denied: this user may not read and write it, or create it in its directory',
  EROFS: 'it is on a read-only file system',
  EISDIR: 'that path is a directory',
  ENOTDIR: 'a part of its path is a file, not a directory',
  ENOSPC: 'the disk is full',
  ENAMETOOLONG: 'its path is too long',
};

/**
 * Why a SQLite state file could not be opened, in words a user can act on; undefined when the error
 * is none of the known causes (the opener's own reason is used then).
 */
function sqliteFileCause(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const code = field(err, 'code');
  const errcode = field(err, 'errcode');
  const message = field(err, 'message');
  if (typeof code === 'string' && FS_CAUSES[code]) return FS_CAUSES[code];
  if (typeof errcode === 'number' && SQLITE_CAUSES[errcode & 0xff]) return SQLITE_CAUSES[errcode & 0xff];
  const schema = /state schema (\S+), this version reads (\S+)/.exec(
    typeof message === 'string' ? message : '',
  );
  if (schema) {
    const [, found = '', reads = ''] = schema;
    return Number(found) > Number(reads)
      ? `a newer vtbrief wrote it (state schema ${found}; this version reads ${reads}): update vtbrief, or give this one another file`
      : `it has state schema ${found}, which this version does not read (it reads ${reads})`;
  }
  return undefined;
}

/**
 * The one line the server logs at start about its state: where it is and who shares it, or, when it
 * is this process's memory instead, why, and whether it is retried.
 */
export function stateStartLine(opened: OpenedState): string {
  const h = opened.store.health();
  if (opened.fellBack !== undefined) {
    const wanted = opened.requested === 'redis' ? 'Redis' : 'the SQLite file';
    return (
      `state: memory, this process only: ${opened.fellBack}. The quota counts, the cache and triage jobs are not ` +
      `shared with other processes and a restart loses them; not retried: once that is fixed, a restart uses ${wanted}.`
    );
  }
  if (h.kind === 'memory') {
    return 'state: memory, this process only: the quota counts, the cache and triage jobs are not shared, and a restart loses them.';
  }
  if (h.degradedSince !== undefined) {
    return (
      `state: ${h.kind} at ${h.location} is unavailable (${h.reason ?? 'no answer'}): this process counts on its own, ` +
      "in memory, until it answers (retried in the background), so other processes' lookups on this key are not in its counts."
    );
  }
  return `state: ${h.kind} at ${h.location}, shared by every process on this key.`;
}

/**
 * Opens the store VT_STATE asks for. A bad spec throws StateSpecError (the config layer reports it),
 * and so does VT_STATE=redis://… in an installation without the Redis client; a backend that cannot
 * be opened gives memory with `fellBack` (logged by the caller: stateStartLine()). Redis not
 * reachable at start is not a fallback: the store starts degraded (health().degradedSince) and moves
 * to Redis when it answers.
 */
export async function openStateStore(spec: string | undefined, opts: OpenStateOptions): Promise<OpenedState> {
  const parsed = parseStateSpec(spec, opts);
  const log = opts.log ?? (() => {});
  const ks = keyspace(opts.apiKey);
  const requested = parsed.kind;
  const fellBack = (reason: string): OpenedState => ({
    store: new FallbackMemoryStore(opts.cacheMaxBytes, reason),
    requested,
    fellBack: reason,
  });
  const wrap = (primary: StateStore, initialFailure?: string): StateStore =>
    opts.resilient === false
      ? primary
      : new ResilientStore(primary, {
          cacheMaxBytes: opts.cacheMaxBytes,
          log,
          ...(opts.resilient ?? {}),
          ...(initialFailure !== undefined ? { initialFailure } : {}),
        });

  if (parsed.kind === 'memory') {
    return { store: new MemoryStore({ cacheMaxBytes: opts.cacheMaxBytes }), requested };
  }

  if (parsed.kind === 'sqlite') {
    try {
      const store = openSqliteStore({
        path: parsed.path,
        keyspace: ks,
        cacheMaxBytes: opts.cacheMaxBytes,
        ownDirectory: parsed.isDefault,
        platform: opts.platform ?? process.platform,
        ...(opts.sqlite?.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.sqlite.busyTimeoutMs } : {}),
        ...(opts.sqlite?.driver !== undefined ? { driver: opts.sqlite.driver } : {}),
      });
      return { store: wrap(store), requested };
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) return fellBack(describeError(err));
      const cause = sqliteFileCause(err.cause);
      return fellBack(
        cause ? `the SQLite state file ${parsed.path} could not be opened: ${cause}` : err.reason,
      );
    }
  }

  const { load = () => import('./redis.js'), ...redisOpts } = opts.redis ?? {};
  let mod: typeof import('./redis.js');
  try {
    mod = await load();
  } catch (err) {
    if (isRedisClientMissing(err)) throw new StateSpecError(redisClientMissingMessage(parsed.url));
    return fellBack(`the Redis client could not be loaded: ${describeError(err)}`);
  }
  // The client's first connection error is part of the start line (stateStartLine): not a line of its own.
  let opening = true;
  try {
    const store = await mod.openRedisStore({
      url: parsed.url,
      keyspace: ks,
      cacheMaxBytes: opts.cacheMaxBytes,
      log: (msg) => {
        if (!opening) log(msg);
      },
      ...redisOpts,
    });
    opening = false;
    const why = store.connected ? undefined : store.health().reason;
    const wrapped = wrap(store, store.connected ? undefined : `not reachable${why ? `: ${why}` : ''}`);
    // Back on Redis as soon as it answers again (a slow first connection, a restart), not a probe later.
    if (wrapped instanceof ResilientStore) store.onReady(() => void wrapped.probe());
    return { store: wrapped, requested };
  } catch (err) {
    opening = false;
    return fellBack(err instanceof StateUnavailableError ? err.reason : describeError(err));
  }
}
