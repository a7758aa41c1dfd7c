/**
 * One shape for every tool (after sentry-mcp's defineTool): name, description, schemas and all
 * four annotations side by side, and a handler whose failures are turned into answers in one place.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolResult,
  ServerNotification,
  ServerRequest,
  ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ToolContext } from './context.js';
import { errorResult } from './respond.js';

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ToolDefinition<
  I extends z.ZodRawShape = z.ZodRawShape,
  O extends z.ZodRawShape = z.ZodRawShape,
> {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  outputSchema: O;
  /** All four hints are required: a missing hint defaults to the unsafe reading. */
  annotations: Required<
    Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint' | 'openWorldHint'>
  >;
  // A method, so that a list of tools with different schemas can be typed as ToolDefinition[].
  handler(args: z.infer<z.ZodObject<I>>, ctx: ToolContext, extra: Extra): Promise<CallToolResult>;
}

export function defineTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(
  def: ToolDefinition<I, O>,
): ToolDefinition<I, O> {
  return def;
}

export function registerTool(server: McpServer, ctx: ToolContext, def: ToolDefinition): void {
  server.registerTool(
    def.name,
    {
      title: def.title,
      description: def.description,
      inputSchema: def.inputSchema,
      outputSchema: def.outputSchema,
      annotations: { title: def.title, ...def.annotations },
    },
    // biome-ignore lint/suspicious/noExplicitAny: the SDK's callback type is generic over the schema.
    (async (args: any, extra: Extra) => {
      try {
        return await def.handler(args, ctx, extra);
      } catch (err) {
        return errorResult(err, ctx.log, def.name, ctx.demo);
      }
    }) as never,
  );
}

/**
 * The tools/list entry of a tool, as the model reads it. The SDK's own listing adds a "$schema" URL
 * to every schema and an "execution" block; neither helps a model, and every listed character is paid
 * by every conversation, so the server lists this leaner form instead.
 */
export function listEntry(def: ToolDefinition): Record<string, unknown> {
  // Computed once per tool: over HTTP a server is built for every request.
  let entry = LISTED.get(def);
  if (!entry) {
    entry = buildListEntry(def);
    LISTED.set(def, entry);
  }
  return entry;
}

const LISTED = new WeakMap<ToolDefinition, Record<string, unknown>>();

function buildListEntry(def: ToolDefinition): Record<string, unknown> {
  const schema = (shape: z.ZodRawShape, io: 'input' | 'output') => {
    const json = z.toJSONSchema(z.object(shape), { target: 'draft-7', io }) as Record<string, unknown>;
    delete json.$schema;
    return json;
  };
  return {
    name: def.name,
    title: def.title,
    description: def.description,
    inputSchema: schema(def.inputSchema, 'input'),
    outputSchema: schema(def.outputSchema, 'output'),
    annotations: def.annotations,
  };
}
