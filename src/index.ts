#!/usr/bin/env node
/**
 * Entry point: turns on Node's module compile cache, then starts the server (main.ts), which reads the
 * configuration, wires the VT runtime to the MCP server and serves on stdio or Streamable HTTP.
 */
import { mkdirSync } from 'node:fs';
import module from 'node:module';
import { dirname } from 'node:path';
import { compileCacheDir } from './vt/state/location.js';

// Node's module compile cache (Node 22.1+; absent before, hence `?.`): V8's compiled code of every module
// loaded after this call is kept on disk and reused by the next start, which then skips most of the parsing
// and compiling that dominate a cold start. ES modules imported statically are evaluated before this
// module's body runs, so the server is imported dynamically, after the cache is on. The directory
// is NODE_COMPILE_CACHE when set, else compile-cache/ beside the state file in the user's own cache
// directory (created 0700): not Node's default under os.tmpdir(), where another user of the machine could
// create it first and plant code, nor the package's own, which may be read-only.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. A failure (no writable directory) only means no cache.
try {
  if (module.enableCompileCache && !process.env.NODE_DISABLE_COMPILE_CACHE) {
    const given = process.env.NODE_COMPILE_CACHE;
    const dir = given || compileCacheDir({ env: process.env });
    if (dir) {
      if (!given) mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
      module.enableCompileCache(dir);
    }
  }
} catch {
  // An older or unusual Node, or no home to write in: start without the cache.
}

await import('./main.js');
