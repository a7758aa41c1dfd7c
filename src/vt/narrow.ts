/**
 * A JSON body as the type its caller names. Nothing here can check a type the caller chooses: the
 * callers read VirusTotal's bodies through their own zod schemas (api.ts) or guards, and a body typed
 * `unknown` stays so. The one cast of a body to a caller's type is here.
 */
export function unchecked<T>(body: unknown): T {
  return body as T;
}
