/**
 * Atomic file writes: a crash or a full disk never leaves a half-written output at the
 * final path. Data goes to a uniquely named temp file in the same directory (so the
 * rename cannot cross file systems), is flushed to disk, then renamed over the target.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OutputNotWritableError } from '../../common/errors.ts';

/** Temp name beside `path`: `.name.<pid>.<random>.tmp`, hidden and matched by `*.tmp` ignores. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Write `data` (a string is written as UTF-8) to `path` atomically. On any failure the
 * temp file is removed and an `OutputNotWritableError` is thrown, e.g.
 * "out/x.obj: cannot write (EACCES)". The parent directory must exist.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tempPath = tempPathFor(path);
  let created = false;
  try {
    const handle = await open(tempPath, 'wx', 0o644);
    created = true;
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, path);
    created = false;
  } catch (error) {
    if (created) await rm(tempPath, { force: true }).catch(() => undefined);
    throw notWritable(path, error);
  }
  await syncDirectory(dirname(path));
}

/**
 * Create `dir` (and its parents) when missing and check that files can be written in it.
 * Throws `OutputNotWritableError` ("out: cannot write (ENOTDIR)") otherwise.
 */
export async function ensureWritableDirectory(dir: string): Promise<void> {
  try {
    await makeDirectories(dir);
    const info = await stat(dir);
    if (!info.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw notWritable(dir, error);
  }
}

/**
 * `mkdir -p` that always terminates. Node's own `mkdir(dir, { recursive: true })` spins
 * forever where a parent exists but refuses children with ENOENT (e.g. under /proc).
 * An existing path, file or folder, is left for the caller to check.
 */
export async function makeDirectories(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    await makeDirectories(parent);
    await mkdir(dir).catch((again) => {
      if (again.code !== 'EEXIST') throw again;
    });
  }
}

/** Wrap a file-system error as the one-line user error; keeps the cause for debugging. */
export function notWritable(path: string, error: unknown): OutputNotWritableError {
  if (error instanceof OutputNotWritableError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? (error as Error | undefined)?.message ?? 'unknown error';
  return new OutputNotWritableError(`${path}: cannot write (${code})`, { cause: error });
}

/** Make the rename itself durable. Best effort: some file systems refuse to fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The data is already in place; only durability across a power cut is at stake.
  }
}
