import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** A package.json of this package (read before PACKAGE_ROOT below is worked out). */
const ours = z.object({ name: z.literal('vtbrief') });

/**
 * The folder of this package's package.json, whose name is vtbrief: where its own files are
 * (package.json, fixtures/vt). Found by walking up from the running module rather than by a fixed
 * "../", because the same code runs at several depths: from src/ under the tests, from dist/ as tsc
 * writes it (a module per source file, in folders), and from the start bundle (dist/index.js and
 * dist/chunks/).
 */
export const PACKAGE_ROOT: string = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && ours.safeParse(JSON.parse(readFileSync(file, 'utf8'))).success) {
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of vtbrief above ${from}`);
  }
}
