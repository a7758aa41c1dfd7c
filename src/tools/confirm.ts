/**
 * Asking the user before a submission leaves the machine (MCP elicitation, form mode). Only clients
 * that declared form elicitation are asked; for the others nothing changes (the write tools exist only
 * with VT_ENABLE_SUBMISSIONS=true). Anything but an explicit yes sends nothing.
 */
import { createHash } from 'node:crypto';
import {
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  ProtocolError,
  SdkError,
  SdkErrorCode,
} from '@modelcontextprotocol/server';
import type { ConfirmState, ToolContext } from '../answers/context.js';
import { ToolError } from '../answers/wording.js';
import { clean } from '../summaries/common.js';
import type { Extra } from './define.js';
import { envelopeCapabilities } from './envelope.js';

const CONFIRM_TIMEOUT_MS = 5 * 60_000;

const SHARED_WITH_COMMUNITY =
  'VirusTotal shares what is submitted with its community: security companies and researchers can see ' +
  'it (and download submitted files). Do not send anything private or confidential.';

const CONFIRM_SCHEMA = {
  type: 'object' as const,
  properties: {
    confirm: {
      type: 'boolean' as const,
      title: 'Send to VirusTotal',
      description: 'Yes sends it; VirusTotal shares it with its community.',
      default: false,
    },
  },
  required: ['confirm'],
};

/**
 * Thrown to answer a 2026-07-28 client with a question for its user (the tool call comes back with the
 * answer and the signed state); registerTool returns its result as it is.
 */
export class NeedsInput extends Error {
  constructor(readonly result: InputRequiredResult) {
    super('input required');
  }
}

type Asked = 'unsupported' | 'accepted' | 'declined' | 'dismissed';

/**
 * Asks the user whether to send `subject` (what the message shows). A 2025 client is asked by an
 * elicitation request while the call waits; a 2026-07-28 client gets the question as the call's answer
 * (inputRequired) and calls again with the answer. Clients that cannot ask answer 'unsupported'.
 */
export async function confirmSubmission(
  ctx: ToolContext,
  extra: Extra,
  message: string,
  subject: string,
): Promise<Asked> {
  if (extra.mcpReq.envelope !== undefined) return confirmByRoundTrip(ctx, extra, message, subject);
  return confirmByRequest(ctx, extra, message);
}

async function confirmByRoundTrip(
  ctx: ToolContext,
  extra: Extra,
  message: string,
  subject: string,
): Promise<Asked> {
  if (!envelopeCapabilities(extra)?.elicitation) return 'unsupported';
  // Every server has a codec (createServer); a context built by hand without one cannot ask.
  if (!ctx.requestState) return 'unsupported';
  const digest = createHash('sha256').update(subject).digest('base64url');
  // The SDK has checked the state's signature, age and caller before this handler ran.
  const state = extra.mcpReq.requestState<ConfirmState>();
  const answer = inputResponse(extra.mcpReq.inputResponses, 'confirm');
  if (state?.subject === digest && answer.kind === 'elicit') {
    if (answer.action === 'accept') return answer.content?.confirm === true ? 'accepted' : 'declined';
    return answer.action === 'decline' ? 'declined' : 'dismissed';
  }
  throw new NeedsInput(
    inputRequired({
      inputRequests: {
        confirm: inputRequired.elicit({ mode: 'form', message, requestedSchema: CONFIRM_SCHEMA }),
      },
      requestState: await ctx.requestState.mint({ subject: digest }, extra),
    }),
  );
}

async function confirmByRequest(ctx: ToolContext, extra: Extra, message: string): Promise<Asked> {
  const peer = ctx.peer;
  // An empty `elicitation: {}` (2025-06-18 clients) is read by the SDK as form support.
  if (!peer?.getClientCapabilities()?.elicitation?.form) return 'unsupported';
  let answer: Awaited<ReturnType<typeof peer.elicitInput>>;
  try {
    answer = await peer.elicitInput(
      { mode: 'form', message, requestedSchema: CONFIRM_SCHEMA },
      { signal: extra.mcpReq.signal, timeout: CONFIRM_TIMEOUT_MS, relatedRequestId: extra.mcpReq.id },
    );
  } catch (err) {
    if (extra.mcpReq.signal.aborted) {
      throw new ToolError('The call was cancelled; nothing was sent.', { kind: 'cancelled' });
    }
    if (err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout) {
      throw new ToolError(
        `Nothing was sent: the user did not answer the confirmation within ${CONFIRM_TIMEOUT_MS / 60_000} minutes.`,
        { kind: 'cancelled' },
      );
    }
    const why = clean(err instanceof ProtocolError || err instanceof Error ? err.message : String(err), 200);
    throw new ToolError(
      `Nothing was sent: the client could not ask the user to confirm${why ? ` (${why})` : ''}.`,
      { kind: 'cancelled' },
    );
  }
  if (answer.action === 'accept') return answer.content?.confirm === true ? 'accepted' : 'declined';
  return answer.action === 'decline' ? 'declined' : 'dismissed';
}

export function confirmationFooter(ctx: ToolContext): string {
  return ctx.demo
    ? `${SHARED_WITH_COMMUNITY}\n(Demo mode: this goes to the local stand-in, not to VirusTotal.)`
    : SHARED_WITH_COMMUNITY;
}
