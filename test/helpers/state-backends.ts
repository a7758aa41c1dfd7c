/**
 * The state backends the contract suite runs against, on real servers: memory, SQLite (temp files
 * under os.tmpdir()) and Redis (VT_TEST_REDIS_URL, with a namespace of its own per run, removed at the
 * end). Also: a transpiled copy of src/vt/state for child processes, and a Redis server of our own.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { MemoryStore } from '../../src/vt/state/memory.js';
import { openRedisStore, type RedisStore } from '../../src/vt/state/redis.js';
import { openSqliteStore, type SqliteStore } from '../../src/vt/state/sqlite.js';
import { keyspace, type StateStore } from '../../src/vt/state/store.js';

export const REDIS_URL = process.env.VT_TEST_REDIS_URL || undefined;
export const REDIS_SKIP_REASON =
  'VT_TEST_REDIS_URL is not set: the Redis state tests are skipped (set it, e.g. redis://127.0.0.1:6379/15, to run them).';

let told = false;
/** Prints once per file why the Redis suites are skipped. */
export function tellRedisSkipped(): void {
  if (REDIS_URL || told) return;
  told = true;
  console.log(REDIS_SKIP_REASON);
}

export const randomApiKey = (label = 'test') => `${label}-${randomBytes(32).toString('hex')}`;

/** A fresh directory under os.tmpdir(), removed by the returned function. */
export function tempDir(label: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `vtbrief-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A per-run Redis namespace; every key the tests write is under `<ns>:`. */
export const REDIS_NAMESPACE = `vtbrief-test-${randomBytes(6).toString('hex')}`;

/** Deletes every key under a namespace (SCAN, then DEL). */
export async function cleanRedis(url: string, namespace: string): Promise<number> {
  const c = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  c.on('error', () => {});
  await c.connect();
  let n = 0;
  try {
    for await (const keys of c.scanIterator({ MATCH: `${namespace}:*`, COUNT: 500 })) {
      if (keys.length > 0) n += await c.del(keys);
    }
  } finally {
    c.destroy();
  }
  return n;
}

export interface Backend {
  name: 'memory' | 'sqlite' | 'redis';
  /** Skip with this reason. */
  skip?: string;
  /** Opens a store on the backend's shared location (same file, same Redis db) for this key. */
  open(apiKey: string, cacheMaxBytes?: number): Promise<StateStore>;
  /** Removes what the suite created (files, keys). */
  cleanup(): Promise<void>;
}

export function memoryBackend(): Backend {
  return {
    name: 'memory',
    open: async (_apiKey, cacheMaxBytes = 1_000_000) => new MemoryStore({ cacheMaxBytes }),
    cleanup: async () => {},
  };
}

export function sqliteBackend(): Backend {
  const t = tempDir('sqlite');
  const path = join(t.dir, 'state.db');
  return {
    name: 'sqlite',
    open: async (apiKey, cacheMaxBytes = 1_000_000) =>
      openSqliteStore({ path, keyspace: keyspace(apiKey), cacheMaxBytes }),
    cleanup: async () => t.remove(),
  };
}

/**
 * SQLite files in a temporary directory, each opened as often as a test likes (every connection stands
 * for a process on that file); close() closes them all and removes the directory.
 */
export function sqliteConnections(label: string, apiKey: string) {
  const t = tempDir(label);
  const open: SqliteStore[] = [];
  return {
    connection(file: string): SqliteStore {
      const s = openSqliteStore({
        path: join(t.dir, file),
        keyspace: keyspace(apiKey),
        cacheMaxBytes: 1e6,
        ownDirectory: false,
        platform: process.platform,
      });
      open.push(s);
      return s;
    },
    close(): void {
      for (const s of open.splice(0)) s.close();
      t.remove();
    },
  };
}

export function redisBackend(): Backend {
  const url = REDIS_URL;
  if (!url) {
    return {
      name: 'redis',
      skip: REDIS_SKIP_REASON,
      open: () => Promise.reject(new Error(REDIS_SKIP_REASON)),
      cleanup: async () => {},
    };
  }
  return {
    name: 'redis',
    open: async (apiKey, cacheMaxBytes = 1_000_000) => {
      const s = await openRedisStore({
        url,
        keyspace: keyspace(apiKey),
        cacheMaxBytes,
        namespace: REDIS_NAMESPACE,
        timeoutMs: 2000,
        connectWaitMs: 3000,
      });
      // With VT_TEST_REDIS_URL set, an unreachable Redis is a failure, not a skip.
      if (!(s as RedisStore).connected) {
        await s.close();
        throw new Error(`VT_TEST_REDIS_URL is set but Redis at ${s.location} does not answer`);
      }
      return s;
    },
    cleanup: async () => {
      await cleanRedis(url, REDIS_NAMESPACE);
    },
  };
}

const repo = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Transpiles src/vt/state/*.ts to JavaScript in a temp directory (ESM, node_modules linked to the
 * repo's), so child processes can import the real modules without a build. TypeScript is loaded here
 * and not at the top: it is a 9 MB module (over a second of CPU to load), and most files that use
 * these helpers never transpile anything.
 */
export async function compileStateModules(): Promise<{ dir: string; remove: () => void }> {
  const { default: ts } = await import('typescript');
  const t = tempDir('state-js');
  writeFileSync(join(t.dir, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(repo, 'node_modules'), join(t.dir, 'node_modules'), 'dir');
  // The state modules and what they import, in the same layout as src/ (vt/state, util).
  for (const sub of ['vt/state', 'util']) {
    const src = join(repo, 'src', sub);
    mkdirSync(join(t.dir, sub), { recursive: true });
    for (const f of readdirSync(src).filter((n) => n.endsWith('.ts'))) {
      const out = ts.transpileModule(readFileSync(join(src, f), 'utf8'), {
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          verbatimModuleSyntax: true,
        },
        fileName: f,
      });
      writeFileSync(join(t.dir, sub, f.replace(/\.ts$/, '.js')), out.outputText);
    }
  }
  return t;
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
/**
 * A port nothing listens on, for a server of our own to take (or for a refused connection). Chosen
 * below Linux's ephemeral range (32768 up): a port the kernel hands out for port 0 may next be taken
 * as the local port of an outgoing connection, or sit in TIME_WAIT after one, and a redis-server
 * started on it then fails to bind (seen under the full suite's load).
 */
export async function closedPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const srv = createServer();
    const free = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise<void>((r) => srv.close(() => r()));
      return port;
    }
  }
}

export function redisServerPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A redis-server of our own on `port` (nothing on disk), ready when the promise resolves. */
export async function startRedisServer(bin: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const c = createClient({
      url: `redis://127.0.0.1:${port}`,
      socket: { connectTimeout: 500, reconnectStrategy: false },
    });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      c.destroy();
      return child;
    } catch {
      c.destroy();
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills a child and waits until it has exited. */
export async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}
