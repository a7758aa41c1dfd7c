/** vt_get_behaviour: a file's sandbox behaviour and its MITRE ATT&CK mapping, in one compact answer. */
import { z } from 'zod';
import { parseTarget } from '../answers/target.js';
import { behaviourNotFound } from '../answers/wording.js';
import { behaviourSummarySchema, renderBehaviourText, summarizeBehaviour } from '../summaries/behaviour.js';
import { VtError } from '../vt/errors.js';
import { defineTool } from './define.js';
import { detailParam, wellFormed } from './schemas.js';

/**
 * The behaviour text has its own ceilings: the concise one leaves room under 4,000 characters for the
 * source line and the demo banner; past the detailed one, more sandbox strings stop helping.
 */
const BEHAVIOUR_TEXT_MAX = { concise: 3840, detailed: 12_000 };

export const getBehaviourTool = defineTool({
  name: 'vt_get_behaviour',
  title: 'VirusTotal sandbox behaviour',
  description:
    'A file’s sandbox behaviour (all sandboxes merged) with MITRE ATT&CK tactics and ' +
    'techniques: verdicts, DNS/IP/HTTP traffic, processes, command lines, dropped files, registry keys, ' +
    'mutexes, Sigma/IDS hits. Two lookups. Strings from the sample are untrusted.',
  inputSchema: {
    indicator: wellFormed(z.string().max(200), 'indicator').describe('MD5, SHA-1 or SHA-256.'),
    detail: detailParam.describe(
      '"detailed": longer lists and the sandboxes’ words per technique (no new lookup if cached).',
    ),
  },
  outputSchema: z.object({
    id: z.string().optional(),
    input: z.string(),
    found: z.boolean(),
    summary: behaviourSummarySchema.optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const target = parseTarget(args.indicator, 'file');
    const detail = args.detail ?? 'concise';
    // Neither response names the file, so its SHA-256 is known only when it was asked by it.
    const identity = {
      ...(target.hashKind === 'sha256' ? { id: target.value } : {}),
      input: target.value,
    };
    const res = await ctx.vt.behaviour(target.id, { signal: extra.mcpReq.signal });
    const { summary, trees, treesError } = res.value;
    if (!summary) {
      const said = behaviourNotFound(ctx, target.value);
      return { structured: { ...identity, found: false }, text: () => said };
    }
    if (treesError !== undefined) {
      ctx.log.debug(
        `vt_get_behaviour: ATT&CK tree unavailable (${treesError instanceof VtError ? treesError.kind : 'error'})`,
      );
    }
    return {
      structured: {
        ...identity,
        found: true,
        summary: summarizeBehaviour(target.value, summary, trees, detail),
      },
      text: (s, max) =>
        s.summary ? renderBehaviourText(s.summary, Math.min(max, BEHAVIOUR_TEXT_MAX[detail])) : '',
      source: res,
    };
  },
});
