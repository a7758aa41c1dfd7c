/**
 * vt_submit_file checks one file and uploads the same one. A file inside
 * VT_UPLOAD_DIRS is swapped, while the call runs, for a symbolic link to a canary file outside them
 * (or its folder for a link to an outside folder): whatever the timing, the stand-in never receives
 * the canary's bytes, and every call either uploads the original bytes and reports their sha256, or
 * refuses cleanly.
 *
 * Every window deterministically first: the file-system calls the tool makes on the path are recorded,
 * then the call is repeated with the swap made just before the k-th of them, for every k, and with a
 * swap in and a swap back before every pair of them (the check-then-use attack), so every order in
 * which the tool can see the path change between two of its calls is played, whatever the machine's
 * timing. Then the same swaps in real time, at delays and from another process, which also reach into
 * the middle of a call (realpath walks the path one component at a time): those sample, fewer times.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

// Large enough that hashing it takes a few milliseconds: the window the old code left open.
const SIZE = 4 * 1024 * 1024;
// Per delay and per swapping process: samples of real timing, on top of the deterministic windows.
const RUNS = 15;
const ORIGINAL = Buffer.concat([Buffer.from('ORIGINAL '), randomBytes(SIZE - 9)]);
const CANARY = Buffer.concat([Buffer.from('CANARY!! '), randomBytes(SIZE - 9)]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ORIGINAL_SHA = sha(ORIGINAL);
const CANARY_SHA = sha(CANARY);
// What a clean refusal says; anything else (an internal error, an upload of other bytes) fails.
const REFUSAL =
  /outside the directories in VT_UPLOAD_DIRS|No readable file|changed while it was being checked|not a regular file/;

let root: string; // the allowed folder
let outside: string; // the canary's folder, not allowed
let keep: string; // a hard link to the original, to put it back quickly
let h: Harness | undefined;
let flipper: ChildProcess | undefined;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'vt-race-in-'));
  outside = mkdtempSync(join(tmpdir(), 'vt-race-out-'));
  keep = mkdtempSync(join(tmpdir(), 'vt-race-keep-'));
  writeFileSync(join(outside, 'sample.bin'), CANARY);
  writeFileSync(join(keep, 'sample.bin'), ORIGINAL);
});
afterEach(async () => {
  await stopFlipper();
  await h?.close();
  h = undefined;
});
afterAll(() => {
  for (const d of [root, outside, keep]) rmSync(d, { recursive: true, force: true });
});

interface Tally {
  uploaded: number;
  refused: number;
  reasons: Record<string, number>;
}

/** Checks one answer and counts it: an upload must report the sha256 of exactly what the stand-in got. */
function judge(
  hh: Harness,
  r: Awaited<ReturnType<Harness['call']>>,
  postsBefore: number,
  t: Tally,
  expected: { sha: string; size: number; canarySha: string } = {
    sha: ORIGINAL_SHA,
    size: SIZE,
    canarySha: CANARY_SHA,
  },
): void {
  const files = hh.api.submissions.received.filter((x) => x.kind === 'file');
  expect(files.map((f) => f.value)).not.toContain(expected.canarySha);
  if (r.isError) {
    expect(textOf(r)).toMatch(REFUSAL);
    expect(files).toHaveLength(postsBefore);
    t.refused++;
    const reason = REFUSAL.exec(textOf(r))?.[0] ?? '?';
    t.reasons[reason] = (t.reasons[reason] ?? 0) + 1;
    return;
  }
  const reported = (r.structuredContent as { sha256: string }).sha256;
  expect(files).toHaveLength(postsBefore + 1);
  expect(files.at(-1)?.value).toBe(reported);
  expect(reported).toBe(expected.sha);
  expect(files.at(-1)?.bytes).toBe(expected.size);
  t.uploaded++;
}

function putOriginal(path: string): void {
  const tmp = `${path}.restore`;
  rmSync(tmp, { force: true });
  linkSync(join(keep, 'sample.bin'), tmp);
  renameSync(tmp, path); // atomic: the path is always a file or the link, never missing
}

function putLink(path: string): void {
  const tmp = `${path}.swap`;
  rmSync(tmp, { force: true });
  symlinkSync(join(outside, 'sample.bin'), tmp);
  renameSync(tmp, path);
}

function putFifo(path: string): void {
  const tmp = `${path}.fifo`;
  rmSync(tmp, { force: true });
  execFileSync('mkfifo', [tmp]);
  renameSync(tmp, path);
}

/** A second process that keeps swapping `kind` ('file' or 'dir') until stopped. */
function startFlipper(kind: 'file' | 'dir', path: string, original: string, link: string): void {
  const script = `
    const fs = require('node:fs');
    const [kind, path, original, link] = process.argv.slice(1);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const nap = () => Atomics.wait(pause, 0, 0, Math.random() * 3);
    let n = 0;
    for (;;) {
      if (kind === 'file') {
        fs.symlinkSync(link, path + '.s'); fs.renameSync(path + '.s', path); nap();
        fs.linkSync(original, path + '.o'); fs.renameSync(path + '.o', path); nap();
      } else {
        fs.renameSync(path, path + '.real'); fs.symlinkSync(link, path); nap();
        fs.unlinkSync(path); fs.renameSync(path + '.real', path); nap();
      }
      if (++n === 1) process.stdout.write('flipping\\n');
    }`;
  flipper = spawn(process.execPath, ['-e', script, kind, path, original, link], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

async function waitFlipping(): Promise<void> {
  const f = flipper;
  if (!f?.stdout) throw new Error('no flipper');
  await new Promise<void>((resolve, reject) => {
    f.stdout?.once('data', () => resolve());
    f.once('exit', (code) => reject(new Error(`flipper exited with ${code}`)));
  });
}

async function stopFlipper(): Promise<void> {
  const f = flipper;
  flipper = undefined;
  if (!f || f.exitCode !== null) return;
  const gone = new Promise((resolve) => f.once('exit', resolve));
  f.kill('SIGKILL');
  await gone;
}

/**
 * Runs `fn` with the path-taking file-system calls of node:fs/promises (and a file handle's stat)
 * wrapped: `before(i)` runs, synchronously, just before the i-th call made on a path under `under`
 * (or on a descriptor), so a swap made there is seen by that call and not by the one before. The
 * tool imports these functions from node:fs/promises; syncBuiltinESMExports makes its bindings see
 * the wrapped ones, and the originals are put back afterwards.
 */
async function withSteps<T>(under: string, before: (i: number) => void, fn: () => Promise<T>): Promise<T> {
  const fsp = createRequire(import.meta.url)('node:fs/promises') as Record<string, unknown>;
  const saved: Record<string, (...args: unknown[]) => unknown> = {};
  let i = 0;
  const step = (arg: unknown) => {
    const p = String(arg);
    if (p.startsWith(under) || p.startsWith('/proc/self/fd/')) before(i++);
  };
  for (const name of ['realpath', 'lstat', 'stat', 'open', 'readlink']) {
    const f = fsp[name] as (...args: unknown[]) => unknown;
    saved[name] = f;
    fsp[name] = (...args: unknown[]) => {
      step(args[0]);
      return f(...args);
    };
  }
  const probe = await (saved.open as (p: string) => Promise<{ close(): Promise<void> }>)(
    join(keep, 'sample.bin'),
  );
  const proto = Object.getPrototypeOf(probe) as { stat: (...args: unknown[]) => unknown };
  await probe.close();
  const handleStat = proto.stat;
  proto.stat = function (this: unknown, ...args: unknown[]) {
    before(i++);
    return handleStat.apply(this, args);
  };
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    for (const [name, f] of Object.entries(saved)) fsp[name] = f;
    proto.stat = handleStat;
    syncBuiltinESMExports();
  }
}

describe('vt_submit_file: a swap between any two of its file-system calls', () => {
  // Small files: the windows are made, not waited for.
  const SMALL_ORIGINAL = Buffer.from('ORIGINAL small sample');
  const SMALL_CANARY = Buffer.from('CANARY!! small secret');
  const expected = { sha: sha(SMALL_ORIGINAL), size: SMALL_ORIGINAL.length, canarySha: sha(SMALL_CANARY) };

  /** The number of steps of one undisturbed call, which must upload the original. */
  async function steps(hh: Harness, path: string, reset: () => void): Promise<number> {
    reset();
    let n = 0;
    const before = hh.api.submissions.received.length;
    const r = await withSteps(
      root,
      (i) => {
        n = i + 1;
      },
      () => hh.call('vt_submit_file', { path }),
    );
    const t: Tally = { uploaded: 0, refused: 0, reasons: {} };
    judge(hh, r, before, t, expected);
    expect(t.uploaded).toBe(1);
    expect(n).toBeGreaterThanOrEqual(5); // realpath, lstat, open, the handle's stat, the checks after
    return n;
  }

  /** Every single swap, and every swap in and back, between the call's steps. */
  async function everyWindow(
    hh: Harness,
    path: string,
    reset: () => void,
    swapIn: () => void,
    swapBack: () => void,
  ): Promise<Tally> {
    const n = await steps(hh, path, reset);
    const t: Tally = { uploaded: 0, refused: 0, reasons: {} };
    const plans: Array<[number, number | undefined]> = [];
    for (let a = 0; a <= n; a++) {
      plans.push([a, undefined]);
      for (let b = a + 1; b <= n; b++) plans.push([a, b]);
    }
    for (const [a, b] of plans) {
      reset();
      const before = hh.api.submissions.received.length;
      const r = await withSteps(
        root,
        (i) => {
          if (i === a) swapIn();
          if (i === b) swapBack();
        },
        () => hh.call('vt_submit_file', { path }),
      );
      judge(hh, r, before, t, expected);
    }
    expect(t.uploaded + t.refused).toBe(plans.length);
    // Swaps after the last check change nothing: some calls do upload.
    expect(t.uploaded).toBeGreaterThan(0);
    return t;
  }

  let small: string;
  beforeAll(() => {
    small = mkdtempSync(join(tmpdir(), 'vt-race-small-'));
    writeFileSync(join(small, 'original.bin'), SMALL_ORIGINAL);
    writeFileSync(join(outside, 'small.bin'), SMALL_CANARY);
  });
  afterAll(() => {
    rmSync(small, { recursive: true, force: true });
  });

  it('the file swapped for a link to a file outside, and back', async () => {
    const path = join(root, 'steps.bin');
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true', VT_UPLOAD_DIRS: root } });
    const reset = () => {
      rmSync(`${path}.o`, { force: true });
      linkSync(join(small, 'original.bin'), `${path}.o`);
      renameSync(`${path}.o`, path);
    };
    const swapIn = () => {
      rmSync(`${path}.s`, { force: true });
      symlinkSync(join(outside, 'small.bin'), `${path}.s`);
      renameSync(`${path}.s`, path);
    };
    const t = await everyWindow(h, path, reset, swapIn, reset);
    console.log(`file, every window: ${JSON.stringify(t)}`);
  });

  it('a folder on the path swapped for a link to a folder outside, and back', async () => {
    const dir = join(root, 'steps-dir');
    const path = join(dir, 'small.bin');
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true', VT_UPLOAD_DIRS: root } });
    const reset = () => {
      // The real folder back on the path (a link left by a swap goes), with the original in it.
      try {
        unlinkSync(dir);
      } catch {}
      try {
        renameSync(`${dir}.real`, dir);
      } catch {}
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, SMALL_ORIGINAL);
    };
    const swapIn = () => {
      renameSync(dir, `${dir}.real`);
      symlinkSync(outside, dir);
    };
    const swapBack = () => {
      unlinkSync(dir);
      renameSync(`${dir}.real`, dir);
    };
    const t = await everyWindow(h, path, reset, swapIn, swapBack);
    console.log(`folder, every window: ${JSON.stringify(t)}`);
    reset();
  });

  it('the file swapped for a FIFO before any of its steps: never stuck on it, never other bytes', async () => {
    const path = join(root, 'steps-fifo.bin');
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true', VT_UPLOAD_DIRS: root } });
    const reset = () => {
      rmSync(`${path}.o`, { force: true });
      linkSync(join(small, 'original.bin'), `${path}.o`);
      renameSync(`${path}.o`, path);
    };
    const n = await steps(h, path, reset);
    const t: Tally = { uploaded: 0, refused: 0, reasons: {} };
    for (let a = 0; a <= n; a++) {
      reset();
      const before = h.api.submissions.received.length;
      const r = await withSteps(
        root,
        (i) => {
          if (i === a) putFifo(path);
        },
        () => h?.call('vt_submit_file', { path }) as ReturnType<Harness['call']>,
      );
      judge(h, r, before, t, expected);
    }
    console.log(`FIFO, every step: ${JSON.stringify(t)}`);
    // Each call came back (none stuck opening or reading the FIFO), with the original or a refusal.
    expect(t.uploaded + t.refused).toBe(n + 1);
    expect(t.reasons['not a regular file']).toBeGreaterThan(0);
  });
});

describe('vt_submit_file under a symlink swap', () => {
  for (const delay of [0, 1, 5, 20]) {
    it(`never uploads the outside file when the file is swapped ${delay} ms into the call`, async () => {
      const path = join(root, `at-${delay}ms.bin`);
      h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true', VT_UPLOAD_DIRS: root } });
      const t: Tally = { uploaded: 0, refused: 0, reasons: {} };
      for (let i = 0; i < RUNS; i++) {
        putOriginal(path);
        const before = h.api.submissions.received.length;
        const call = h.call('vt_submit_file', { path });
        const swapped = new Promise<void>((resolve) =>
          setTimeout(() => {
            putLink(path);
            resolve();
          }, delay),
        );
        const [r] = await Promise.all([call, swapped]);
        judge(h, r, before, t);
      }
      console.log(`swap at ${delay} ms: ${JSON.stringify(t)}`);
      expect(t.uploaded + t.refused).toBe(RUNS);
      expect(h.api.submissions.received.map((x) => x.value)).not.toContain(CANARY_SHA);
    }, 60_000);
  }

  it('refuses a FIFO, there from the start or swapped in, without hanging on it', async () => {
    const path = join(root, 'fifo.bin');
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true', VT_UPLOAD_DIRS: root } });
    putFifo(path);
    const r = await h.call('vt_submit_file', { path });
    expect(textOf(r)).toMatch(/not a regular file/);
    const t: Tally = { uploaded: 0, refused: 0, reasons: {} };
    for (const delay of [0, 1, 5]) {
      for (let i = 0; i < 10; i++) {
        putOriginal(path);
        const before = h.api.submissions.received.length;
        const call = h.call('vt_submit_file', { path });
        const swapped = new Promise<void>((resolve) =>
          setTimeout(() => {
            putFifo(path);
            resolve();
          }, delay),
        );
        const [res] = await Promise.all([call, swapped]);
        judge(h, res, before, t);
      }
    }
    console.log(`swapped for a FIFO: ${JSON.stringify(t)}`);
  }, 60_000);

  it('never uploads the outside file while another process keeps swapping it during the calls', async () => {
    const path = join(root, 'flipped.bin');
    putOriginal(path);
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true', VT_UPLOAD_DIRS: root } });
    startFlipper('file', path, join(keep, 'sample.bin'), join(outside, 'sample.bin'));
    await waitFlipping();
    const t: Tally = { uploaded: 0, refused: 0, reasons: {} };
    for (let i = 0; i < RUNS; i++) {
      const before = h.api.submissions.received.length;
      judge(h, await h.call('vt_submit_file', { path }), before, t);
    }
    await stopFlipper();
    console.log(`file swapped by another process: ${JSON.stringify(t)}`);
    expect(t.uploaded + t.refused).toBe(RUNS);
  }, 60_000);

  it('never uploads the outside file while another process swaps a folder on the path for a link', async () => {
    const sub = join(root, 'sub');
    mkdirSync(sub);
    writeFileSync(join(sub, 'sample.bin'), ORIGINAL);
    h = await startHarness({ env: { VT_ENABLE_SUBMISSIONS: 'true', VT_UPLOAD_DIRS: root } });
    startFlipper('dir', sub, '', outside);
    await waitFlipping();
    const t: Tally = { uploaded: 0, refused: 0, reasons: {} };
    for (let i = 0; i < RUNS; i++) {
      const before = h.api.submissions.received.length;
      judge(h, await h.call('vt_submit_file', { path: join(sub, 'sample.bin') }), before, t);
    }
    await stopFlipper();
    console.log(`folder swapped by another process: ${JSON.stringify(t)}`);
    expect(t.uploaded + t.refused).toBe(RUNS);
    // Left as it was found, whichever way the flipper stopped.
    try {
      unlinkSync(sub);
      renameSync(`${sub}.real`, sub);
    } catch {}
  }, 60_000);
});
