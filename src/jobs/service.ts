/** What the tools see of a process's triage jobs; server/triage-service.ts wires one per process. */
import type { FairShare } from '../vt/fair-share.js';
import type { JobRunner } from './runner.js';
import type { TriageJobs } from './triage-jobs.js';

export interface TriageService {
  jobs: TriageJobs;
  runner: JobRunner;
  /** Who is active, and how much of the day a job may spend (tools tell it who calls). */
  fairShare: FairShare;
}
