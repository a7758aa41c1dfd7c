/**
 * The process's triage jobs: the documents in the key's state store and the runner that works them in
 * the background (one per process, whatever the transport; over HTTP a server is built per request).
 */
import type { Config } from '../config.js';
import { JobRunner } from '../jobs/runner.js';
import { type JobItem, TriageJobs } from '../jobs/triage-jobs.js';
import type { Logger } from '../log.js';
import { notFoundRow, triageRow } from '../summaries/triage.js';
import { VtApi } from '../vt/api.js';
import type { VtGateway } from '../vt/gateway.js';
import type { StateStore } from '../vt/state/store.js';

export interface TriageService {
  jobs: TriageJobs;
  runner: JobRunner;
}

type RowType = 'file' | 'url' | 'domain' | 'ip_address';

export function createTriageService(
  gateway: VtGateway,
  store: StateStore,
  config: Config,
  log: Logger,
  opts: { leaseMs?: number; scanEveryMs?: number } = {},
): TriageService {
  const jobs = new TriageJobs({ store, keepMs: config.triageKeepHours * 3_600_000 });
  const api = new VtApi(gateway);
  const ref = (item: JobItem) => ({
    type: item.type as RowType,
    id: item.id,
    value: item.input,
    collection: item.collection as 'files' | 'urls' | 'domains' | 'ip_addresses',
  });
  const runner = new JobRunner({
    jobs,
    // As many lookups at once as the limiter lets out: it paces them.
    concurrency: config.maxConcurrency,
    lookup: async (item, signal) => {
      const res = await api.getObject(ref(item), { signal });
      return triageRow(item.input, item.type as RowType, item.id, res.value);
    },
    notFoundRow: (item) => notFoundRow(item.input, item.type as RowType, item.id),
    log: (msg) => log.info(msg),
    ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}),
    ...(opts.scanEveryMs !== undefined ? { scanEveryMs: opts.scanEveryMs } : {}),
  });
  return { jobs, runner };
}
