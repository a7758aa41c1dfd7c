/** vt_quota: what the server has spent and has left, the queue, the cache, and VT's own figures. */
import { z } from 'zod';
import { fmtInt, obj, plural } from '../summaries/common.js';
import { TextBuilder } from '../summaries/text.js';
import { VtError } from '../vt/errors.js';
import { defineTool } from './define.js';
import { errorText, ok } from './respond.js';

export const quotaTool = defineTool({
  name: 'vt_quota',
  title: 'VirusTotal quota and cache',
  description:
    'What is left: lookups in this rate window and today (with reset times), the queue, the cache. Call it ' +
    "before a large batch or after a quota error. include_vt adds VirusTotal's own counters (one lookup).",
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
      t.line('These counts are this process only; VirusTotal counts every use of the key.');
    }
    let virustotal: Record<string, unknown> | undefined;
    if (args.include_vt) {
      try {
        // VirusTotal names a key's user by the key: the client puts it into the URL at the last
        // moment, so it is in no path, cache key or log line here.
        const res = await ctx.vt.fetch<{ data?: unknown }>({
          path: '/overall_quotas',
          asKeyUser: true,
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
