/** vt_quota: what the server has spent and has left, the queue, the cache, and VT's own figures. */
import { z } from 'zod';
import { fmtInt, obj } from '../summaries/common.js';
import { TextBuilder } from '../summaries/text.js';
import { VtError } from '../vt/errors.js';
import { vtPath } from '../vt/paths.js';
import { defineTool } from './define.js';
import { errorText, ok } from './respond.js';

export const quotaTool = defineTool({
  name: 'vt_quota',
  title: 'VirusTotal quota and cache',
  description:
    "What this server has spent and has left (this rate window and today), the queue, and the cache's size and " +
    "hit rate. With include_vt, also VirusTotal's own quota figures for the key (costs one lookup).",
  inputSchema: {
    include_vt: z.boolean().default(false).describe("Also fetch VT's own counters (one lookup)."),
  },
  outputSchema: {
    server: z.record(z.string(), z.unknown()),
    virustotal: z.record(z.string(), z.unknown()).optional(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, extra) {
    const stats = ctx.vt.stats();
    const t = new TextBuilder();
    const server: Record<string, unknown> = stats ? { ...stats } : {};
    if (stats) {
      const { limiter: l, cache: c, upstream: u } = stats;
      t.line(
        l.window
          ? `Rate window: ${l.window.used}/${l.window.requests} used in the last ${l.window.seconds} s; next free slot in ${Math.ceil(l.window.next_slot_in_ms / 1000)} s.`
          : 'Rate window: no limit set (VT_RATE_LIMIT=off).',
      );
      t.line(
        l.daily
          ? `Today: ${fmtInt(l.daily.used)}/${fmtInt(l.daily.quota)} lookups used; resets at ${l.daily.resets_at}.`
          : `Today: ${fmtInt(l.day_used)} lookups used; no daily cap set (VT_DAILY_QUOTA=off).`,
      );
      t.line(
        `Queue: ${l.queued} waiting, ${l.in_flight} in flight (at most ${l.max_concurrency}).` +
          (l.paused_until ? ` VirusTotal asked us to back off until ${l.paused_until}.` : ''),
      );
      t.line(
        `Cache: ${fmtInt(c.entries)} answers (${(c.bytes / 1024 / 1024).toFixed(1)} MB), hit rate ${(c.hit_rate * 100).toFixed(0)}% ` +
          `(${fmtInt(c.hits)} hits, ${fmtInt(c.misses)} misses), kept ${c.ttl_seconds} s.`,
      );
      t.line(
        `Upstream since start: ${fmtInt(u.requests)} requests, ${u.rate_limited} answered 429, ${u.retries} retries, ${u.failures} failures.`,
      );
      t.line('These counts are this process only; VirusTotal counts every use of the key.');
    }
    let virustotal: Record<string, unknown> | undefined;
    if (args.include_vt) {
      try {
        const res = await ctx.vt.fetch<{ data?: unknown }>({
          // The key is its own user id here; this path is never logged.
          path: vtPath`/users/${ctx.config.apiKey ?? 'me'}/overall_quotas`,
          signal: extra.signal,
          fresh: true,
        });
        virustotal = quotaFigures(res.body?.data);
        t.line(`VirusTotal's counters for this key: ${describe(virustotal) || 'none given'}.`);
      } catch (err) {
        if (!(err instanceof VtError)) throw err;
        t.line(`VirusTotal's own counters are unavailable: ${errorText(err)}`);
      }
    }
    return ok(ctx, t.render(ctx.config.maxResponseChars), { server, ...(virustotal ? { virustotal } : {}) });
  },
});

/** Keeps used/allowed of the user and group for each quota VT reports (api_requests_daily, ...). */
function quotaFigures(data: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(obj(data) ?? {})) {
    const user = obj(obj(v)?.user);
    const group = obj(obj(v)?.group);
    const pick = (o: Record<string, unknown> | undefined) =>
      o && typeof o.used === 'number' && typeof o.allowed === 'number'
        ? { used: o.used, allowed: o.allowed }
        : undefined;
    const u = pick(user);
    const g = pick(group);
    if (u || g)
      out[name.replace(/[^a-z0-9_]/gi, '').slice(0, 60)] = {
        ...(u ? { user: u } : {}),
        ...(g ? { group: g } : {}),
      };
  }
  return out;
}

function describe(figures: Record<string, unknown>): string {
  return Object.entries(figures)
    .map(([name, v]) => {
      const u = obj(obj(v)?.user);
      return u
        ? `${name.replace(/^api_requests_/, '')} ${fmtInt(u.used as number)}/${fmtInt(u.allowed as number)}`
        : undefined;
    })
    .filter(Boolean)
    .join(', ');
}
