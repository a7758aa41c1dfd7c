/**
 * Values whose type nothing vouches for (parsed JSON, a request body, a thrown error), read without
 * casting them.
 */

/** A parsed JSON object: its fields are still read as unknown. */
export type Json = Record<string, unknown>;

/** Whether `v` is a JSON object (not null, not an array). */
export function isJson(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v` when it is a JSON object, else undefined. */
export function jsonObject(v: unknown): Json | undefined {
  return isJson(v) ? v : undefined;
}

/**
 * A property of a value of unknown shape, as `value.key` would read it: undefined when the value is
 * not an object (null, undefined, a string thrown as an error).
 */
export function field(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' || value === null) && typeof value !== 'function') return undefined;
  return Reflect.get(value, key);
}
