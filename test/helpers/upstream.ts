/**
 * Hooks for the stand-in VT API (RecordedApiOptions.hook) that play upstream failures, plus
 * output-schema validation of tool answers as a client would do it.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { JsonSchemaType } from '@modelcontextprotocol/sdk/validation/types.js';
import { type RequestHook, type StandInRequest, send } from '../../src/demo/recorded-api.js';
import { compiledValidator } from './client.js';

/** Text no answer may ever show: it stands for whatever else an upstream body carries. */
export const RAW_BODY_MARKER = 'RAW-UPSTREAM-BODY-7f3a9c';

/** Answers every request with this status and JSON body. */
export function answerJson(status: number, body: unknown, headers: Record<string, string> = {}): RequestHook {
  return (_req, res) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    send(res, status, body);
    return true;
  };
}

/** Answers every request with a body that is not JSON. */
export function answerRaw(status: number, text: string, contentType = 'text/html'): RequestHook {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return true;
  };
}

/** Takes the request and never answers (the stand-in's close() drops the connection). */
export function neverAnswer(): RequestHook {
  return () => true;
}

/** Lets the stand-in answer as recorded, keeping each request (headers included). */
export function recordInto(seen: StandInRequest[]): RequestHook {
  return (req) => {
    seen.push(req);
    return false;
  };
}

/** VT's error body for a code, with the marker in its message. */
export function vtError(code: string, message = `${RAW_BODY_MARKER} ${code} from upstream`): unknown {
  return { error: { code, message } };
}

export type OutputCheck = (structured: unknown) => { valid: boolean; errorMessage?: string | undefined };

/** Validates structuredContent against a tool's outputSchema as listed by tools/list. */
export async function outputSchemaOf(client: Client, tool: string): Promise<OutputCheck> {
  const { tools } = await client.listTools();
  const t = tools.find((x) => x.name === tool);
  if (!t?.outputSchema) throw new Error(`${tool} is not listed with an outputSchema`);
  // Compiled once per schema, as the test clients' own validators are (helpers/client.ts).
  const validate = compiledValidator(t.outputSchema as JsonSchemaType);
  return (structured) => validate(structured);
}

/** The outputSchema check as an assertion message: undefined when the answer conforms. */
export function schemaProblem(check: OutputCheck, r: CallToolResult): string | undefined {
  if (r.structuredContent === undefined) return 'no structuredContent';
  const v = check(r.structuredContent);
  return v.valid ? undefined : (v.errorMessage ?? 'invalid');
}
