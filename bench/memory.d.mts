/** Types for bench/memory.mjs, which the memory test imports. */
export function memoryTemplates(): string[];
export function startMemoryStandIn(): Promise<{ url: string; close: () => void }>;
export function nthHash(n: number): string;
export interface ServerMemory {
  baseline: number;
  peak: number;
  end: number;
  ms: number;
  cpu: number;
}
export function serverMemory(opts: {
  lookups: number;
  cacheMb?: number;
  env?: Record<string, string>;
  nodeArgs?: string[];
}): Promise<ServerMemory>;
export function describeMemory(label: string, r: ServerMemory, cacheMb?: number): string;
