/**
 * Setup file for scripts/test-cpu.mjs only (not in vitest.config.ts): with the forks pool and one file
 * per process, it appends one JSON line per test file to $VTBRIEF_CPU_LOG with the CPU the file took,
 * its own and that of the child processes it waited for (bins, stand-ins, Redis clients). Linux's
 * /proc/self/stat gives both; elsewhere only the process's own CPU is known.
 *
 * The first reading is taken here, when this file is imported, before the test file is: the file's own
 * imports count, except packages a file before it in the same process already loaded (vitest keeps a
 * process's packages from one file to the next; the project's own modules are loaded anew).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, expect } from 'vitest';

interface Reading {
  self: number;
  children: number;
  wall: number;
}

function read(): Reading {
  const wall = performance.now() / 1000;
  try {
    // Fields after the command name, which may itself hold spaces or parentheses: utime is the 14th
    // field of the line, stime the 15th, cutime and cstime (children waited for) the 16th and 17th.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const tick = 100; // USER_HZ, 100 on every Linux that Node supports
    return {
      self: ((f[11] ?? 0) + (f[12] ?? 0)) / tick,
      children: ((f[13] ?? 0) + (f[14] ?? 0)) / tick,
      wall,
    };
  } catch {
    const u = process.cpuUsage();
    return { self: (u.user + u.system) / 1e6, children: 0, wall };
  }
}

const start = read();
const log = process.env.VTBRIEF_CPU_LOG;

afterAll(() => {
  if (!log) return;
  const end = read();
  const file = expect.getState().testPath ?? '?';
  appendFileSync(
    log,
    `${JSON.stringify({
      file,
      self: end.self - start.self,
      children: end.children - start.children,
      wall: end.wall - start.wall,
    })}\n`,
  );
});
