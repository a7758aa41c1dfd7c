/**
 * What a .mcpb (a zip archive) holds, read from its central directory: the size a user downloads, the
 * files and their total size once unpacked. bundle.mjs prints it after packing and smoke.mjs checks it.
 */
import { readFileSync } from 'node:fs';

/** @returns {{ bytes: number, files: number, unpackedBytes: number, names: string[] }} */
export function zipStats(file) {
  const buf = readFileSync(file);
  // The end-of-central-directory record: 22 bytes, followed by a comment of up to 64 KiB.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip archive`);
  const entries = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const names = [];
  let unpackedBytes = 0;
  for (let n = 0; n < entries; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: damaged central directory`);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    if (!name.endsWith('/')) {
      names.push(name);
      unpackedBytes += size;
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  return { bytes: buf.length, files: names.length, unpackedBytes, names };
}

export const megabytes = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** One line: "2.1 MB, 812 files (7.9 MB unpacked)". */
export function describeZip(stats) {
  return `${megabytes(stats.bytes)}, ${stats.files} files (${megabytes(stats.unpackedBytes)} unpacked)`;
}
