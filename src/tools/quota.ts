/** vt_quota: what the server has spent and has left, the queue, the cache, and VT's own figures. */
import { z } from 'zod';
import type { ToolContext } from '../answers/context.js';
import { errorText } from '../answers/wording.js';
import { clean, dateTimeSchema, fmtInt, plural } from '../summaries/common.js';
import { TextBuilder } from '../summaries/text.js';
import { isoSeconds } from '../util/time.js';
import type { Quotas } from '../vt/api.js';
import { VtError } from '../vt/errors.js';
import type { GatewayStats } from '../vt/gateway-contract.js';
import { defineTool } from './define.js';

const n = z.number();
const usedAllowed = z.object({ used: n, allowed: n });

const serverSchema = z.object({
  limiter: z.object({
    window: z.object({ requests: n, seconds: n, used: n, next_slot_in_ms: n }).optional(),
    daily: z.object({ quota: n, used: n, resets_at: dateTimeSchema }).optional(),
    day_used: n,
    queued: n,
    in_flight: n,
    max_concurrency: n,
    paused_until: dateTimeSchema.optional(),
  }),
  cache: z.object({ entries: n, bytes: n, hits: n, misses: n, hit_rate: n, ttl_seconds: n }),
  upstream: z.object({ requests: n, rate_limited: n, retries: n, failures: n, unreachable: n }),
});
type ServerFigures = z.infer<typeof serverSchema>;

/** The key's state shared between processes (VT_STATE): the backend and the counts across processes. */
const sharedSchema = z.object({
  backend: z.enum(['memory', 'sqlite', 'redis']),
  location: z.string(),
  /**
   * The counts below are shared: every process on the key counts against the same window and day.
   * False while the state is this process's memory (degraded_since), whatever the backend.
   */
  shared: z.boolean(),
  /** This process has counted on its own, in its memory, since then (the backend is unavailable). */
  degraded_since: dateTimeSchema.optional(),
  degraded_reason: z.string().optional(),
  /**
   * With degraded_since: true, the backend is tried again every few seconds and used once it answers;
   * false, memory replaced it at start for the life of this process (fixed by a restart).
   */
  retrying: z.boolean().optional(),
  window_used: n,
  day_used: n,
  paused_until: dateTimeSchema.optional(),
  cache: z.object({ entries: n, bytes: n }).optional(),
});
type SharedFigures = z.infer<typeof sharedSchema>;

const quotaOutput = z.object({
  /** This process's limits, queue, cache and upstream counts (absent where nothing is mediated). */
  server: serverSchema.optional(),
  state: sharedSchema.optional(),
  /** VirusTotal's own counters of the key, per quota (include_vt). */
  virustotal: z
    .record(z.string(), z.object({ user: usedAllowed.optional(), group: usedAllowed.optional() }))
    .optional(),
  /** Why VirusTotal's counters could not be read, when asked for. */
  virustotal_unavailable: z.string().optional(),
});
type QuotaOutput = z.infer<typeof quotaOutput>;

/** The figures the answer shows, field by field: whatever else the gateway reports stays out of the contract. */
function serverFigures(stats: GatewayStats): ServerFigures {
  const { limiter: l, cache: c, upstream: u } = stats;
  return {
    limiter: {
      ...(l.window
        ? {
            window: {
              requests: l.window.requests,
              seconds: l.window.seconds,
              used: l.window.used,
              next_slot_in_ms: l.window.next_slot_in_ms,
            },
          }
        : {}),
      ...(l.daily
        ? { daily: { quota: l.daily.quota, used: l.daily.used, resets_at: l.daily.resets_at } }
        : {}),
      day_used: l.day_used,
      queued: l.queued,
      in_flight: l.in_flight,
      max_concurrency: l.max_concurrency,
      ...(l.paused_until ? { paused_until: l.paused_until } : {}),
    },
    cache: {
      entries: c.entries,
      bytes: c.bytes,
      hits: c.hits,
      misses: c.misses,
      hit_rate: c.hit_rate,
      ttl_seconds: c.ttl_seconds,
    },
    upstream: {
      requests: u.requests,
      rate_limited: u.rate_limited,
      retries: u.retries,
      failures: u.failures,
      unreachable: u.unreachable,
    },
  };
}

type SharedStats = NonNullable<Awaited<ReturnType<ToolContext['vt']['sharedStats']>>>;

/**
 * The shared state's figures, when there is state beyond this process's memory to speak of: a shared
 * store, one that is unavailable (this process counts alone meanwhile), or memory that replaced it.
 */
function sharedFigures(st: SharedStats): SharedFigures | undefined {
  const { health: h, usage: u } = st;
  const degraded = h.degradedSince !== undefined;
  if (!h.shared && !degraded) return undefined;
  // While degraded the counts come from this process's memory, however shared the backend is.
  const shared = h.shared && !degraded;
  return {
    backend: h.kind,
    location: clean(h.location, 200) ?? h.kind,
    shared,
    ...(h.degradedSince !== undefined
      ? { degraded_since: isoSeconds(h.degradedSince), retrying: h.kind !== 'memory' }
      : {}),
    ...(degraded && h.reason ? { degraded_reason: clean(h.reason, 300) } : {}),
    window_used: u.windowUsed,
    day_used: u.dayUsed,
    ...(u.pausedUntil !== undefined && u.pausedUntil > Date.now()
      ? { paused_until: isoSeconds(u.pausedUntil) }
      : {}),
    ...(shared ? { cache: { entries: st.cache.entries, bytes: st.cache.bytes } } : {}),
  };
}

/**
 * The state line when this process counts alone: since when, why, and whether that ends by itself
 * (a backend retried in the background) or takes a restart (memory chosen at start).
 */
function degradedLine(st: SharedFigures, server: boolean): string {
  const these = server ? 'The counts above' : 'These counts';
  if (st.retrying === false) {
    return (
      `State: this process's memory since ${st.degraded_since}` +
      `${st.degraded_reason ? `, because ${st.degraded_reason}` : ''}. ${these} are this process's only: ` +
      'other processes on this key are not in them (VirusTotal counts every use of the key), and a restart ' +
      'loses them and the triage jobs. Not retried: once the cause is fixed, restart the server.'
    );
  }
  return (
    `State: ${st.backend} at ${st.location} is unavailable since ${st.degraded_since}` +
    `${st.degraded_reason ? ` (${st.degraded_reason})` : ''}. ${these} are this process's only: other ` +
    "processes' lookups on this key are not in them (VirusTotal counts every use of the key). It is " +
    'retried every few seconds and used again once it answers.'
  );
}

/** Quota names as keys: letters, digits and underscores only. */
function quotaFigures(q: Quotas): NonNullable<QuotaOutput['virustotal']> {
  const out: NonNullable<QuotaOutput['virustotal']> = {};
  for (const [name, v] of Object.entries(q)) out[name.replace(/[^a-z0-9_]/gi, '').slice(0, 60)] = v;
  return out;
}

function describeVt(figures: NonNullable<QuotaOutput['virustotal']>): string {
  return Object.entries(figures)
    .flatMap(([name, v]) =>
      v.user
        ? [`${name.replace(/^api_requests_/, '')} ${fmtInt(v.user.used)}/${fmtInt(v.user.allowed)}`]
        : [],
    )
    .join(', ');
}

function render(s: QuotaOutput, maxChars: number): string {
  const t = new TextBuilder();
  if (s.server) {
    const { limiter: l, cache: c, upstream: u } = s.server;
    // What is left first: that is what the caller is deciding on.
    const left = [
      l.window &&
        `${plural(Math.max(0, l.window.requests - l.window.used), 'lookup')} this ${l.window.seconds} s window`,
      l.daily && `${plural(Math.max(0, l.daily.quota - l.daily.used), 'lookup')} today`,
    ].filter(Boolean);
    t.line(
      left.length
        ? `Left: ${left.join(', ')}.`
        : 'Left: no limits are set (VT_RATE_LIMIT and VT_DAILY_QUOTA are off).',
    );
    if (l.window) {
      const next = Math.ceil(l.window.next_slot_in_ms / 1000);
      t.line(
        `Rate window: ${l.window.used}/${l.window.requests} used in the last ${l.window.seconds} s; ` +
          `${next > 0 ? `next slot in ${next} s` : 'a slot is free now'}.`,
      );
    }
    t.line(
      l.daily
        ? `Today: ${fmtInt(l.daily.used)}/${fmtInt(l.daily.quota)} lookups used; resets at ${l.daily.resets_at}.`
        : `Today: ${plural(l.day_used, 'lookup')} used; no daily cap set (VT_DAILY_QUOTA=off).`,
    );
    t.line(
      `Queue: ${l.queued} waiting, ${l.in_flight} in flight (at most ${l.max_concurrency}).` +
        (l.paused_until ? ` VirusTotal asked us to back off until ${l.paused_until}.` : ''),
    );
    t.line(
      `Cache: ${plural(c.entries, 'answer')} (${(c.bytes / 1024 / 1024).toFixed(1)} MB), hit rate ${(c.hit_rate * 100).toFixed(0)}% ` +
        `(${plural(c.hits, 'hit')}, ${plural(c.misses, 'miss', 'misses')}), kept ${c.ttl_seconds} s.`,
    );
    t.line(
      `Upstream since start: ${plural(u.requests, 'lookup')}, ${u.rate_limited} answered 429, ${plural(u.retries, 'retry', 'retries')}, ${plural(u.failures, 'failure')}` +
        (u.unreachable
          ? `; ${plural(u.unreachable, 'attempt')} never reached VirusTotal (not counted against the limits).`
          : '.'),
    );
    if (!s.state?.degraded_since) {
      t.line(
        s.state?.shared
          ? 'The counts above are this process only; the state line counts every process on the key, and VirusTotal counts every use of the key.'
          : 'These counts are this process only; VirusTotal counts every use of the key.',
      );
    }
  }
  if (s.state) {
    const st = s.state;
    const w = s.server?.limiter.window;
    const d = s.server?.limiter.daily;
    // Shared, or this process's alone: never both in one answer.
    t.line(
      st.degraded_since
        ? degradedLine(st, s.server !== undefined)
        : `State: ${st.backend} at ${st.location}` +
            (st.shared
              ? `, shared by every process on this key: ${st.window_used}${w ? `/${w.requests}` : ''} in the rate window, ` +
                `${fmtInt(st.day_used)}${d ? `/${fmtInt(d.quota)}` : ''} lookups today` +
                `${st.cache ? `; shared cache ${plural(st.cache.entries, 'answer')}` : ''}` +
                `${st.paused_until ? `; paused until ${st.paused_until}` : ''}.`
              : '.'),
    );
  }
  if (s.virustotal)
    t.line(`VirusTotal's counters for this key: ${describeVt(s.virustotal) || 'none given'}.`);
  if (s.virustotal_unavailable)
    t.line(`VirusTotal's own counters are unavailable: ${s.virustotal_unavailable}`);
  return t.render(maxChars);
}

async function vtFigures(ctx: ToolContext, signal: AbortSignal): Promise<Partial<QuotaOutput>> {
  try {
    // VirusTotal names a key's user by the key: the operation has the client put it into the URL at
    // the last moment, so it is in no path, cache key or log line.
    return { virustotal: quotaFigures((await ctx.vt.quotas({ signal })).value) };
  } catch (err) {
    if (!(err instanceof VtError)) throw err;
    return { virustotal_unavailable: errorText(err, ctx) };
  }
}

export const quotaTool = defineTool({
  name: 'vt_quota',
  title: 'VirusTotal quota and cache',
  description:
    'What is left: lookups in this rate window and today (with reset times), the queue, the cache. Call it ' +
    "before a large batch or after a quota error. include_vt adds VirusTotal's own counters (one lookup).",
  inputSchema: {
    include_vt: z.boolean().default(false).describe("Also fetch VT's own counters (one lookup)."),
  },
  outputSchema: quotaOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, extra) {
    const stats = ctx.vt.stats();
    // The store's own failures never fail the call: without its figures, the answer is this process's.
    const sharedStats = await ctx.vt.sharedStats().catch(() => undefined);
    const state = sharedStats ? sharedFigures(sharedStats) : undefined;
    const structured: QuotaOutput = {
      ...(stats ? { server: serverFigures(stats) } : {}),
      ...(state ? { state } : {}),
      ...(args.include_vt ? await vtFigures(ctx, extra.mcpReq.signal) : {}),
    };
    return { structured, text: render };
  },
});
