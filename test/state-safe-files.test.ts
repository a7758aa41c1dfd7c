/**
 * The SQLite state file is opened without following links and only when nobody else can write it:
 * a link at state.db, at its directory or at state.db-wal, a file or directory of another user, or
 * one that others may write, is refused in one plain line (the server then runs on memory, saying
 * so), and nothing it points at is touched: no chmod, no database written, no file created. What the
 * server creates itself is 0700 / 0600 and reopens fine. Real files in temp directories; the tests
 * that give files to another user (uid 65534) need root.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import * as nodeSqlite from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { openStateStore, stateStartLine } from '../src/vt/state/open.js';
import { openSqliteStore, type SqliteDriver } from '../src/vt/state/sqlite.js';
import { keyspace, StateUnavailableError } from '../src/vt/state/store.js';
import { randomApiKey, tempDir } from './helpers/state-backends.js';

const posix = process.platform !== 'win32';
const root = process.getuid?.() === 0;
const OTHER_UID = 65534;
const t = tempDir('safe-files');
afterAll(() => t.remove());

let n = 0;
/** A fresh directory (0700, ours) inside the temp dir. */
function place(label: string): string {
  const dir = join(t.dir, `${label}-${++n}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

const mode = (p: string) => statSync(p).mode & 0o7777;
const ELSEWHERE = 'set VT_STATE=sqlite:/another/path';
const RISK = 'could rewrite the quota counts and the cached verdicts this server answers with';

/**
 * What opening `path` says: the reason it is refused, or "opened" (the store is closed again). Tests
 * check what was left untouched before they check the sentence.
 */
function attempt(path: string, ownDirectory = false, driver?: SqliteDriver): string {
  try {
    const s = openSqliteStore({
      path,
      keyspace: keyspace(randomApiKey()),
      cacheMaxBytes: 1e6,
      ownDirectory,
      ...(driver ? { driver } : {}),
    });
    void s.close();
    return 'opened';
  } catch (err) {
    return err instanceof StateUnavailableError ? err.reason : `not a StateUnavailableError: ${err}`;
  }
}

/** Opens, writes a document, closes: the file works. */
async function works(path: string, ownDirectory = false): Promise<void> {
  const s = openSqliteStore({ path, keyspace: 'k', cacheMaxBytes: 1e6, ownDirectory });
  await s.docPut('probe', 'ok', undefined, Date.now());
  expect(await s.docGet('probe', Date.now())).toBe('ok');
  await s.close();
}

describe.skipIf(!posix)('symbolic links are refused, and what they point at is untouched', () => {
  it('state.db linked to an existing file: not chmodded, not read as a database', () => {
    const dir = place('link-file');
    const target = join(place('elsewhere'), 'notes.txt');
    writeFileSync(target, 'the user’s own notes\n');
    chmodSync(target, 0o644);
    const path = join(dir, 'state.db');
    symlinkSync(target, path);
    const said = attempt(path);
    expect(mode(target)).toBe(0o644);
    expect(readFileSync(target, 'utf8')).toBe('the user’s own notes\n');
    expect(said).toBe(
      `the SQLite state file ${path} is a symbolic link: refused (a planted link could point the server at another file); remove it or ${ELSEWHERE}`,
    );
  });

  it('state.db linked to an empty file: no database is written into it', () => {
    const dir = place('link-empty');
    const target = join(place('elsewhere'), 'empty');
    writeFileSync(target, '');
    chmodSync(target, 0o644);
    const path = join(dir, 'state.db');
    symlinkSync(target, path);
    const said = attempt(path);
    expect(statSync(target).size).toBe(0);
    expect(mode(target)).toBe(0o644);
    expect(existsSync(`${target}-wal`)).toBe(false);
    expect(said).toMatch(/ is a symbolic link: refused /);
  });

  it('state.db linked to a missing file: the target is not created', () => {
    const dir = place('link-missing');
    const target = join(place('elsewhere'), 'created-by-nobody');
    const path = join(dir, 'state.db');
    symlinkSync(target, path);
    const said = attempt(path);
    expect(existsSync(target)).toBe(false);
    expect(said).toMatch(/ is a symbolic link: refused /);
  });

  it('a linked directory (the default vtbrief/ or a named one) is neither chmodded nor used', () => {
    const real = join(place('real-dir'), 'real');
    mkdirSync(real);
    chmodSync(real, 0o755);
    const linked = join(place('cache'), 'vtbrief');
    symlinkSync(real, linked);
    const path = join(linked, 'state.db');
    const saidDefault = attempt(path, true);
    const saidNamed = attempt(path, false);
    expect(mode(real)).toBe(0o755);
    expect(existsSync(join(real, 'state.db'))).toBe(false);
    const sentence =
      `the directory ${linked} of the SQLite state file is a symbolic link: refused ` +
      `(a planted link could point the server at another directory); remove it or ${ELSEWHERE}`;
    expect(saidDefault).toBe(sentence);
    expect(saidNamed).toBe(sentence);
  });

  it('state.db-wal linked elsewhere: refused before anything is created, the target keeps its mode', () => {
    const dir = place('link-wal');
    const target = join(place('elsewhere'), 'precious');
    writeFileSync(target, 'x');
    chmodSync(target, 0o644);
    const path = join(dir, 'state.db');
    symlinkSync(target, `${path}-wal`);
    const said = attempt(path);
    expect(mode(target)).toBe(0o644);
    expect(readFileSync(target, 'utf8')).toBe('x');
    expect(existsSync(path)).toBe(false);
    expect(said).toBe(
      `the SQLite write-ahead log ${path}-wal is a symbolic link: refused (a planted link could point the server at another file); remove it or ${ELSEWHERE}`,
    );
  });

  it('state.db-shm linked elsewhere, next to a good database: refused', async () => {
    const path = join(place('link-shm'), 'state.db');
    await works(path);
    const target = join(place('elsewhere'), 'shm-target');
    writeFileSync(target, '');
    chmodSync(target, 0o644);
    symlinkSync(target, `${path}-shm`);
    const said = attempt(path);
    expect(mode(target)).toBe(0o644);
    expect(statSync(target).size).toBe(0);
    expect(said).toMatch(
      new RegExp(`^the SQLite shared-memory file ${esc(path)}-shm is a symbolic link: refused `),
    );
  });
});

describe.skipIf(!posix)('files and directories others can write, or that are not ours, are refused', () => {
  it.skipIf(!root)(
    'a store file owned by another user (uid 65534) is refused, even world-writable',
    async () => {
      const path = join(place('other-user'), 'state.db');
      await works(path);
      chownSync(path, OTHER_UID, OTHER_UID);
      expect(attempt(path)).toBe(
        `the SQLite state file ${path} belongs to another user (uid ${OTHER_UID}): refused (that user ${RISK}); remove it or ${ELSEWHERE}`,
      );
      // The red team's case: another user's file that everybody may write.
      chmodSync(path, 0o666);
      const said = attempt(path);
      expect(mode(path)).toBe(0o666);
      expect(statSync(path).uid).toBe(OTHER_UID);
      expect(said).toMatch(/belongs to another user \(uid 65534\): refused/);
    },
  );

  it.skipIf(!root)('a -wal file owned by another user is refused', async () => {
    const path = join(place('other-wal'), 'state.db');
    await works(path);
    writeFileSync(`${path}-wal`, '', { mode: 0o600 });
    chownSync(`${path}-wal`, OTHER_UID, OTHER_UID);
    expect(attempt(path)).toMatch(
      new RegExp(
        `^the SQLite write-ahead log ${esc(path)}-wal belongs to another user \\(uid 65534\\): refused `,
      ),
    );
  });

  it.skipIf(!root)('a directory owned by another user is refused', () => {
    const dir = place('other-dir');
    chownSync(dir, OTHER_UID, OTHER_UID);
    const path = join(dir, 'state.db');
    const said = attempt(path);
    expect(existsSync(path)).toBe(false);
    expect(said).toBe(
      `the directory ${dir} of the SQLite state file belongs to another user (uid ${OTHER_UID}): refused ` +
        `(that user could put another file in the place of the one this server reads); ${ELSEWHERE}`,
    );
  });

  it('a file of ours that others may write (0666) is refused, and not chmodded', async () => {
    const path = join(place('loose-file'), 'state.db');
    await works(path);
    chmodSync(path, 0o666);
    const said = attempt(path);
    expect(mode(path)).toBe(0o666);
    expect(said).toBe(
      `the SQLite state file ${path} can be written by users other than its owner (mode 0666): refused (any of them ${RISK}); remove it or ${ELSEWHERE}`,
    );
    chmodSync(path, 0o620);
    const again = attempt(path);
    expect(mode(path)).toBe(0o620);
    expect(again).toMatch(/\(mode 0620\): refused/);
  });

  it('a directory we did not create that its group may write (0775) is refused, default or named, and not chmodded', () => {
    const dir = join(place('loose-dir'), 'vtbrief');
    mkdirSync(dir);
    chmodSync(dir, 0o775);
    const path = join(dir, 'state.db');
    const saidDefault = attempt(path, true);
    const saidNamed = attempt(path, false);
    expect(mode(dir)).toBe(0o775);
    expect(existsSync(path)).toBe(false);
    const sentence =
      `the directory ${dir} of the SQLite state file can be written by users other than its owner (mode 0775): refused ` +
      `(any of them could put another file in the place of the one this server reads); ` +
      `remove their write permission (chmod go-w ${dir}) or ${ELSEWHERE}`;
    expect(saidDefault).toBe(sentence);
    expect(saidNamed).toBe(sentence);
  });

  it('a shared sticky directory (like /tmp) is accepted for a path the user named, never as the default place', async () => {
    const dir = join(place('sticky'), 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    const path = join(dir, 'state.db');
    const said = attempt(path, true);
    expect(existsSync(path)).toBe(false);
    expect(said).toMatch(/ can be written by users other than its owner \(mode 01777\): refused /);
    await works(path, false);
    expect(mode(path)).toBe(0o600);
    expect(mode(dir)).toBe(0o1777);
  });

  it('a file with a second name (hard link) is refused', async () => {
    const path = join(place('hard-link'), 'state.db');
    await works(path);
    linkSync(path, `${path}.other-name`);
    expect(attempt(path)).toBe(
      `the SQLite state file ${path} has 2 names (hard links): refused (writing it would change the file under its other names too); remove it or ${ELSEWHERE}`,
    );
  });

  it('a FIFO in the file’s place is refused without hanging', () => {
    const path = join(place('fifo'), 'state.db');
    execFileSync('mkfifo', ['-m', '600', path]);
    expect(attempt(path)).toBe(
      `the SQLite state file ${path} is not a regular file: refused (the state is kept in regular files only); remove it or ${ELSEWHERE}`,
    );
  });

  it('a file swapped between the checks and SQLite’s open is refused, and what was put there is not written', () => {
    const path = join(place('swap'), 'state.db');
    const other = `${path}.other`;
    writeFileSync(other, '', { mode: 0o600 });
    // A driver that lets the swap happen exactly in the window: after the checks, before SQLite opens.
    const swapping = {
      ...nodeSqlite,
      DatabaseSync: class extends nodeSqlite.DatabaseSync {
        constructor(p: string) {
          renameSync(other, p);
          super(p);
        }
      },
    } as unknown as SqliteDriver;
    const said = attempt(path, false, swapping);
    expect(statSync(path).size).toBe(0);
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(said).toBe(
      `the SQLite state file ${path} changed while SQLite opened it: refused (something replaced it, or put a link in its place, ` +
        `after it was checked); restart to try again, or ${ELSEWHERE}`,
    );

    const target = join(place('elsewhere'), 'empty');
    writeFileSync(target, '');
    chmodSync(target, 0o644);
    const linking = {
      ...nodeSqlite,
      DatabaseSync: class extends nodeSqlite.DatabaseSync {
        constructor(p: string) {
          symlinkSync(target, `${p}.link`);
          renameSync(`${p}.link`, p);
          super(p);
        }
      },
    } as unknown as SqliteDriver;
    const path2 = join(place('swap-link'), 'state.db');
    const said2 = attempt(path2, false, linking);
    expect(statSync(target).size).toBe(0);
    expect(mode(target)).toBe(0o644);
    expect(said2).toMatch(/ changed while SQLite opened it: refused /);
  });
});

describe('what the server creates itself', () => {
  it('creates a 0700 directory (and parents) and a 0600 file, with 0600 -wal and -shm, and works', async () => {
    const base = place('fresh');
    const dir = join(base, 'cache', 'vtbrief');
    const path = join(dir, 'state.db');
    const s = openSqliteStore({ path, keyspace: 'k', cacheMaxBytes: 1e6, ownDirectory: true });
    await s.docPut('d', 'v', undefined, Date.now());
    if (posix) {
      expect(mode(dir)).toBe(0o700);
      expect(mode(join(base, 'cache'))).toBe(0o700);
      expect(mode(path)).toBe(0o600);
      for (const side of ['-wal', '-shm']) expect(mode(path + side)).toBe(0o600);
    }
    await s.close();
  });

  it('reopens a file it created earlier (0600), with what was stored in it', async () => {
    const path = join(place('reopen'), 'state.db');
    const a = openSqliteStore({ path, keyspace: 'k', cacheMaxBytes: 1e6 });
    await a.docPut('kept', 'yes', undefined, Date.now());
    await a.close();
    if (posix) expect(mode(path)).toBe(0o600);
    const b = openSqliteStore({ path, keyspace: 'k', cacheMaxBytes: 1e6 });
    expect(await b.docGet('kept', Date.now())).toBe('yes');
    await b.close();
  });

  it.skipIf(!posix)(
    'uses a directory and a file that others may read but not write as they are: nothing is chmodded',
    async () => {
      const dir = join(place('readable'), 'named');
      mkdirSync(dir);
      chmodSync(dir, 0o755);
      const path = join(dir, 'state.db');
      writeFileSync(path, '');
      chmodSync(path, 0o644);
      await works(path, true);
      expect(mode(dir)).toBe(0o755);
      expect(mode(path)).toBe(0o644);
    },
  );

  it('on Windows only links and non-regular files are checked (no POSIX owner or mode there)', async () => {
    const dir = place('win32');
    const path = join(dir, 'state.db');
    writeFileSync(path, '');
    if (posix) chmodSync(path, 0o666);
    const s = openSqliteStore({ path, keyspace: 'k', cacheMaxBytes: 1e6, platform: 'win32' });
    await s.close();
    if (posix) expect(mode(path)).toBe(0o666);
    if (posix) {
      const linked = join(place('win32-link'), 'state.db');
      symlinkSync(path, linked);
      expect(() =>
        openSqliteStore({ path: linked, keyspace: 'k', cacheMaxBytes: 1e6, platform: 'win32' }),
      ).toThrow(/ is a symbolic link: refused /);
    }
  });
});

describe.skipIf(!existsSync('/proc/locks'))('a second store on the same file in this process', () => {
  /** This process's POSIX locks on a file (from /proc/locks, by inode). */
  function locksOn(p: string): number {
    const ino = statSync(p).ino;
    return readFileSync('/proc/locks', 'utf8')
      .split('\n')
      .filter((l) => l.includes(` ${process.pid} `) && new RegExp(`:${ino} `).test(l)).length;
  }

  it('does not drop the first one’s SQLite locks (closing any descriptor of a file drops them all)', async () => {
    const path = join(place('two-stores'), 'state.db');
    const a = openSqliteStore({ path, keyspace: keyspace(randomApiKey()), cacheMaxBytes: 1e6 });
    await a.docPut('x', 'y', undefined, Date.now());
    // A WAL connection holds a shared lock on the database and one on the -shm file while it is open.
    const before = { db: locksOn(path), shm: locksOn(`${path}-shm`) };
    expect(before.db).toBeGreaterThan(0);
    expect(before.shm).toBeGreaterThan(0);
    const b = openSqliteStore({ path, keyspace: keyspace(randomApiKey()), cacheMaxBytes: 1e6 });
    expect({ db: locksOn(path), shm: locksOn(`${path}-shm`) }).toEqual(before);
    await b.close();
    await a.close();
    // Both closed: the file can be checked (and opened) afresh.
    await works(path);
  });
});

describe.skipIf(!posix)('through VT_STATE: memory, with the refusal as the reason', () => {
  it('a linked state file: the start line says why, in one line', async () => {
    const dir = place('fallback');
    const target = join(place('elsewhere'), 'target.db');
    const path = join(dir, 'state.db');
    symlinkSync(target, path);
    const opened = await openStateStore(`sqlite:${path}`, {
      apiKey: randomApiKey(),
      env: {},
      cacheMaxBytes: 1e6,
    });
    const reason = `the SQLite state file ${path} is a symbolic link: refused (a planted link could point the server at another file); remove it or ${ELSEWHERE}`;
    expect(opened.fellBack).toBe(reason);
    expect(opened.store.health()).toMatchObject({ kind: 'memory', reason });
    const line = stateStartLine(opened);
    expect(line).toContain(`state: memory, this process only: ${reason}. `);
    expect(line).not.toContain('\n');
    expect(existsSync(target)).toBe(false);
    await opened.store.close();
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
