/**
 * The MCP client every test uses: the SDK's own Client, validating structured content against each
 * tool's outputSchema with the SDK's own Ajv validator, as a real client does.
 *
 * The one difference: a client compiles every output schema anew each time it lists tools (about
 * 15 schemas, 100–300 ms of CPU per listing), and the suite lists tools a few hundred times. Here the
 * compiled validators are kept by the schema's JSON text and shared by every client in the worker, so
 * each distinct schema is compiled once. Validation itself is unchanged: the same Ajv, the same schema.
 */
import { Client, type ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import type { Implementation } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator,
} from '@modelcontextprotocol/sdk/validation/types.js';

class CompiledOnce implements jsonSchemaValidator {
  private readonly ajv = new AjvJsonSchemaValidator();
  private readonly compiled = new Map<string, JsonSchemaValidator<unknown>>();

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    const key = JSON.stringify(schema);
    let validator = this.compiled.get(key);
    if (!validator) {
      validator = this.ajv.getValidator<unknown>(schema);
      this.compiled.set(key, validator);
    }
    return validator as JsonSchemaValidator<T>;
  }
}

const shared = new CompiledOnce();

/** The compiled validator of a JSON Schema, shared as the test clients share theirs. */
export function compiledValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
  return shared.getValidator<T>(schema);
}

export function testClient(info: Implementation, options: ClientOptions = {}): Client {
  return new Client(info, { jsonSchemaValidator: shared, ...options });
}
