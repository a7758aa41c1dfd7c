/** What a 2026-07-28 request says of its client in its own envelope (a 2025 client said it at initialize). */
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type ServerContext as RequestContext,
  specTypeSchemas,
} from '@modelcontextprotocol/server';

/**
 * The capabilities a 2026-07-28 request's client declared; undefined for a 2025 request. The SDK types
 * the envelope as an open record (though it has checked the declaration on arrival), so the value is
 * found by its key and read through the SDK's own schema rather than taken on trust.
 */
export function envelopeCapabilities(extra: RequestContext): ClientCapabilities | undefined {
  const envelope = extra.mcpReq.envelope;
  if (envelope === undefined || !(CLIENT_CAPABILITIES_META_KEY in envelope)) return undefined;
  const checked = specTypeSchemas.ClientCapabilities['~standard'].validate(
    envelope[CLIENT_CAPABILITIES_META_KEY],
  );
  return checked.issues === undefined ? checked.value : undefined;
}
