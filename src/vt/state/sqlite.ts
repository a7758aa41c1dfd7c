/**
 * The embedded shared store: one SQLite file that every process of the user on this machine opens,
 * through Node's built-in SQLite (`node:sqlite`, Node 22.13 and later): no native addon to build or
 * ship. WAL mode, a busy timeout, accounting inside IMMEDIATE transactions (one writer at a time, so two
 * processes never both take the last slot), expired rows pruned a bounded number at a time, the cache's
 * size bound applied on disk to the bodies as stored (compressed: packed-body.ts). Every row carries the
 * keyspace (the cache's rows as a number, see keyspaces), so one file serves several keys without
 * mixing them.
 *
 * node:sqlite is synchronous: a call blocks the event loop for its duration, at most the busy timeout
 * when another process holds the write lock (transactions here last microseconds).
 *
 * The store class is in sqlite-store.ts, the file's schema and statements in sqlite-schema.ts.
 */

import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DatabaseSync } from 'node:sqlite';
import { field } from '../../util/json.js';
import { type CheckedFile, checkCompanions, confirmOpened, prepareFile } from './safe-file.js';
import { column, keyspaceId, migrate } from './sqlite-schema.js';
import { immediate, SqliteStore } from './sqlite-store.js';
import { describeError, StateUnavailableError } from './store.js';

export { SqliteStore };

export type SqliteDriver = typeof import('node:sqlite');

export interface SqliteStoreOptions {
  path: string;
  /** keyspace(apiKey). */
  keyspace: string;
  cacheMaxBytes: number;
  /** How long a writer waits for another process's transaction (ms). Default 2000. */
  busyTimeoutMs?: number;
  /**
   * The file's directory is ours (the default location): it must be this user's and writable by no
   * one else. A directory the user named may also be a shared one with the sticky bit, such as /tmp
   * (see checkDirectory). A missing directory is created 0700 either way; nothing is ever chmodded.
   */
  ownDirectory?: boolean;
  /** The driver; tests pass null to exercise the fallback of a Node without node:sqlite. */
  driver?: SqliteDriver | null;
  platform?: NodeJS.Platform;
}

/**
 * The longest one attempt blocks the event loop waiting for another process's lock: short, since every
 * lookup, queued write and probe may be waiting at once, and their waits add up (at 20 ms, /healthz
 * stalled 150-380 ms behind a lock held for 2 s). The store waits out the rest between attempts.
 */
const SYNC_BUSY_MS = 2;

const SQLITE_WARNING = /^SQLite is an experimental feature/;

/**
 * node:sqlite, loaded on first use. Node 22 prints "SQLite is an experimental feature" when it is
 * loaded (24 does not): that one warning is dropped, every other warning goes through. A Node without
 * it (before 22.13, or built without SQLite) gets a StateUnavailableError that says so.
 */
export function loadNodeSqlite(): SqliteDriver {
  const emit = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]): void {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (SQLITE_WARNING.test(text)) return;
    // Passed on as given, whichever of emitWarning's forms the caller used.
    Reflect.apply(emit, this, [warning, ...rest]);
  };
  let mod: SqliteDriver | undefined;
  let failure: unknown;
  try {
    // Undefined on a Node without node:sqlite (and without getBuiltinModule before 22.3), whatever
    // the types say; checked below.
    mod = process.getBuiltinModule?.('node:sqlite');
    mod ??= loadWithRequire();
  } catch (err) {
    failure = err;
  } finally {
    process.emitWarning = emit;
  }
  if (typeof mod?.DatabaseSync !== 'function') {
    throw new StateUnavailableError(
      `this Node (${process.version}) has no built-in SQLite (node:sqlite, Node 22.13 or later)`,
      { cause: failure },
    );
  }
  return mod;
}

/** node:sqlite through require, for a Node without process.getBuiltinModule. */
function loadWithRequire(): SqliteDriver | undefined {
  const loaded: unknown = createRequire(import.meta.url)('node:sqlite');
  return isSqliteDriver(loaded) ? loaded : undefined;
}

function isSqliteDriver(v: unknown): v is SqliteDriver {
  return typeof field(v, 'DatabaseSync') === 'function';
}

/** Opens (creating if needed) the store; throws StateUnavailableError with a reason fit for a log. */
export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  const driver = opts.driver === undefined ? loadNodeSqlite() : opts.driver;
  if (driver === null) {
    throw new StateUnavailableError(
      `this Node (${process.version}) has no built-in SQLite (node:sqlite, Node 22.13 or later)`,
    );
  }
  let db: DatabaseSync | undefined;
  let checked: CheckedFile | undefined;
  const platform = opts.platform ?? process.platform;
  try {
    checked = prepareFile(opts.path, opts.ownDirectory ?? false, platform);
    db = new driver.DatabaseSync(opts.path);
    if (checked.id !== undefined) confirmOpened(db, opts.path, checked.id);
    // Closed before SQLite takes its first lock (opening takes none; the statements below do): closing
    // it later would drop SQLite's locks on the file (see OPEN_FILES).
    if (checked.fd !== undefined) closeSync(checked.fd);
    checked.fd = undefined;
    // node:sqlite's own busy timeout is 0: a second process would fail at once instead of waiting.
    // Opening waits for another process's lock as long as the busy timeout says (a start may block);
    // afterwards SQLite's own wait is kept short (see below).
    const busyMs = Math.max(0, Math.floor(opts.busyTimeoutMs ?? 2000));
    db.exec(`PRAGMA busy_timeout = ${busyMs}`);
    const mode = column(db.prepare('PRAGMA journal_mode = WAL').get());
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
    db.exec('PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA recursive_triggers = OFF');
    const d = db;
    const cacheKs = immediate(d, () => {
      migrate(d);
      return keyspaceId(d, opts.keyspace);
    });
    // The -wal and -shm files now exist: made by SQLite, or found (and then checked before) and opened.
    checkCompanions(opts.path, platform !== 'win32');
    // SQLite's own wait for a lock blocks the event loop (and every answer, /healthz included): from
    // now on it is kept short, and the store waits out the rest between attempts (SqliteStore#retry).
    d.exec(`PRAGMA busy_timeout = ${Math.min(SYNC_BUSY_MS, busyMs)}`);
    return new SqliteStore(d, opts, cacheKs, checked.id);
  } catch (err) {
    if (checked?.fd !== undefined) closeSync(checked.fd);
    try {
      db?.close();
    } catch {
      // already failing
    }
    if (err instanceof StateUnavailableError) throw err;
    throw new StateUnavailableError(
      `the SQLite state file ${opts.path} could not be opened: ${describeError(err)}`,
      { cause: err },
    );
  }
}
