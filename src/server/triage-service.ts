/**
 * The process's triage jobs: the documents in the key's state store, the runner that works them in the
 * background (one per process, whatever the transport; over HTTP a server is built per request), and
 * the fair share of the day that paces jobs against the other clients of this server (and of the other
 * processes on the key's store).
 */
import type { Config } from '../config.js';
import type { JobItem } from '../jobs/job-schemas.js';
import { JobRunner } from '../jobs/runner.js';
import type { TriageService } from '../jobs/service.js';
import { TriageJobs } from '../jobs/triage-jobs.js';
import type { Logger } from '../log.js';
import { notFoundRow, triageRow } from '../summaries/triage.js';
import { VtApi } from '../vt/api.js';
import { FairShare } from '../vt/fair-share.js';
import type { VtGateway } from '../vt/gateway-contract.js';
import type { StateStore } from '../vt/state/store.js';

export type { TriageService };

export function createTriageService(
  gateway: VtGateway,
  store: StateStore,
  config: Config,
  log: Logger,
  opts: { leaseMs?: number; scanEveryMs?: number } = {},
): TriageService {
  const jobs = new TriageJobs({
    store,
    keepMs: config.triageKeepHours * 3_600_000,
    limits: config.triageLimits,
  });
  const api = new VtApi(gateway);
  const fairShare = new FairShare(
    () => ({ quota: config.dailyQuota, used: gateway.stats()?.limiter.day_used ?? 0 }),
    // Each token is a client; on stdio, or over HTTP without tokens, every caller is one.
    {
      manyClients: config.transport === 'http' && config.http.authTokens.length > 0,
      // Each HTTP client's minute holds its jobs' lookups too (the HTTP server counts its calls in it).
      callsPerMinute: config.transport === 'http' ? config.http.clientCallsPerMinute : 0,
      // Which clients are active is shared with the other processes on the key, as the day's count is.
      ...(store.kind === 'memory' ? {} : { shared: store }),
    },
  );
  const ref = (item: JobItem) => ({
    type: item.type,
    id: item.id,
    value: item.input,
    collection: item.collection,
  });
  const runner = new JobRunner({
    jobs,
    // As many lookups at once as the limiter lets out: it paces them.
    concurrency: config.maxConcurrency,
    maxJobs: config.triageLimits.runningTotal,
    // A job's lookups are its owner's: they take their turn in the limiter's line as the owner's.
    lookup: async (item, owner, signal) => {
      const res = await api.forClient(owner).getObject(ref(item), { signal });
      return triageRow(item.input, item.type, item.id, res.value);
    },
    notFoundRow: (item) => notFoundRow(item.input, item.type, item.id),
    admit: {
      admit: (owner) => fairShare.admitJob(owner),
      done: () => fairShare.jobLookupDone(),
      allows: (owner) => fairShare.dayAllows(owner),
    },
    // Jobs live in the shared store: while it answers from this process's memory, what is read there
    // is not the job (a job done could look pending), so none is worked until it is back.
    canWork: () => store.health().degradedSince === undefined || store.kind === 'memory',
    log: (msg) => log.info(msg),
    ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}),
    ...(opts.scanEveryMs !== undefined ? { scanEveryMs: opts.scanEveryMs } : {}),
  });
  return { jobs, runner, fairShare };
}
