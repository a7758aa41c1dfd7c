/**
 * Where vtbrief keeps its files by default: the user's cache directory ($XDG_CACHE_HOME when absolute,
 * or ~/.cache, on Linux and other Unixes; ~/Library/Caches on macOS; %LOCALAPPDATA% on Windows), then
 * vtbrief/. Computes only: creates nothing. Imports nothing heavy: the bin reads it before anything else.
 */
import { homedir as osHomedir } from 'node:os';
import { posix, win32 } from 'node:path';

export interface PathContext {
  env: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Defaults to os.homedir(). */
  homedir?: string;
}

const APP_DIR = 'vtbrief';
const FILE_NAME = 'state.db';

export function home(ctx: PathContext): string | undefined {
  if (ctx.homedir !== undefined) return ctx.homedir || undefined;
  try {
    return osHomedir() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The default file: $XDG_CACHE_HOME (when absolute) or ~/.cache on Linux and other Unixes,
 * ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows; then vtbrief/state.db. Undefined when no
 * home directory is known. Computes only: creates nothing.
 */
export function defaultStatePath(ctx: PathContext): string | undefined {
  const platform = ctx.platform ?? process.platform;
  const h = home(ctx);
  if (platform === 'win32') {
    const local = ctx.env.LOCALAPPDATA;
    const base = local && win32.isAbsolute(local) ? local : h ? win32.join(h, 'AppData', 'Local') : undefined;
    return base ? win32.join(base, APP_DIR, FILE_NAME) : undefined;
  }
  if (platform === 'darwin') return h ? posix.join(h, 'Library', 'Caches', APP_DIR, FILE_NAME) : undefined;
  const xdg = ctx.env.XDG_CACHE_HOME;
  const base = xdg && posix.isAbsolute(xdg) ? xdg : h ? posix.join(h, '.cache') : undefined;
  return base ? posix.join(base, APP_DIR, FILE_NAME) : undefined;
}

/**
 * Where the bin keeps Node's module compile cache: beside the state file, in the user's own directory.
 * Node's default is under os.tmpdir(), which other users of the machine can write first and so plant
 * compiled code the server would run.
 */
export function compileCacheDir(ctx: PathContext): string | undefined {
  const state = defaultStatePath(ctx);
  if (state === undefined) return undefined;
  const path = (ctx.platform ?? process.platform) === 'win32' ? win32 : posix;
  return path.join(path.dirname(state), 'compile-cache');
}
