/** vt_get_behaviour: a file's sandbox behaviour and its MITRE ATT&CK mapping, in one compact answer. */
import { z } from 'zod';
import { renderBehaviourText, summarizeBehaviour } from '../summaries/behaviour.js';
import { obj } from '../summaries/common.js';
import { VtError } from '../vt/errors.js';
import { vtPath } from '../vt/paths.js';
import { defineTool } from './define.js';
import { ok, sourceLine } from './respond.js';
import { wellFormed } from './schemas.js';
import { parseTarget } from './target.js';

/** The behaviour text has its own ceiling: past it, more sandbox strings stop helping. */
const BEHAVIOUR_MAX = 8000;

export const getBehaviourTool = defineTool({
  name: 'vt_get_behaviour',
  title: 'VirusTotal sandbox behaviour',
  description:
    'A file’s sandbox behaviour (all sandboxes merged) with MITRE ATT&CK tactics and ' +
    'techniques: verdicts, DNS/IP/HTTP traffic, processes, command lines, dropped files, registry keys, ' +
    'mutexes, Sigma/IDS hits. Two lookups. Strings from the sample are untrusted.',
  inputSchema: { indicator: wellFormed(z.string().max(200), 'indicator').describe('MD5, SHA-1 or SHA-256.') },
  outputSchema: {
    id: z.string().optional(),
    input: z.string(),
    found: z.boolean(),
    summary: z.looseObject({}).optional(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const target = parseTarget(args.indicator, 'file');
    // Neither response names the file, so its SHA-256 is known only when it was asked by it.
    const identity = {
      ...(target.hashKind === 'sha256' ? { id: target.value } : {}),
      input: target.value,
    };
    const [summary, trees] = await Promise.allSettled([
      ctx.vt.fetch<{ data?: unknown }>({
        path: vtPath`/files/${target.id}/behaviour_summary`,
        signal: extra.signal,
      }),
      ctx.vt.fetch<{ data?: unknown }>({
        path: vtPath`/files/${target.id}/behaviour_mitre_trees`,
        signal: extra.signal,
      }),
    ]);
    // A missing or empty behaviour summary says no sandbox report is available, not that the file was never
    // run: the report's own sandbox verdicts may come from sandboxes whose reports VirusTotal does not serve.
    const notFound = () =>
      ok(
        ctx,
        `No sandbox report available for file ${target.value}. vt_get_report shows whether VirusTotal knows ` +
          'the file and any sandbox verdicts; no behaviour report is not evidence that it is safe.',
        { ...identity, found: false },
      );
    if (summary.status === 'rejected') {
      const err = summary.reason;
      if (err instanceof VtError && err.kind === 'not_found') {
        return notFound();
      }
      throw err;
    }
    const data = obj(summary.value.body?.data);
    if (!data || Object.keys(data).length === 0) {
      return notFound();
    }
    if (trees.status === 'rejected') {
      const err = trees.reason;
      if (err instanceof VtError && err.kind === 'cancelled') throw err;
      ctx.log.debug(
        `vt_get_behaviour: ATT&CK tree unavailable (${err instanceof VtError ? err.kind : 'error'})`,
      );
    }
    const treeData = trees.status === 'fulfilled' ? (trees.value.body?.data ?? {}) : undefined;
    const s = summarizeBehaviour(target.value, data, treeData);
    // Room is kept for the source line and the demo banner.
    const budget = Math.min(ctx.config.maxResponseChars, BEHAVIOUR_MAX) - 200;
    const text = renderBehaviourText(s, budget);
    const src = summary.value;
    return ok(ctx, `${text}\n${sourceLine(src.fetchedAt, src.fromCache)}`, {
      ...identity,
      found: true,
      summary: s as unknown as Record<string, unknown>,
    });
  },
});
