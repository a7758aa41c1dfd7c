/**
 * The write tools, listed only when VT_ENABLE_SUBMISSIONS=true. What they send becomes available to
 * VirusTotal's community, so each says so, none is retried, and no read tool ever calls them.
 * vt_submit_file reads only regular files inside VT_UPLOAD_DIRS, never /proc, /sys or /dev, through one
 * descriptor whose bytes are both hashed and sent (local-file.ts). A client that supports elicitation
 * is asked to confirm each submission first (confirm.ts); a refusal sends nothing.
 */
import { dirname } from 'node:path';
import { z } from 'zod';
import type { ToolContext } from '../answers/context.js';
import type { Answer } from '../answers/respond.js';
import { indicatorProblemText, invalidInput, ToolError } from '../answers/wording.js';
import { analysisSummarySchema, renderAnalysisText, summarizeAnalysis } from '../summaries/analysis.js';
import { clean, fmtInt } from '../summaries/common.js';
import { VtError } from '../vt/errors.js';
import { parseIndicator } from '../vt/indicators.js';
import { confirmationFooter, confirmSubmission } from './confirm.js';
import { defineTool } from './define.js';
import { readFileForUpload } from './local-file.js';
import { progressFor } from './progress.js';

const WRITE = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: true,
} as const;
const SHARED =
  "What you submit becomes available to VirusTotal's community: never submit private files or internal URLs.";

/** URLs longer than this are shown in part in a confirmation (and say so). */
const URL_SHOWN_MAX = 2000;

// A submission the user declined has no analysis id; its status is "declined".
const submitUrlOutput = z.object({
  analysis_id: z.string().optional(),
  status: z.enum(['queued', 'declined']),
});
const submitFileOutput = submitUrlOutput.extend({ sha256: z.string() });

/** The answer when the user said no: not an error, and nothing to retry. */
function declined<S extends { status: 'declined' }>(
  what: string,
  how: 'declined' | 'dismissed',
  structured: S,
): Answer<S> {
  const said =
    `Nothing was sent: the user ${how === 'declined' ? 'declined' : 'dismissed'} the confirmation to send ${what} to VirusTotal. ` +
    'Do not submit it again unless the user asks.';
  return { structured, text: () => said };
}

export const submitUrlTool = defineTool({
  name: 'vt_submit_url',
  title: 'Submit a URL to VirusTotal',
  description: `Send a URL to VirusTotal for a fresh scan; returns an analysis id for vt_get_analysis. ${SHARED}`,
  inputSchema: { url: z.string().max(8192).describe('The URL; defanged forms are fine.') },
  outputSchema: submitUrlOutput,
  annotations: WRITE,
  async handler(args, ctx, extra) {
    const parsed = parseIndicator(args.url, 'url');
    if (!parsed.ok) throw invalidInput(indicatorProblemText(parsed.problem));
    const url = parsed.indicator.value;
    const shownUrl = clean(url, URL_SHOWN_MAX) ?? '';
    const asked = await confirmSubmission(
      ctx,
      extra,
      'Send this URL to VirusTotal for scanning?\n' +
        `URL: ${shownUrl}\n` +
        (url.length > URL_SHOWN_MAX ? `(the first ${URL_SHOWN_MAX} of its ${url.length} characters)\n` : '') +
        confirmationFooter(ctx),
      `url\0${url}`,
    );
    if (asked === 'declined' || asked === 'dismissed') {
      return declined('this URL', asked, { status: 'declined' as const });
    }
    const { analysisId } = await ctx.vt.submitUrl(url, {
      signal: extra.mcpReq.signal,
      onWait: progressFor(extra).onWait,
    });
    return {
      structured: { analysis_id: analysisId, status: 'queued' as const },
      text: (s) =>
        `Submitted "${url}" to VirusTotal. Analysis id: ${s.analysis_id}\nResults take a minute or two: call vt_get_analysis with this id.`,
    };
  },
});

export const submitFileTool = defineTool({
  name: 'vt_submit_file',
  title: 'Submit a file to VirusTotal',
  description: `Upload a local file (up to 650 MB, inside VT_UPLOAD_DIRS) for scanning; returns its sha256 and an analysis id for vt_get_analysis. Try vt_get_report with the hash first. ${SHARED}`,
  inputSchema: {
    path: z.string().max(4096).describe('Absolute path of the file.'),
    password: z.string().max(256).optional().describe('Password of a protected archive.'),
  },
  outputSchema: submitFileOutput,
  annotations: WRITE,
  async handler(args, ctx, extra) {
    // Read once: the bytes hashed, shown to the user and sent are the same bytes.
    const file = await readFileForUpload(args.path, ctx.config.uploadDirs);
    const name = clean(file.name, 200) ?? 'file';
    const size = fmtInt(file.size);
    const asked = await confirmSubmission(
      ctx,
      extra,
      'Upload this file to VirusTotal for scanning?\n' +
        `File: ${name}\n` +
        `Folder: ${clean(dirname(file.path), 300) ?? ''}\n` +
        `Size: ${size} bytes\n` +
        `SHA-256: ${file.sha256}\n` +
        (args.password ? 'The archive password given is sent with it.\n' : '') +
        confirmationFooter(ctx),
      `file\0${file.path}\0${file.sha256}\0${args.password ?? ''}`,
    );
    if (asked === 'declined' || asked === 'dismissed') {
      return declined(`${name} (sha256 ${file.sha256})`, asked, {
        status: 'declined' as const,
        sha256: file.sha256,
      });
    }
    const { analysisId } = await ctx.vt.uploadFile(
      { data: file.data, name, size: file.size, password: args.password },
      { signal: extra.mcpReq.signal, onWait: progressFor(extra).onWait },
    );
    return {
      structured: { analysis_id: analysisId, status: 'queued' as const, sha256: file.sha256 },
      text: (s) =>
        `Uploaded ${name} (${size} bytes, sha256 ${s.sha256}). Analysis id: ${s.analysis_id}\n` +
        'Results take a few minutes: call vt_get_analysis with this id, or vt_get_report with the sha256 later.',
    };
  },
});

export const getAnalysisTool = defineTool({
  name: 'vt_get_analysis',
  title: 'VirusTotal analysis status',
  description:
    'Status and result of a submission (the analysis id from vt_submit_url or vt_submit_file). Waits up to ' +
    'wait_seconds for it to complete, polling gently and reporting progress; cancellable.',
  inputSchema: {
    id: z.string().min(1).max(300).describe('Analysis id.'),
    // Clients often give up on a call after 60 s: stay below that.
    wait_seconds: z.number().int().min(0).max(55).default(30).describe('Seconds to wait for completion.'),
  },
  outputSchema: z.object({
    analysis_id: z.string(),
    /** VirusTotal's status: queued, in-progress or completed. */
    status: z.string(),
    summary: analysisSummarySchema.optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const id = args.id.trim();
    if (!/^[A-Za-z0-9_=:-]+$/.test(id))
      throw invalidInput('An analysis id has only letters, digits and - _ = :');
    const deadline = Date.now() + (args.wait_seconds ?? 30) * 1000;
    const progress = progressFor(extra);
    for (let poll = 1; ; poll++) {
      const res = await ctx.vt
        .getAnalysis(id, { signal: extra.mcpReq.signal, fresh: true })
        .catch((err: unknown) => {
          if (err instanceof VtError && err.kind === 'not_found') {
            throw invalidInput(
              `No analysis with id "${clean(id, 100)}"; ids come from vt_submit_url or vt_submit_file.`,
            );
          }
          throw err;
        });
      const s = summarizeAnalysis(res.value);
      const wait = pollInterval(ctx);
      if (s.completed || Date.now() + wait > deadline) {
        return {
          structured: { analysis_id: id, status: s.status, summary: s },
          text: (out, max) => (out.summary ? renderAnalysisText(out.summary, max) : ''),
        };
      }
      progress.step(poll, 0, `Analysis ${s.status}; checking again in ${Math.round(wait / 1000)} s.`);
      await sleep(wait, extra.mcpReq.signal);
    }
  },
});

/** Polls at the pace the rate limit allows (15 s on a public key), at least every 2 s otherwise. */
function pollInterval(ctx: ToolContext): number {
  const w = ctx.config.rateLimit;
  return w ? Math.max(2000, (w.seconds * 1000) / w.requests) : 2000;
}

/** On the global setTimeout, which the tests' virtual clock drives (see abortableSleep in vt/gateway.ts). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolveSleep, reject) => {
    if (signal.aborted) return reject(new ToolError('The call was cancelled.', { kind: 'cancelled' }));
    const t = setTimeout(resolveSleep, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new ToolError('The call was cancelled.', { kind: 'cancelled' }));
      },
      { once: true },
    );
  });
}
