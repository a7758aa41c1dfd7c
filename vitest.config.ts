import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const ALL_TESTS = 'test/**/*.test.ts';
/** The file that measures what the cache adds to the heap's peak. */
const MEMORY_TEST = 'test/mediation-memory.test.ts';

/** Setup files of every run; a file never straddles 00:00 UTC (see the helper). */
const setupFiles = ['test/helpers/one-utc-day.ts'];

/**
 * scripts/test-cpu.mjs sets VTBRIEF_CPU_LOG to measure the CPU of each test file: one file per
 * process, one process at a time, so that a process's CPU is its file's (test/helpers/cpu-per-file.ts).
 */
const perFileCpu = process.env.VTBRIEF_CPU_LOG
  ? {
      pool: 'forks' as const,
      isolate: true,
      maxWorkers: 1,
      setupFiles: [...setupFiles, 'test/helpers/cpu-per-file.ts'],
    }
  : {};

export default defineConfig({
  test: {
    // The projects below name their files (with the per-file CPU run, the root does).
    ...(process.env.VTBRIEF_CPU_LOG ? { include: [ALL_TESTS] } : {}),
    setupFiles,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Worker threads that keep their module cache from one file to the next: the SDK, zod and undici
    // are loaded once per worker instead of once per file (most of the import time). Tests leave no
    // global state behind: fake clocks are restored after each test, and helpers/virtual-time.ts
    // puts back what it replaced.
    pool: 'threads',
    isolate: false,
    // Many files wait on I/O (the stand-in, child processes, Redis) rather than on the CPU: one worker
    // more than there are cores keeps every core busy (vitest's default is one fewer; measured on two
    // cores: 2 workers 57 s, 3 workers 51–54 s, 4 workers 56 s).
    maxWorkers: availableParallelism() + 1,
    ...perFileCpu,
    // The memory bound is measured on the heap of the process that runs it: in a worker shared with
    // other files, their garbage and V8's collection timing (Node 24's larger young generation) decided
    // the peak more than the cache did. That one file runs in a process of its own.
    ...(process.env.VTBRIEF_CPU_LOG
      ? {}
      : {
          projects: [
            { extends: true, test: { name: 'suite', include: [ALL_TESTS], exclude: [MEMORY_TEST] } },
            {
              extends: true,
              test: { name: 'memory', include: [MEMORY_TEST], pool: 'forks' as const, isolate: true },
            },
          ],
        }),
  },
});
