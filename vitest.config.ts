import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

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
    include: ['test/**/*.test.ts'],
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
  },
});
