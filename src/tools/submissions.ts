/**
 * The write tools, listed only when VT_ENABLE_SUBMISSIONS=true. What they send becomes available to
 * VirusTotal's community, so each says so, none is retried, and no read tool ever calls them.
 * vt_submit_file reads only regular files inside VT_UPLOAD_DIRS, never /proc, /sys or /dev, through one
 * descriptor whose bytes are both hashed and sent (local-file.ts). A client that supports elicitation
 * is asked to confirm each submission first (confirm.ts); a refusal sends nothing.
 */
import { dirname } from 'node:path';
import { FormData } from 'undici';
import { z } from 'zod';
import { renderAnalysisText, summarizeAnalysis } from '../summaries/analysis.js';
import { clean } from '../summaries/common.js';
import { invalidInput, VtError } from '../vt/errors.js';
import { parseIndicator } from '../vt/indicators.js';
import { vtPath } from '../vt/paths.js';
import { confirmationFooter, confirmSubmission } from './confirm.js';
import type { ToolContext } from './context.js';
import { defineTool } from './define.js';
import { readFileForUpload } from './local-file.js';
import { progressFor } from './progress.js';
import { ok } from './respond.js';

const WRITE = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: true,
} as const;
const SHARED =
  "What you submit becomes available to VirusTotal's community: never submit private files or internal URLs.";

const DIRECT_UPLOAD_MAX = 32 * 1024 * 1024;
/** URLs longer than this are shown in part in a confirmation (and say so). */
const URL_SHOWN_MAX = 2000;

const analysisOutput = {
  analysis_id: z.string(),
  status: z.string(),
  summary: z.record(z.string(), z.unknown()).optional(),
};
// A submission the user declined has no analysis id; its status is "declined".
const submitOutput = { ...analysisOutput, analysis_id: z.string().optional() };

/** The answer when the user said no: not an error, and nothing to retry. */
function declined(
  ctx: ToolContext,
  what: string,
  how: 'declined' | 'dismissed',
  extra: Record<string, unknown>,
) {
  return ok(
    ctx,
    `Nothing was sent: the user ${how === 'declined' ? 'declined' : 'dismissed'} the confirmation to send ${what} to VirusTotal. ` +
      'Do not submit it again unless the user asks.',
    { status: 'declined', ...extra },
  );
}

function analysisIdOf(body: unknown): string {
  const id = (body as { data?: { id?: unknown } } | undefined)?.data?.id;
  if (typeof id !== 'string' && typeof id !== 'number') {
    throw new VtError('transient', 'VirusTotal accepted the submission but sent no analysis id.', {
      retryable: false,
    });
  }
  return String(id);
}

export const submitUrlTool = defineTool({
  name: 'vt_submit_url',
  title: 'Submit a URL to VirusTotal',
  description: `Send a URL to VirusTotal for a fresh scan; returns an analysis id for vt_get_analysis. ${SHARED}`,
  inputSchema: { url: z.string().max(8192).describe('The URL; defanged forms are fine.') },
  outputSchema: submitOutput,
  annotations: WRITE,
  async handler(args, ctx, extra) {
    const parsed = parseIndicator(args.url, 'url');
    if (!parsed.ok) throw invalidInput(parsed.reason);
    const url = parsed.indicator.value;
    const shownUrl = clean(url, URL_SHOWN_MAX) ?? '';
    const asked = await confirmSubmission(
      ctx,
      extra,
      'Send this URL to VirusTotal for scanning?\n' +
        `URL: ${shownUrl}\n` +
        (url.length > URL_SHOWN_MAX ? `(the first ${URL_SHOWN_MAX} of its ${url.length} characters)\n` : '') +
        confirmationFooter(ctx),
    );
    if (asked === 'declined' || asked === 'dismissed') return declined(ctx, 'this URL', asked, {});
    const res = await ctx.vt.submit({
      path: '/urls',
      body: new URLSearchParams({ url }).toString(),
      contentType: 'application/x-www-form-urlencoded',
      signal: extra.signal,
      onWait: progressFor(extra).onWait,
    });
    const id = analysisIdOf(res.body);
    return ok(
      ctx,
      `Submitted "${url}" to VirusTotal. Analysis id: ${id}\nResults take a minute or two: call vt_get_analysis with this id.`,
      { analysis_id: id, status: 'queued' },
    );
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
  outputSchema: { ...submitOutput, sha256: z.string() },
  annotations: WRITE,
  async handler(args, ctx, extra) {
    // Read once: the bytes hashed, shown to the user and sent are the same bytes.
    const file = await readFileForUpload(args.path, ctx.config.uploadDirs);
    const name = clean(file.name, 200) ?? 'file';
    const size = file.size.toLocaleString('en-US');
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
    );
    if (asked === 'declined' || asked === 'dismissed') {
      return declined(ctx, `${name} (sha256 ${file.sha256})`, asked, { sha256: file.sha256 });
    }
    const form = new FormData();
    form.append('file', file.data, name);
    if (args.password) form.append('password', args.password);
    let target = '/files';
    if (file.size > DIRECT_UPLOAD_MAX) {
      // Large files go to a one-time upload URL that VirusTotal hands out.
      const u = await ctx.vt.fetch<{ data?: unknown }>({
        path: '/files/upload_url',
        signal: extra.signal,
        fresh: true,
      });
      if (typeof u.body?.data !== 'string') throw new VtError('transient', 'VirusTotal gave no upload URL.');
      target = u.body.data;
    }
    const res = await ctx.vt.submit({
      path: target,
      body: form,
      signal: extra.signal,
      onWait: progressFor(extra).onWait,
    });
    const id = analysisIdOf(res.body);
    return ok(
      ctx,
      `Uploaded ${name} (${size} bytes, sha256 ${file.sha256}). Analysis id: ${id}\n` +
        'Results take a few minutes: call vt_get_analysis with this id, or vt_get_report with the sha256 later.',
      { analysis_id: id, status: 'queued', sha256: file.sha256 },
    );
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
  outputSchema: analysisOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, extra) {
    const id = args.id.trim();
    if (!/^[A-Za-z0-9_=:-]+$/.test(id))
      throw invalidInput('An analysis id has only letters, digits and - _ = :');
    const deadline = Date.now() + (args.wait_seconds ?? 30) * 1000;
    const progress = progressFor(extra);
    for (let poll = 1; ; poll++) {
      const res = await ctx.vt
        .fetch<unknown>({ path: vtPath`/analyses/${id}`, signal: extra.signal, fresh: true })
        .catch((err: unknown) => {
          if (err instanceof VtError && err.kind === 'not_found') {
            throw invalidInput(
              `No analysis with id "${clean(id, 100)}"; ids come from vt_submit_url or vt_submit_file.`,
            );
          }
          throw err;
        });
      const s = summarizeAnalysis(res.body);
      if (!s) throw new VtError('transient', 'VirusTotal sent an analysis in an unexpected shape.');
      const wait = pollInterval(ctx);
      if (s.completed || Date.now() + wait > deadline) {
        return ok(ctx, renderAnalysisText(s, ctx.config.maxResponseChars), {
          analysis_id: id,
          status: s.status,
          summary: s as unknown as Record<string, unknown>,
        });
      }
      progress.step(poll, 0, `Analysis ${s.status}; checking again in ${Math.round(wait / 1000)} s.`);
      await sleep(wait, extra.signal);
    }
  },
});

/** Polls at the pace the rate limit allows (15 s on a public key), at least every 2 s otherwise. */
function pollInterval(ctx: ToolContext): number {
  const w = ctx.config.rateLimit;
  return w ? Math.max(2000, (w.seconds * 1000) / w.requests) : 2000;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolveSleep, reject) => {
    if (signal.aborted) return reject(new VtError('cancelled', 'The call was cancelled.'));
    const t = setTimeout(resolveSleep, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new VtError('cancelled', 'The call was cancelled.'));
      },
      { once: true },
    );
  });
}
