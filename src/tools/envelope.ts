/** What a 2026-07-28 request says of its client in its own envelope (a 2025 client said it at initialize). */
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type ServerContext as RequestContext,
} from '@modelcontextprotocol/server';

/**
 * The capabilities a 2026-07-28 request's client declared; undefined for a 2025 request. Read, not
 * trusted: the SDK types the envelope as an open record.
 */
export function envelopeCapabilities(extra: RequestContext): ClientCapabilities | undefined {
  const envelope = extra.mcpReq.envelope as Record<string, ClientCapabilities | undefined> | undefined;
  return envelope?.[CLIENT_CAPABILITIES_META_KEY];
}
