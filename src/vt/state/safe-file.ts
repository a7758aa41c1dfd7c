/**
 * Opening the SQLite state file safely. The checks below run before node:sqlite opens the path, and
 * again on what it opened; a refusal is a StateUnavailableError whose reason says what to do.
 */
import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  statSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { field } from '../../util/json.js';
import { StateUnavailableError } from './store.js';

/*
 * The state file decides what the server believes: how much of the key's quota is left, and the
 * verdicts it has cached ("MALICIOUS, 54/75"). Whoever else can write it, or can point the path at
 * another file, can change those answers or make the server write a database over a file of theirs
 * choosing. So the file, its directory and SQLite's companion files are checked before SQLite opens
 * anything, without following symbolic links, and anything doubtful is refused with one line that
 * says what and why (the caller falls back to memory with it). Nothing is ever chmodded: a directory
 * or file created here is created 0700 / 0600 (the umask can only tighten that), and one found looser
 * is refused rather than "fixed", since it may belong to, or have been edited by, someone else.
 *
 * Windows has no owner uid nor mode bits (access there is by ACL, which these checks do not read):
 * there only links and non-regular files are refused.
 */

/** 0 where the platform has none (Windows, where these checks are skipped). */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;
/** A FIFO planted in the file's place must not hang the open. */
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const S_ISVTX = 0o1000;
/** Write permission for the file's group or for others. */
const WRITABLE_BY_OTHERS = 0o022;
const ELSEWHERE = 'set VT_STATE=sqlite:/another/path';
/** Files SQLite keeps beside the database (the rollback journal only after a crash in another mode). */
const COMPANIONS: Array<[suffix: string, name: string]> = [
  ['-wal', 'write-ahead log'],
  ['-shm', 'shared-memory file'],
  ['-journal', 'rollback journal'],
];

/**
 * The state files this process has open through a SqliteStore (dev:ino → how many stores), kept on
 * globalThis so that every copy of this module shares it (each worker thread still has its own).
 * SQLite's locks are POSIX record locks, which belong to the process: closing ANY descriptor of a
 * file drops every lock the process holds on it, the open connections' included (a WAL connection
 * holds a shared lock on the database and on the -shm file for as long as it is open; without them
 * another process may checkpoint and delete the WAL under it). So a file already open here is
 * checked with lstat alone, never opened and closed here again; the companions are only ever
 * lstat-ed, never opened.
 */
const OPEN_FILES_KEY = Symbol.for('vtbrief.sqlite.open-files');
export const OPEN_FILES: Map<string, number> = sharedOpenFiles();

function sharedOpenFiles(): Map<string, number> {
  const kept: unknown = Reflect.get(globalThis, OPEN_FILES_KEY);
  if (kept instanceof Map) return kept;
  const made = new Map<string, number>();
  Reflect.set(globalThis, OPEN_FILES_KEY, made);
  return made;
}

function fileId(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

function octal(mode: bigint): string {
  return `0${(Number(mode) & 0o7777).toString(8).padStart(3, '0')}`;
}

/** The one-line reason a file or directory is refused. */
function refused(what: string, problem: string, risk: string, fix = `remove it or ${ELSEWHERE}`) {
  return new StateUnavailableError(`${what} ${problem}: refused (${risk}); ${fix}`);
}

/** O_NOFOLLOW met a symbolic link: ELOOP (Linux, macOS), EMLINK (FreeBSD). */
function isLink(err: unknown): boolean {
  const code = field(err, 'code');
  return code === 'ELOOP' || code === 'EMLINK';
}

function linkRefused(what: string, target: 'file' | 'directory') {
  return refused(what, 'is a symbolic link', `a planted link could point the server at another ${target}`);
}

/** A file (the database or a companion), as lstat or fstat saw it. */
function checkFile(what: string, st: BigIntStats, posix: boolean): void {
  if (st.isSymbolicLink()) throw linkRefused(what, 'file');
  if (!st.isFile()) throw refused(what, 'is not a regular file', 'the state is kept in regular files only');
  if (!posix) return;
  const risk = 'could rewrite the quota counts and the cached verdicts this server answers with';
  if (Number(st.uid) !== process.getuid?.()) {
    throw refused(what, `belongs to another user (uid ${st.uid})`, `that user ${risk}`);
  }
  if ((Number(st.mode) & WRITABLE_BY_OTHERS) !== 0) {
    throw refused(
      what,
      `can be written by users other than its owner (mode ${octal(st.mode)})`,
      `any of them ${risk}`,
    );
  }
  // In a shared directory another user may be able to link a file of ours under this name: writing
  // the database would then write that file.
  if (st.nlink > 1n) {
    throw refused(
      what,
      `has ${st.nlink} names (hard links)`,
      'writing it would change the file under its other names too',
    );
  }
}

/**
 * The directory that holds the file: created 0700 when missing (with any missing parents); else a
 * real directory (not a link), opened without following one and checked on that descriptor. Its
 * owner must be this user or root (root can do anything to us anyway), and either no one else may
 * write to it, or — for a path the user named in VT_STATE, never the default location — it is a
 * shared directory with the sticky bit, like /tmp (root's, mode 1777): there others may create
 * files but not remove or rename ours, so the file, checked on its own, cannot be swapped. Only this
 * last directory is checked: links among its parents are followed (on macOS /tmp and /var are links),
 * and where those parents are is the user's choice.
 */
function checkDirectory(dir: string, ownDirectory: boolean, posix: boolean): void {
  const what = `the directory ${dir} of the SQLite state file`;
  const found = lstatSync(dir, { bigint: true, throwIfNoEntry: false });
  if (found === undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
  else if (found.isSymbolicLink()) throw linkRefused(what, 'directory');
  if (!posix) return;
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    // A link put there since the lstat (or the mkdir); ENOTDIR (a file) is worded by the caller.
    if (isLink(err)) throw linkRefused(what, 'directory');
    throw err;
  }
  let st: BigIntStats;
  try {
    st = fstatSync(fd, { bigint: true });
  } finally {
    closeSync(fd);
  }
  const uid = Number(st.uid);
  const mode = Number(st.mode);
  const trusted = uid === process.getuid?.() || uid === 0;
  if (trusted && (mode & WRITABLE_BY_OTHERS) === 0) return;
  if (trusted && !ownDirectory && (mode & S_ISVTX) !== 0) return;
  const risk = 'could put another file in the place of the one this server reads';
  if (!trusted) throw refused(what, `belongs to another user (uid ${uid})`, `that user ${risk}`, ELSEWHERE);
  throw refused(
    what,
    `can be written by users other than its owner (mode ${octal(st.mode)})`,
    `any of them ${risk}`,
    `remove their write permission (chmod go-w ${dir}) or ${ELSEWHERE}`,
  );
}

/** The -wal, -shm and -journal files, when present: checked with lstat only (see OPEN_FILES). */
export function checkCompanions(path: string, posix: boolean): void {
  for (const [suffix, name] of COMPANIONS) {
    const p = path + suffix;
    const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
    if (st !== undefined) checkFile(`the SQLite ${name} ${p}`, st, posix);
  }
}

/** The checked database file: its dev:ino, and our descriptor of it while SQLite opens it. */
export interface CheckedFile {
  /** Undefined on Windows, where nothing is compared. */
  id: string | undefined;
  /** Undefined when a store of this process already has the file open (see OPEN_FILES), or on Windows. */
  fd: number | undefined;
}

/**
 * The database file: created 0600 when missing (O_EXCL: never through a link, never over a file that
 * appeared meanwhile), else opened with O_NOFOLLOW; checked on the descriptor, which the caller keeps
 * open while SQLite opens the path (see confirmOpened).
 */
function checkDatabaseFile(path: string, posix: boolean): CheckedFile {
  const what = `the SQLite state file ${path}`;
  const found = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  // A directory is left to the open below, whose EISDIR the caller words.
  if (found !== undefined && !found.isDirectory()) checkFile(what, found, posix);
  if (!posix) {
    if (found === undefined) closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600));
    return { id: undefined, fd: undefined };
  }
  if (found?.isFile() && OPEN_FILES.has(fileId(found))) return { id: fileId(found), fd: undefined };
  const flags = constants.O_RDWR | O_NOFOLLOW | O_NONBLOCK;
  let fd: number | undefined;
  try {
    if (found === undefined) {
      try {
        fd = openSync(path, flags | constants.O_CREAT | constants.O_EXCL, 0o600);
      } catch (err) {
        // Created since the lstat (another server starting, or a planted link): opened as it is.
        if (field(err, 'code') !== 'EEXIST') throw err;
      }
    }
    fd ??= openSync(path, flags);
  } catch (err) {
    if (isLink(err)) throw linkRefused(what, 'file');
    throw err;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    checkFile(what, st, posix);
    return { id: fileId(st), fd };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * Checks the directory, the companions and the database file (creating what is missing) before
 * SQLite opens the path; throws StateUnavailableError saying what was refused and why.
 */
export function prepareFile(path: string, ownDirectory: boolean, platform: NodeJS.Platform): CheckedFile {
  const posix = platform !== 'win32';
  checkDirectory(dirname(path), ownDirectory, posix);
  checkCompanions(path, posix);
  return checkDatabaseFile(path, posix);
}

/**
 * Node cannot hand SQLite a descriptor, so SQLite opens the path again after the checks: in between,
 * someone able to write the directory could swap the file or put a link in its place. This narrows
 * that window to nothing that goes unnoticed: while our descriptor is still open (so the checked
 * file's inode cannot be freed and its number given to another file), the path must still be that
 * very file (lstat: not a link, same dev:ino), and so must the file SQLite says it opened (PRAGMA
 * database_list gives the name SQLite resolved, links included; it reads nothing and takes no lock).
 * SQLite opens the companions itself with O_NOFOLLOW; they are checked again once it made them.
 */
export function confirmOpened(db: DatabaseSync, path: string, id: string): void {
  const now = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  const file = db.prepare('PRAGMA database_list').get()?.file;
  const opened =
    typeof file === 'string' && file !== ''
      ? statSync(file, { bigint: true, throwIfNoEntry: false })
      : undefined;
  if (now?.isFile() && fileId(now) === id && opened !== undefined && fileId(opened) === id) return;
  throw refused(
    `the SQLite state file ${path}`,
    'changed while SQLite opened it',
    'something replaced it, or put a link in its place, after it was checked',
    `restart to try again, or ${ELSEWHERE}`,
  );
}
