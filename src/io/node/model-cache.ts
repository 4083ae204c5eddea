/**
 * Download-on-first-use for pinned model files, with a per-user cache and an offline switch.
 *
 * Layout: `<cacheDir>/<bundle.name>/<file.path>` plus `.facegar-bundle.json`, a marker listing
 * every file's sha256 and size. A file is only ever renamed into place after its sha256 was
 * checked, so a file at its final path is always a verified one; the marker lets a later call
 * skip re-hashing (it checks names and sizes only, which is instant).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { ModelUnavailableError, invalidParameterError } from '../../common/errors.ts';
import { makeDirectories, notWritable, writeFileAtomic } from './atomic-write.ts';

/** One file of a bundle. */
export interface RemoteFile {
  /** Path relative to the bundle root and to each base URL, '/'-separated. */
  path: string;
  /** Lower-case hex sha256 of the file's exact bytes. */
  sha256: string;
  /** Size in bytes, when known: used for progress totals and the quick cache check. */
  bytes?: number;
}

/** A pinned set of files, fetched from the first base URL that serves each one. */
export interface RemoteBundle {
  /** Cache folder name; change it when the pinned files change. */
  name: string;
  /** Tried in order for every file; each ends with or without '/'. */
  baseUrls: string[];
  files: RemoteFile[];
}

export interface EnsureBundleOptions {
  /** Default: defaultCacheDir(). */
  cacheDir?: string;
  /** Never touch the network; default true when FACEGAR_OFFLINE=1. */
  offline?: boolean;
  /** Called as bytes arrive: totals over the files this call downloads. doneBytes steps back
   * when a source fails part-way and the next one is tried. */
  onProgress?: (doneBytes: number, totalBytes: number, file: string) => void;
  /** For tests and custom transports. Default: the global fetch. */
  fetchImpl?: typeof fetch;
}

const MARKER_NAME = '.facegar-bundle.json';
/** A download that receives nothing for this long is abandoned (then the next URL is tried). */
const STALL_TIMEOUT_MS = 60_000;

/** $FACEGAR_CACHE_DIR, else $XDG_CACHE_HOME/facegar, else ~/.cache/facegar. */
export function defaultCacheDir(): string {
  if (process.env.FACEGAR_CACHE_DIR) return process.env.FACEGAR_CACHE_DIR;
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, 'facegar');
  return join(homedir(), '.cache', 'facegar');
}

/**
 * Make sure every file of `bundle` is in the cache, downloading missing ones, and return
 * the directory that holds them. Throws ModelUnavailableError when a file cannot be had:
 * offline with files missing, every URL failing, or a checksum mismatch (the bad download
 * is deleted; the message names the file and both hashes); OutputNotWritableError when
 * the cache directory cannot be written.
 */
export async function ensureBundle(bundle: RemoteBundle, options: EnsureBundleOptions = {}): Promise<string> {
  checkBundle(bundle);
  const dir = join(options.cacheDir ?? defaultCacheDir(), bundle.name);
  const expectedMarker = markerText(bundle);
  if (await markerMatches(dir, expectedMarker, bundle)) return dir;

  const missing: RemoteFile[] = [];
  for (const file of bundle.files) {
    if (!(await fileIsVerified(join(dir, file.path), file))) missing.push(file);
  }
  if (missing.length > 0) {
    const offline = options.offline ?? process.env.FACEGAR_OFFLINE === '1';
    if (offline) {
      throw new ModelUnavailableError(
        `${bundle.name}: ${missing.length} of ${bundle.files.length} files missing from ${dir} (first: ${missing[0].path}) ` +
          `and downloads are off (offline); pass --model DIR or set FACEGAR_MODEL_DIR to a folder with the files, ` +
          `put them in ${dir}, or run once online`,
      );
    }
    await downloadAll(bundle, missing, dir, options);
  }
  try {
    await writeFileAtomic(join(dir, MARKER_NAME), expectedMarker);
  } catch {
    // Without the marker the next call re-hashes the files: slower, still correct.
  }
  return dir;
}

async function downloadAll(bundle: RemoteBundle, files: RemoteFile[], dir: string, options: EnsureBundleOptions): Promise<void> {
  const fetchImpl = options.fetchImpl ?? globalThis.fetch;
  let totalBytes = files.reduce((sum, f) => sum + (f.bytes ?? 0), 0);
  let doneBytes = 0;
  const progress = {
    addTotal(extra: number) {
      totalBytes += extra;
    },
    advance(bytes: number, file: string) {
      doneBytes += bytes;
      options.onProgress?.(doneBytes, totalBytes, file);
    },
    rewind(bytes: number) {
      doneBytes -= bytes;
    },
  };
  for (const file of files) {
    const finalPath = join(dir, file.path);
    try {
      await makeDirectories(dirname(finalPath));
    } catch (error) {
      throw notWritable(dirname(finalPath), error);
    }
    await downloadOne(bundle, file, finalPath, fetchImpl, progress);
  }
}

interface Progress {
  addTotal(extra: number): void;
  advance(bytes: number, file: string): void;
  rewind(bytes: number): void;
}

/** Try each base URL in turn; the first that yields the right bytes wins. */
async function downloadOne(bundle: RemoteBundle, file: RemoteFile, finalPath: string, fetchImpl: typeof fetch, progress: Progress): Promise<void> {
  const label = `${bundle.name}/${file.path}`;
  const failures: string[] = [];
  let checksumFailure: string | undefined;
  for (const base of bundle.baseUrls) {
    const url = joinUrl(base, file.path);
    const tempPath = `${finalPath}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
    let received = 0;
    try {
      const sha256 = await fetchToFile(url, tempPath, fetchImpl, file, progress, (n) => {
        received += n;
      });
      if (sha256 !== file.sha256) {
        checksumFailure ??= `checksum mismatch from ${url} (expected sha256 ${file.sha256}, got ${sha256}); download deleted`;
        throw new Error('checksum mismatch');
      }
      await rename(tempPath, finalPath).catch((error) => {
        throw new WriteFailure(finalPath, error);
      });
      return;
    } catch (error) {
      await rm(tempPath, { force: true }).catch(() => undefined);
      progress.rewind(received);
      if (error instanceof WriteFailure) throw notWritable(error.path, error.cause);
      failures.push(`${url}: ${describeFailure(error)}`);
    }
  }
  const hint = 'pass --model DIR or set FACEGAR_MODEL_DIR to use a local copy';
  if (checksumFailure) {
    const others = failures.filter((f) => !f.endsWith(': checksum mismatch'));
    throw new ModelUnavailableError(`${label}: ${checksumFailure}${others.length ? `; other sources: ${others.join('; ')}` : ''}`);
  }
  throw new ModelUnavailableError(`${label}: download failed (${failures.join('; ')}); ${hint}`);
}

/** A local file-system failure while downloading: reported as OutputNotWritableError, not retried. */
class WriteFailure extends Error {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(`cannot write ${path}`, { cause });
  }
}

/** Stream `url` into `tempPath`, hashing as it goes. Rejects on HTTP errors, cut connections and stalls. */
async function fetchToFile(
  url: string,
  tempPath: string,
  fetchImpl: typeof fetch,
  file: RemoteFile,
  progress: Progress,
  onBytes: (n: number) => void,
): Promise<string> {
  const abort = new AbortController();
  let stallTimer = setTimeout(() => abort.abort(new Error('stalled')), STALL_TIMEOUT_MS);
  const resetStallTimer = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => abort.abort(new Error('stalled')), STALL_TIMEOUT_MS);
  };
  try {
    const response = await fetchImpl(url, { signal: abort.signal, redirect: 'follow' });
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`HTTP ${response.status}`);
    }
    if (file.bytes === undefined) {
      const length = Number(response.headers.get('content-length'));
      if (Number.isFinite(length) && length > 0) progress.addTotal(length);
    }
    const hash = createHash('sha256');
    const handle = await open(tempPath, 'wx', 0o644).catch((error) => {
      throw new WriteFailure(tempPath, error);
    });
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        resetStallTimer();
        hash.update(chunk);
        await handle.write(chunk).catch((error) => {
          throw new WriteFailure(tempPath, error);
        });
        onBytes(chunk.length);
        progress.advance(chunk.length, file.path);
      }
      await handle.sync().catch((error) => {
        throw new WriteFailure(tempPath, error);
      });
    } finally {
      await handle.close();
    }
    return hash.digest('hex');
  } finally {
    clearTimeout(stallTimer);
  }
}

/** Quick check: marker equal to this bundle's and every file present with the listed size. */
async function markerMatches(dir: string, expected: string, bundle: RemoteBundle): Promise<boolean> {
  const text = await readFile(join(dir, MARKER_NAME), 'utf8').catch(() => undefined);
  if (text !== expected) return false;
  for (const file of bundle.files) {
    const info = await stat(join(dir, file.path)).catch(() => undefined);
    if (!info?.isFile() || (file.bytes !== undefined && info.size !== file.bytes)) return false;
  }
  return true;
}

/** Full check of a cached file: size (when listed) and sha256. */
async function fileIsVerified(path: string, file: RemoteFile): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile() || (file.bytes !== undefined && info.size !== file.bytes)) return false;
  return (await sha256OfFile(path)) === file.sha256;
}

/** Lower-case hex sha256 of a file, streamed. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function markerText(bundle: RemoteBundle): string {
  const files = [...bundle.files].sort((a, b) => (a.path < b.path ? -1 : 1)).map((f) => ({ path: f.path, sha256: f.sha256, bytes: f.bytes ?? null }));
  return `${JSON.stringify({ name: bundle.name, files }, null, 1)}\n`;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

function describeFailure(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  const detail = e?.cause?.code ?? e?.cause?.message;
  const message = String(e?.message ?? error).split('\n')[0];
  return detail ? `${message} (${detail})` : message;
}

/** Names and paths come from pinned constants, but a bad one must not write outside the cache. */
function checkBundle(bundle: RemoteBundle): void {
  const safeSegment = /^[A-Za-z0-9._@+-]+$/;
  if (!bundle || !safeSegment.test(bundle.name) || bundle.name.startsWith('.')) {
    throw invalidParameterError('bundle.name', 'a plain folder name', bundle?.name);
  }
  if (!Array.isArray(bundle.baseUrls) || bundle.baseUrls.length === 0) {
    throw invalidParameterError('bundle.baseUrls', 'at least one URL', bundle.baseUrls);
  }
  for (const file of bundle.files) {
    const segments = file.path.split('/');
    const normalised = posix.normalize(file.path);
    if (normalised !== file.path || segments.some((s) => !safeSegment.test(s) || s === '..' || s === '.')) {
      throw invalidParameterError('bundle file path', 'a relative path without . or .. segments', file.path);
    }
    if (!/^[0-9a-f]{64}$/.test(file.sha256)) throw invalidParameterError(`sha256 of ${file.path}`, '64 lower-case hex digits', file.sha256);
  }
}
