import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** A package.json of this package: what is read of it. */
const ours = z.object({ name: z.literal('vtbrief'), version: z.string() });

/**
 * The folder of this package's package.json, whose name is vtbrief: where its own files are
 * (package.json, fixtures/vt). Found by walking up from the running module rather than by a fixed
 * "../", because the same code runs at several depths: from src/ under the tests, from dist/ as tsc
 * writes it (a module per source file, in folders), and from the start bundle (dist/index.js and
 * dist/chunks/). Its version is kept from that one read.
 */
export const { dir: PACKAGE_ROOT, version: PACKAGE_VERSION } = findRoot(
  dirname(fileURLToPath(import.meta.url)),
);

function findRoot(from: string): { dir: string; version: string } {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    const found = existsSync(file) ? ours.safeParse(JSON.parse(readFileSync(file, 'utf8'))) : undefined;
    if (found?.success) return { dir, version: found.data.version };
    if (dirname(dir) === dir) throw new Error(`no package.json of vtbrief above ${from}`);
  }
}
