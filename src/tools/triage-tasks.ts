/**
 * Triage jobs as MCP tasks (the `io.modelcontextprotocol/tasks` extension of the 2026-07-28 revision):
 * vt_triage started by a caller that declares the extension answers with a task instead of waiting,
 * and tasks/get, tasks/cancel and tasks/update follow it. A task is a job: the same id, the same store
 * (so a task started on one replica is read on another and outlives a restart), the same owner (another
 * caller's task is unknown, as another's job is). Callers without the extension follow jobs as before.
 */
import {
  type McpServer,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { ToolContext } from '../answers/context.js';
import { jobNotFoundText, jobsUnreadableNow } from '../answers/wording.js';
import type { JobHeader } from '../jobs/job-schemas.js';
import { fmtInt } from '../summaries/common.js';
import { isoSeconds } from '../util/time.js';
import type { StoreHealth } from '../vt/state/store.js';
import type { Extra } from './define.js';
import { envelopeCapabilities } from './envelope.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** Whether this request's client takes a task for an answer (it declared the extension in its envelope). */
export function declaresTasks(extra: Extra): boolean {
  const extensions = envelopeCapabilities(extra)?.extensions;
  return extensions !== undefined && Object.hasOwn(extensions, TASKS_EXTENSION);
}

/** The task of a job, as tasks/get and the tool's first answer show it. */
export function taskOf(ctx: ToolContext, h: JobHeader) {
  const status =
    h.status === 'done' ? 'completed' : h.status === 'cancelled' ? 'cancelled' : ('working' as const);
  const checked = h.done + h.failed;
  const statusMessage =
    h.status === 'paused'
      ? h.pausedFor === 'share'
        ? `Paused for the other clients' share of today's quota at ${fmtInt(checked)} of ${fmtInt(h.total)}; it carries on by itself.`
        : `Paused at the daily cap at ${fmtInt(checked)} of ${fmtInt(h.total)}; after 00:00 UTC carry it on with vt_triage {"job":"${h.id}","resume":true}.`
      : `${fmtInt(checked)} of ${fmtInt(h.total)} checked${h.failed ? ` (${fmtInt(h.failed)} failed)` : ''}.`;
  return {
    taskId: h.id,
    status,
    statusMessage,
    createdAt: isoSeconds(h.createdAt),
    lastUpdatedAt: isoSeconds(h.updatedAt),
    // A job is kept this long after it stops (a running one longer: TriageJobs says).
    ttlMs: ctx.triage?.jobs.keepMs ?? null,
    pollIntervalMs: pollInterval(ctx),
  };
}

/**
 * How often to ask: about four lookups' worth of the rate window (a public key: once a minute), within
 * 1 s and 60 s. Results cannot come faster than the window lets them.
 */
function pollInterval(ctx: ToolContext): number {
  const w = ctx.config.rateLimit;
  const perLookup = w ? (w.seconds * 1000) / w.requests : 0;
  return Math.round(Math.min(60_000, Math.max(1_000, perLookup * 4)));
}

export interface TriageTaskOps {
  /** The job's header, if it is the caller's. */
  header(id: string): Promise<JobHeader | undefined>;
  /** What vt_triage {job} answers once the job is done: the first page of rows and the tally. */
  result(id: string): Promise<Record<string, unknown> | undefined>;
  /** Stops the job (as vt_triage {job, cancel}). */
  cancel(id: string): Promise<void>;
}

// Parameters are checked in the handler: a strict schema would answer -32602 before the capability check.
const ANY_PARAMS = { params: z.object({}).loose() };
const TaskParams = z.object({ taskId: z.string() });

function unknownTask(id: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `No task ${JSON.stringify(id.slice(0, 40))}: it never existed, belongs to another client, or is past its ttl.`,
  );
}

/**
 * A task not found: unknown (invalid params), unless the store that keeps tasks cannot be read now, in
 * which case it may well be there (an internal error, worth asking again).
 */
export function taskNotFound(id: string, health: StoreHealth | undefined, keepHours: number): ProtocolError {
  if (jobsUnreadableNow(health)) {
    return new ProtocolError(
      ProtocolErrorCode.InternalError,
      jobNotFoundText(id.slice(0, 40), keepHours, health),
    );
  }
  return unknownTask(id);
}

async function notFound(ctx: ToolContext, id: string): Promise<ProtocolError> {
  // From the store that keeps the tasks, which says whether it answers now without a read that may fail.
  return taskNotFound(id, ctx.triage?.jobs.health(), ctx.config.triageKeepHours);
}

/** Serves tasks/get, tasks/update and tasks/cancel on this server, for its caller's triage jobs. */
export function serveTriageTasks(server: McpServer, ctx: ToolContext, ops: TriageTaskOps): void {
  server.server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } });
  const taskIdOf = (params: unknown, extra: Extra): string => {
    if (!declaresTasks(extra)) {
      throw new MissingRequiredClientCapabilityError({
        requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
      });
    }
    const parsed = TaskParams.safeParse(params);
    if (!parsed.success)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'taskId (a string) is required.');
    return parsed.data.taskId;
  };
  server.server.setRequestHandler('tasks/get', ANY_PARAMS, async (params, extra) => {
    const id = taskIdOf(params, extra);
    const h = await ops.header(id);
    if (!h) throw await notFound(ctx, id);
    const task = taskOf(ctx, h);
    if (task.status !== 'completed') return { resultType: 'complete', ...task };
    const result = await ops.result(id);
    if (!result) throw await notFound(ctx, id);
    return { resultType: 'complete', ...task, result: { resultType: 'complete', ...result } };
  });
  server.server.setRequestHandler('tasks/cancel', ANY_PARAMS, async (params, extra) => {
    const id = taskIdOf(params, extra);
    if (!(await ops.header(id))) throw await notFound(ctx, id);
    await ops.cancel(id);
    return { resultType: 'complete' };
  });
  server.server.setRequestHandler('tasks/update', ANY_PARAMS, async (params, extra) => {
    const id = taskIdOf(params, extra);
    if (!(await ops.header(id))) throw await notFound(ctx, id);
    throw new ProtocolError(
      ProtocolErrorCode.InvalidParams,
      `Task ${id} asks for no input: a triage job needs none (a paused one is carried on with vt_triage resume).`,
    );
  });
}
