/**
 * Reading a local file for vt_submit_file, once. The path is resolved and checked (inside
 * VT_UPLOAD_DIRS, never /proc, /sys or /dev, a regular file), then opened once without following a
 * symbolic link, and the open descriptor is checked to be that same file: a regular file with the
 * device and inode of the checked path, whose folder still resolves to itself and, where the kernel
 * tells (/proc/self/fd on Linux), whose real name is the checked path. The bytes hashed and the bytes
 * sent are the bytes read from that one descriptor: a file or a folder on its path swapped for a link
 * between the check and the read is refused, never uploaded.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { invalidInput } from '../answers/wording.js';
import { clean } from '../summaries/common.js';

/** VirusTotal's limit for a file sent through an upload URL. */
const UPLOAD_MAX_BYTES = 650 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;
// O_NONBLOCK: opening a FIFO must not wait for a writer. O_NOFOLLOW: a link in the last place is refused.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

interface LocalFile {
  /** The real path that was opened and read. */
  path: string;
  /** Its file name, unsanitised: clean() it before showing it. */
  name: string;
  /** Number of bytes read, i.e. of bytes that will be sent. */
  size: number;
  /** sha256 of exactly those bytes. */
  sha256: string;
  /** Those bytes. */
  data: Blob;
}

/** Reads a regular file inside one of `dirs` for upload; otherwise a clear refusal. */
export async function readFileForUpload(p: string, dirs: string[]): Promise<LocalFile> {
  if (dirs.length === 0) {
    throw invalidInput(
      'File submission is not allowed from any directory: set VT_UPLOAD_DIRS to the folders it may read.',
    );
  }
  if (!isAbsolute(p)) throw invalidInput('Give an absolute path to the file.');
  const shown = clean(p, 200) ?? '(unprintable path)';
  let real: string;
  try {
    real = await realpath(resolve(p));
  } catch {
    throw invalidInput(`No readable file at ${shown}.`);
  }
  // Pseudo-filesystems hold process state (e.g. /proc/self/environ holds the API key): never.
  if (/^\/(proc|sys|dev)(\/|$)/.test(real))
    throw invalidInput('Special files (/proc, /sys, /dev) are never read.');
  const roots = await Promise.all(dirs.map((d) => realpath(resolve(d)).catch(() => undefined)));
  if (!roots.some((root) => root !== undefined && within(root, real))) {
    throw invalidInput(
      `${shown} is outside the directories in VT_UPLOAD_DIRS (${dirs.map((d) => clean(d, 100)).join(', ')}); it was not read.`,
    );
  }
  const changed = () =>
    invalidInput(
      `${shown} changed while it was being checked (replaced, or a link put on its path); it was not read.`,
    );

  // Only what was a regular file a moment ago is opened (opening a FIFO or a device can act on it);
  // what is opened is checked again below.
  const before = await lstat(real).catch(() => undefined);
  if (!before) throw changed();
  if (before.isSymbolicLink()) throw changed();
  if (!before.isFile()) throw invalidInput(`${shown} is not a regular file.`);

  let fh: FileHandle;
  try {
    fh = await open(real, OPEN_FLAGS);
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? err.code : undefined;
    // ELOOP (EMLINK on FreeBSD): the last component became a link. ENOENT: it was replaced or removed.
    if (code === 'ELOOP' || code === 'EMLINK' || code === 'ENOENT') throw changed();
    if (code === 'EACCES' || code === 'EPERM') throw invalidInput(`${shown} is not readable by this server.`);
    throw invalidInput(`No readable file at ${shown}.`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw invalidInput(`${shown} is not a regular file.`);
    if (!sameFile(st, before)) throw changed();
    // O_NOFOLLOW guards the last component only: a folder on the path may have been swapped for a link.
    // The folder must still resolve to itself and the name to this very descriptor...
    const folder = dirname(real);
    const folderNow = await realpath(folder).catch(() => undefined);
    const after = await lstat(real).catch(() => undefined);
    if (folderNow !== folder || !after || !after.isFile() || !sameFile(st, after)) throw changed();
    // ...and, where the kernel says what it opened, that is the checked path (no window at all).
    const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
    if (opened !== undefined && opened !== real) throw changed();

    if (st.size > UPLOAD_MAX_BYTES) throw invalidInput('VirusTotal accepts files up to 650 MB.');
    const { size, sha256, data } = await readAll(fh);
    if (size === 0) throw invalidInput(`${shown} is empty.`);
    return { path: real, name: basename(real), size, sha256, data };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Every byte of the descriptor, hashed as read; about one copy in memory (plus one chunk). */
async function readAll(fh: FileHandle): Promise<{ size: number; sha256: string; data: Blob }> {
  const hash = createHash('sha256');
  const parts: Blob[] = [];
  const buf = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK, size);
    if (bytesRead === 0) break;
    size += bytesRead;
    // A file that keeps growing is not read past what VirusTotal takes.
    if (size > UPLOAD_MAX_BYTES) throw invalidInput('VirusTotal accepts files up to 650 MB.');
    const chunk = buf.subarray(0, bytesRead);
    hash.update(chunk);
    parts.push(new Blob([chunk])); // a copy: `buf` is reused
  }
  // Blobs made of blobs share their bytes: no second copy.
  return { size, sha256: hash.digest('hex'), data: new Blob(parts) };
}
