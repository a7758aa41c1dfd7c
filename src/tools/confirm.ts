/**
 * Asking the user before a submission leaves the machine (MCP elicitation, form mode). Only clients
 * that declared form elicitation are asked; for the others nothing changes (the write tools exist only
 * with VT_ENABLE_SUBMISSIONS=true). Anything but an explicit yes sends nothing.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { clean } from '../summaries/common.js';
import type { ToolContext } from './context.js';
import type { Extra } from './define.js';
import { ToolError } from './wording.js';

/** How long the user has to answer. */
const CONFIRM_TIMEOUT_MS = 5 * 60_000;

const SHARED_WITH_COMMUNITY =
  'VirusTotal shares what is submitted with its community: security companies and researchers can see ' +
  'it (and download submitted files). Do not send anything private or confidential.';

/**
 * 'unsupported' when the client cannot be asked (then the caller keeps the old behaviour);
 * 'accepted' only for accept with confirm: true; 'declined' or 'dismissed' otherwise.
 * A failed question (timeout, client error) sends nothing either: it throws a ToolError.
 */
export async function confirmSubmission(
  ctx: ToolContext,
  extra: Extra,
  message: string,
): Promise<'unsupported' | 'accepted' | 'declined' | 'dismissed'> {
  const peer = ctx.peer;
  // An empty `elicitation: {}` (2025-06-18 clients) is read by the SDK as form support.
  if (!peer?.getClientCapabilities()?.elicitation?.form) return 'unsupported';
  let answer: Awaited<ReturnType<typeof peer.elicitInput>>;
  try {
    answer = await peer.elicitInput(
      {
        mode: 'form',
        message,
        requestedSchema: {
          type: 'object',
          properties: {
            confirm: {
              type: 'boolean',
              title: 'Send to VirusTotal',
              description: 'Yes sends it; VirusTotal shares it with its community.',
              default: false,
            },
          },
          required: ['confirm'],
        },
      },
      { signal: extra.signal, timeout: CONFIRM_TIMEOUT_MS, relatedRequestId: extra.requestId },
    );
  } catch (err) {
    if (extra.signal.aborted) {
      throw new ToolError('The call was cancelled; nothing was sent.', { kind: 'cancelled' });
    }
    if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
      throw new ToolError(
        `Nothing was sent: the user did not answer the confirmation within ${CONFIRM_TIMEOUT_MS / 60_000} minutes.`,
        { kind: 'cancelled' },
      );
    }
    const why = clean(err instanceof Error ? err.message : String(err), 200);
    throw new ToolError(
      `Nothing was sent: the client could not ask the user to confirm${why ? ` (${why})` : ''}.`,
      { kind: 'cancelled' },
    );
  }
  if (answer.action === 'accept') return answer.content?.confirm === true ? 'accepted' : 'declined';
  return answer.action === 'decline' ? 'declined' : 'dismissed';
}

/** The closing lines of every confirmation message. */
export function confirmationFooter(ctx: ToolContext): string {
  return ctx.demo
    ? `${SHARED_WITH_COMMUNITY}\n(Demo mode: this goes to the local stand-in, not to VirusTotal.)`
    : SHARED_WITH_COMMUNITY;
}
