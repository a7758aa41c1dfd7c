/**
 * One shape for every tool (after sentry-mcp's defineTool): name, description, schemas and all
 * four annotations side by side, and a handler that returns an Answer: its structured summary (typed
 * by the output schema) and how to say it. respond() turns it into the result, and failures into
 * answers, in one place.
 */
import {
  type CallToolResult,
  isSpecType,
  type McpServer,
  type ServerContext as RequestContext,
  type StandardSchemaWithJSON,
  type Tool,
  type ToolAnnotations,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { ToolContext } from '../answers/context.js';
import { type Answer, errorResult, respond } from '../answers/respond.js';
import { NeedsInput } from './confirm.js';

/** What the SDK tells a handler about its request: the caller's signal, _meta, era and ways to notify. */
export type Extra = RequestContext;

export interface ToolDefinition<
  I extends z.ZodRawShape = z.ZodRawShape,
  O extends z.ZodObject = z.ZodObject,
> {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  /** The structured summary's schema; every tool's listed output schema adds `truncated` to it. */
  outputSchema: O;
  /** All four hints are required: a missing hint defaults to the unsafe reading. */
  annotations: Required<
    Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint' | 'openWorldHint'>
  >;
  // A method, so that a list of tools with different schemas can be typed as ToolDefinition[].
  handler(
    args: z.infer<z.ZodObject<I>>,
    ctx: ToolContext,
    extra: Extra,
  ): Promise<Answer<z.infer<O>> | ProtocolAnswer>;
}

/**
 * An answer that is not a summary: a task handle (triage-tasks.ts) the client follows with tasks/get.
 * Sent as it is.
 */
export interface ProtocolAnswer {
  protocolAnswer: Record<string, unknown>;
}

export function defineTool<I extends z.ZodRawShape, O extends z.ZodObject>(
  def: ToolDefinition<I, O>,
): ToolDefinition<I, O> {
  return def;
}

/** What respond() records when the structure had to be cut: items left out, per list ("items": 12). */
const truncatedSchema = z.record(z.string(), z.number());

const OUTPUTS = new WeakMap<ToolDefinition, z.ZodObject>();

/** The output schema as listed and checked: the tool's own, plus `truncated`. */
export function outputSchemaOf(def: ToolDefinition): z.ZodObject {
  let schema = OUTPUTS.get(def);
  if (!schema) {
    schema = def.outputSchema.extend({ truncated: truncatedSchema.optional() });
    OUTPUTS.set(def, schema);
  }
  return schema;
}

/** A tool's arguments as its input schema gives them (each tool's handler narrows them further). */
type ToolArgs = z.output<z.ZodObject<z.ZodRawShape>>;
type InputSchema = StandardSchemaWithJSON<z.input<z.ZodObject<z.ZodRawShape>>, ToolArgs>;

const INPUTS = new WeakMap<ToolDefinition, InputSchema>();

/** What the SDK passes when it asks a schema for its JSON form (the target draft, mainly). */
type JsonSchemaOptions = Parameters<StandardSchemaWithJSON['~standard']['jsonSchema']['input']>[0];

/**
 * The input schema as the SDK checks it, built once per tool: over HTTP a server is built per request,
 * and the SDK asks each new one for the schema's JSON form on every 2026-07-28 call (to check the
 * headers that mirror parameters), which zod would work out anew each time. zod validates; the JSON
 * form is worked out once per target.
 */
function inputSchemaOf(def: ToolDefinition): InputSchema {
  let schema = INPUTS.get(def);
  if (!schema) {
    const zod = z.object(def.inputSchema);
    const std = zod['~standard'];
    const json = new Map<string, Record<string, unknown>>();
    const once =
      (io: 'input' | 'output') =>
      (opts: JsonSchemaOptions): Record<string, unknown> => {
        const key = `${io}:${opts.target}`;
        let out = json.get(key);
        if (!out) {
          out = std.jsonSchema[io](opts);
          json.set(key, out);
        }
        return out;
      };
    schema = {
      '~standard': {
        version: 1,
        vendor: std.vendor,
        validate: std.validate,
        jsonSchema: { input: once('input'), output: once('output') },
      },
    };
    INPUTS.set(def, schema);
  }
  return schema;
}

export function registerTool(server: McpServer, ctx: ToolContext, def: ToolDefinition): void {
  server.registerTool(
    def.name,
    {
      title: def.title,
      description: def.description,
      inputSchema: inputSchemaOf(def),
      // No output schema for the SDK: respond() checks the structure itself, and a tool that answers
      // with a task (vt_triage) has none in that answer, which the SDK would refuse. tools/list shows
      // the schema all the same (listEntry).
      annotations: { title: def.title, ...def.annotations },
    },
    async (args, extra) => {
      // Active clients share the day with the jobs of others (vt/fair-share.ts).
      ctx.triage?.fairShare.seen(ctx.caller);
      try {
        const answer = await def.handler(args, ctx, extra);
        // A task handle, which the SDK's type for a tool's result does not admit (its tasks are its own).
        if ('protocolAnswer' in answer) return answer.protocolAnswer as CallToolResult;
        return respond(ctx, answer, outputSchemaOf(def));
      } catch (err) {
        // A question for the user (2026-07-28): the call comes back with the answer.
        if (err instanceof NeedsInput) return err.result;
        return errorResult(err, ctx, def.name);
      }
    },
  );
}

/**
 * The tools/list entry of a tool, as the model reads it. The SDK's own listing adds a "$schema" URL
 * to every schema and an "execution" block; neither helps a model, and every listed character is paid
 * by every conversation, so the server lists this leaner form instead.
 */
export function listEntry(def: ToolDefinition): Tool {
  // Computed once per tool: over HTTP a server is built for every request.
  let entry = LISTED.get(def);
  if (!entry) {
    entry = buildListEntry(def);
    LISTED.set(def, entry);
  }
  return entry;
}

const LISTED = new WeakMap<ToolDefinition, Tool>();

function buildListEntry(def: ToolDefinition): Tool {
  const schema = (s: z.ZodObject, io: 'input' | 'output') => {
    // Output schemas name a repeated part once (under "definitions") rather than spelling it out each time.
    const json = z.toJSONSchema(s, { target: 'draft-7', io });
    delete json.$schema;
    return json;
  };
  const entry = {
    name: def.name,
    title: def.title,
    description: def.description,
    inputSchema: schema(z.object(def.inputSchema), 'input'),
    outputSchema: schema(outputSchemaOf(def), 'output'),
    annotations: def.annotations,
  };
  // The SDK's own check of a listed tool, which types the entry as one (and is never false for these).
  if (!isSpecType.Tool(entry)) throw new Error(`${def.name}: the tools/list entry is not a valid tool`);
  return entry;
}
