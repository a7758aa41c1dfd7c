/**
 * VT_STATE → a StateStore. `sqlite` (the default) is one file in the user's cache directory, or
 * `sqlite:/path/to/file.db`; `redis://host:port/db` or `rediss://…`; `memory`. A shared store comes
 * wrapped in a ResilientStore (answers from memory while it is unavailable). When the SQLite driver
 * or file cannot be opened, the answer is a memory store and `fellBack` says why.
 */
import { homedir as osHomedir } from 'node:os';
import { posix, win32 } from 'node:path';
import { MemoryStore } from './memory.js';
import { ResilientStore } from './resilient.js';
import { openSqliteStore, type SqliteDriver } from './sqlite.js';
import { describeError, keyspace, type StateStore, StateUnavailableError } from './store.js';

export type StateSpec =
  | { kind: 'memory' }
  /** isDefault: the user's cache directory (ours, so its mode may be tightened). */
  | { kind: 'sqlite'; path: string; isDefault: boolean }
  | { kind: 'redis'; url: string };

export interface PathContext {
  env: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Defaults to os.homedir(). */
  homedir?: string;
}

const APP_DIR = 'vtbrief';
const FILE_NAME = 'state.db';

export const STATE_SPEC_HELP =
  'VT_STATE must be "sqlite" (the default: a file in the user cache directory), "sqlite:/absolute/path/file.db", ' +
  '"redis://host:port/db", "rediss://host:port/db" or "memory"';

function home(ctx: PathContext): string | undefined {
  if (ctx.homedir !== undefined) return ctx.homedir || undefined;
  try {
    return osHomedir() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The default file: $XDG_CACHE_HOME (when absolute) or ~/.cache on Linux and other Unixes,
 * ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows; then vtbrief/state.db. Undefined when no
 * home directory is known. Computes only: creates nothing.
 */
export function defaultStatePath(ctx: PathContext): string | undefined {
  const platform = ctx.platform ?? process.platform;
  const h = home(ctx);
  if (platform === 'win32') {
    const local = ctx.env.LOCALAPPDATA;
    const base = local && win32.isAbsolute(local) ? local : h ? win32.join(h, 'AppData', 'Local') : undefined;
    return base ? win32.join(base, APP_DIR, FILE_NAME) : undefined;
  }
  if (platform === 'darwin') return h ? posix.join(h, 'Library', 'Caches', APP_DIR, FILE_NAME) : undefined;
  const xdg = ctx.env.XDG_CACHE_HOME;
  const base = xdg && posix.isAbsolute(xdg) ? xdg : h ? posix.join(h, '.cache') : undefined;
  return base ? posix.join(base, APP_DIR, FILE_NAME) : undefined;
}

/** Hides any user or password of a URL-like spec, for error messages. */
function safeSpec(spec: string): string {
  return spec.replace(/\/\/[^/@]*@/, '//***@').slice(0, 200);
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
      throw new StateSpecError(`${STATE_SPEC_HELP}; "${safeSpec(s)}" is not a valid URL.`);
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
  redis?: { namespace?: string; timeoutMs?: number; connectWaitMs?: number };
  /** driver: null stands for a Node without node:sqlite (tests). */
  sqlite?: { busyTimeoutMs?: number; driver?: SqliteDriver | null };
}

export interface OpenedState {
  store: StateStore;
  /** Why the requested backend could not be opened (the store is then memory). */
  fellBack?: string;
}

/**
 * Opens the store VT_STATE asks for. A bad spec throws StateSpecError (the config layer reports it);
 * a backend that cannot be opened gives memory with `fellBack`. Redis not reachable at start is not
 * a fallback: the store starts degraded (health().degradedSince) and moves to Redis when it answers.
 */
export async function openStateStore(spec: string | undefined, opts: OpenStateOptions): Promise<OpenedState> {
  const parsed = parseStateSpec(spec, opts);
  const log = opts.log ?? (() => {});
  const ks = keyspace(opts.apiKey);
  const memory = (reason?: string) =>
    new MemoryStore({ cacheMaxBytes: opts.cacheMaxBytes, ...(reason !== undefined ? { reason } : {}) });
  const fellBack = (reason: string): OpenedState => {
    log(`shared state unavailable, using this process's memory: ${reason}`);
    return { store: memory(reason), fellBack: reason };
  };
  const wrap = (primary: StateStore, initialFailure?: string): StateStore =>
    opts.resilient === false
      ? primary
      : new ResilientStore(primary, {
          cacheMaxBytes: opts.cacheMaxBytes,
          log,
          ...(opts.resilient ?? {}),
          ...(initialFailure !== undefined ? { initialFailure } : {}),
        });

  if (parsed.kind === 'memory') return { store: memory() };

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
      return { store: wrap(store) };
    } catch (err) {
      return fellBack(err instanceof StateUnavailableError ? err.reason : describeError(err));
    }
  }

  let mod: typeof import('./redis.js');
  try {
    mod = await import('./redis.js');
  } catch (err) {
    return fellBack(`the Redis client could not be loaded: ${describeError(err)}`);
  }
  try {
    const store = await mod.openRedisStore({
      url: parsed.url,
      keyspace: ks,
      cacheMaxBytes: opts.cacheMaxBytes,
      log,
      ...(opts.redis ?? {}),
    });
    return {
      store: wrap(store, store.connected ? undefined : `Redis at ${store.location} is not reachable`),
    };
  } catch (err) {
    return fellBack(err instanceof StateUnavailableError ? err.reason : describeError(err));
  }
}
