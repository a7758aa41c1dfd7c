/**
 * Approved files: text the project has reviewed and committed (a tool's listing, an answer's whole
 * text), compared byte for byte with what the code produces now. After github-mcp-server's
 * __toolsnaps__: a difference fails until it is accepted by rerunning with the update variable set
 * (UPDATE_TOOLSNAPS=true, UPDATE_GOLDEN=true), which rewrites the file for review in the diff; a
 * missing file fails too (outside CI it is written, so the next run passes once it is reviewed); a
 * file nobody produces any more fails until the update run deletes it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';

export interface Approvals {
  /** The directory of approved files. */
  dir: string;
  /** The variable that accepts changes, e.g. UPDATE_TOOLSNAPS. */
  variable: string;
  /** The command to run to accept, quoted in failure messages. */
  command: string;
}

export function updating(a: Approvals): boolean {
  return process.env[a.variable] === 'true';
}

/** Compares `actual` with the approved `name` under `a.dir`; rewrites it when accepting changes. */
export function approve(a: Approvals, name: string, actual: string): void {
  const file = join(a.dir, name);
  const text = actual.endsWith('\n') ? actual : `${actual}\n`;
  const stored = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (updating(a)) {
    if (stored !== text) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    return;
  }
  if (stored === undefined) {
    // In CI nothing is written: the file must come from a reviewed commit.
    if (!process.env.CI) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    throw new Error(
      `${file} does not exist${process.env.CI ? '' : ' (it has been written now: review it, then rerun)'}. ` +
        `To create or refresh approved files on purpose: ${a.command}`,
    );
  }
  expect(
    text,
    `${file} no longer matches. Review the diff; if the change is intended, accept it with ${a.command} ` +
      'and commit the rewritten file',
  ).toBe(stored);
}

/**
 * Approved files under `a.dir` (matching `pattern`) that nothing produces any more: deleted when
 * accepting changes, otherwise a failure naming them.
 */
export function checkNoStale(a: Approvals, produced: Iterable<string>, pattern: RegExp): void {
  const want = new Set(produced);
  const stale = existsSync(a.dir)
    ? readdirSync(a.dir)
        .filter((f) => pattern.test(f) && !want.has(f))
        .sort()
    : [];
  if (stale.length === 0) return;
  if (updating(a)) {
    for (const f of stale) rmSync(join(a.dir, f));
    return;
  }
  throw new Error(
    `approved files nothing produces any more: ${stale.join(', ')} in ${a.dir}. ` +
      `Delete them (or run ${a.command}) and commit.`,
  );
}
