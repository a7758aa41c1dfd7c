/**
 * The house's floors (docs/ARCHITECTURE.md, "Rules of the house"): every import in src/ goes down a
 * floor or stays in its own room, never up and never across to a neighbour on the same floor; the VT
 * layer, the summarisers and the jobs import nothing from MCP.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

/** Rooms by floor, lowest first: a room may import from the rooms on lower floors only. */
const FLOORS: readonly (readonly string[])[] = [
  ['util'],
  ['log.ts', 'package-root.ts'],
  ['version.ts', 'vt'],
  ['summaries', 'demo'],
  ['jobs'],
  ['config.ts', 'config-options.ts', 'config-values.ts'],
  ['answers', 'prompts'],
  ['tools', 'resources'],
  ['server', 'transports'],
  ['main.ts'],
  ['index.ts'],
];
/** The config files are one room split in three: they read each other. */
const SAME_ROOM = new Map([
  ['config-options.ts', 'config'],
  ['config-values.ts', 'config'],
  ['config.ts', 'config'],
]);
const NO_MCP = new Set(['util', 'vt', 'summaries', 'jobs', 'demo']);

const floorOf = new Map(FLOORS.flatMap((rooms, i) => rooms.map((r) => [r, i] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The room of a file: its top folder under src/, or the file itself at the top. */
const roomOf = (file: string) => relative(SRC, file).split('/')[0] ?? '';

/** Every import and re-export, static or dynamic, with what it names. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm)].map(
    (m) => m[1] ?? '',
  );
}

/** Imports (a file, what it imports) that go up a floor or across to another room of the same floor. */
function wrongArrows(imports: readonly (readonly [string, string])[]): string[] {
  const wrong: string[] = [];
  for (const [file, spec] of imports) {
    if (!spec.startsWith('.')) continue;
    const from = roomOf(file);
    const target = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
    const to = roomOf(target);
    if ((SAME_ROOM.get(to) ?? to) === (SAME_ROOM.get(from) ?? from)) continue;
    const a = floorOf.get(from) ?? -1;
    const b = floorOf.get(to) ?? Number.POSITIVE_INFINITY;
    if (b >= a) wrong.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
  }
  return wrong;
}

const files = sources(SRC);

describe('the import map', () => {
  it('knows every room of src/', () => {
    const rooms = new Set(files.map(roomOf));
    expect([...rooms].filter((r) => !floorOf.has(r))).toEqual([]);
  });

  it('has no arrow up a floor, nor across one', () => {
    expect(wrongArrows(files.flatMap((f) => importsOf(f).map((spec) => [f, spec] as const)))).toEqual([]);
  });

  it('keeps MCP out of the VT layer, the summarisers and the jobs', () => {
    const wrong = files.filter(
      (f) => NO_MCP.has(roomOf(f)) && importsOf(f).some((s) => s.startsWith('@modelcontextprotocol/')),
    );
    expect(wrong.map((f) => relative(SRC, f))).toEqual([]);
  });

  it('sees an arrow up or across when there is one', () => {
    const at = (f: string) => join(SRC, f);
    expect(
      wrongArrows([
        [at('tools/quota.ts'), '../server/runtime.js'],
        [at('resources/index.ts'), '../tools/get-report.js'],
        [at('vt/limiter.ts'), '../answers/wording.js'],
        [at('vt/limiter.ts'), './state/memory.js'],
        [at('tools/quota.ts'), '../answers/wording.js'],
        [at('config.ts'), './config-options.js'],
      ]),
    ).toEqual([
      'tools/quota.ts → server/runtime.ts',
      'resources/index.ts → tools/get-report.ts',
      'vt/limiter.ts → answers/wording.ts',
    ]);
  });
});
