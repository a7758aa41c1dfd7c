#!/usr/bin/env node
/**
 * Where the test suite's time goes: `npm run test:cpu`.
 *
 * 1. The suite as `npm test` runs it (vitest run, the normal config): its wall time, and the CPU of
 *    vitest and every process it started. CPU ÷ cores is the least wall time this machine can give the
 *    suite however its files are scheduled; the difference to the wall time is waiting.
 * 2. The suite again, one file per process and one process at a time (VTBRIEF_CPU_LOG switches
 *    vitest.config.ts to that), recording each file's CPU: its own and its child processes'
 *    (test/helpers/cpu-per-file.ts). Each file's own modules are loaded anew here, where the normal run
 *    shares them within a worker, so this total is higher than the first.
 *
 * Prints a Markdown report. Linux only (it reads /proc for the CPU of child processes). Runs against the
 * built dist/ where tests need it: `npm run build` first (`npm run test:cpu` does). Takes about as long
 * as the suite three times over.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const vitest = join(root, 'node_modules/vitest/vitest.mjs');

/** CPU seconds of this process's waited-for children so far (cutime + cstime). */
function childrenCpu() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return (f[13] + f[14]) / 100;
}

/** Runs vitest; resolves with its wall time, the CPU it and its children took, and its exit code. */
function run(env) {
  const cpu0 = childrenCpu();
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vitest, 'run'], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('exit', (code) =>
      resolve({ wall: (performance.now() - t0) / 1000, cpu: childrenCpu() - cpu0, code }),
    );
  });
}

if (process.platform !== 'linux') {
  console.error('test-cpu: Linux only (it reads /proc/self/stat)');
  process.exit(2);
}

const cores = availableParallelism();
const s = (x) => x.toFixed(1);

console.error('test-cpu: the suite as npm test runs it…');
const whole = await run({});

console.error('test-cpu: the suite again, one file at a time…');
const dir = mkdtempSync(join(tmpdir(), 'vtbrief-test-cpu-'));
const logFile = join(dir, 'cpu.jsonl');
const perFile = await run({ VTBRIEF_CPU_LOG: logFile });
const files = readFileSync(logFile, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l))
  .map((r) => ({ ...r, file: relative(root, r.file), total: r.self + r.children }))
  .sort((a, b) => b.total - a.total);
rmSync(dir, { recursive: true, force: true });
const sum = (k) => files.reduce((n, r) => n + r[k], 0);

const lines = [
  `## Test suite CPU (${new Date().toISOString().slice(0, 10)}, ${cores} cores, Node ${process.version})`,
  '',
  `The suite as \`npm test\` runs it: **${s(whole.wall)} s** wall, **${s(whole.cpu)} s** of CPU` +
    ` (vitest and every process it started). ${s(whole.cpu)} s ÷ ${cores} cores = **${s(whole.cpu / cores)} s**,` +
    ` the least wall time these cores allow; the rest (${s(Math.max(0, whole.wall - whole.cpu / cores))} s) is waiting.` +
    (whole.code === 0 ? '' : ` It failed (exit ${whole.code}).`),
  '',
  `Per file, one at a time (the project's modules loaded anew for each): ${s(sum('total'))} s of CPU,` +
    ` ${s(sum('self'))} s in the test processes and ${s(sum('children'))} s in the processes they started.` +
    (perFile.code === 0 ? '' : ` This run failed (exit ${perFile.code}).`),
  '',
  '| file | CPU, own (s) | CPU, child processes (s) | total (s) | share |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...files.map(
    (r) =>
      `| ${r.file} | ${s(r.self)} | ${s(r.children)} | ${s(r.total)} | ${((100 * r.total) / sum('total')).toFixed(0)}% |`,
  ),
];
console.log(lines.join('\n'));
process.exitCode = whole.code || perFile.code ? 1 : 0;
