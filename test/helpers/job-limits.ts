import type { JobLimits } from '../../src/jobs/job-bounds.js';

/** Job bounds that no test reaches: a test narrows the one it is about. */
export const WIDE_JOB_LIMITS: JobLimits = {
  runningPerClient: 100,
  storedPerClient: 1_000,
  runningTotal: 100,
  storedTotal: 1_000,
  indicatorsTotal: 1_000_000,
  bytesTotal: 1e9,
};
