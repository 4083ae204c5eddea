import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { ModelUnavailableError } from '../../common/errors.ts';
import type { MorphableModel } from '../../morphable/morphable-model.ts';
import { loadIctFaceKit, type ModelTextReader } from '../../morphable/ict-face-kit.ts';
import { decodeCompactModel, encodeCompactModel, COMPACT_MODEL_FORMAT_VERSION } from '../../morphable/compact-model.ts';
import { makeDirectories, writeFileAtomic } from './atomic-write.ts';
import { defaultCacheDir, ensureBundle } from './model-cache.ts';
import { ICT_FACEKIT_BUNDLE } from './bundles.ts';
import { formatBytes, readRegularFile, UnreadableFileError } from './read-regular-file.ts';

const gunzipAsync = promisify(gunzip);

export interface LoadMorphableModelOptions {
  /** Directory with the ICT-FaceKit files (.obj or .obj.gz). Default: $FACEGAR_MODEL_DIR, else the per-user cache, else download. */
  modelDir?: string;
  /** Where the compact form and downloads are cached. Default: defaultCacheDir(). */
  cacheDir?: string;
  /** Never download (default from FACEGAR_OFFLINE=1). */
  offline?: boolean;
  /** Download sources tried in order, instead of the pinned ones (default: $FACEGAR_MODEL_URL, else the bundle's). */
  baseUrls?: string[];
  onProgress?: (stage: 'download' | 'parse', done: number, total: number) => void;
}

export interface LoadedMorphableModel {
  model: MorphableModel;
  /** Where the source files came from. */
  sourceDir: string;
  /** True when the compact cache was used (fast path). */
  fromCache: boolean;
  /** Path of the compact cache file (written on the first load of a source). */
  compactPath: string;
}

/**
 * Find the model (option, environment, cache, download — in that order), then load it from the
 * compact cache when the source is unchanged, else parse the OBJ files and write the cache.
 */
export async function loadMorphableModel(options: LoadMorphableModelOptions = {}): Promise<LoadedMorphableModel> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const sourceDir = await resolveSourceDir(options, cacheDir);
  const fingerprint = await fingerprintDirectory(sourceDir);
  const compactPath = join(cacheDir, 'compact', `ict-facekit-v${COMPACT_MODEL_FORMAT_VERSION}-${fingerprint}.fgmm`);
  try {
    const bytes = await readFile(compactPath);
    return { model: decodeCompactModel(bytes, compactPath), sourceDir, fromCache: true, compactPath };
  } catch {
    // Absent or corrupt cache: rebuild it from the source files below.
  }
  const model = await loadIctFaceKit(directoryReader(sourceDir), {
    onProgress: (done, total) => options.onProgress?.('parse', done, total),
  });
  try {
    await makeDirectories(join(cacheDir, 'compact'));
    await writeFileAtomic(compactPath, encodeCompactModel(model));
  } catch {
    // A read-only cache only costs speed next time; the model itself is fine.
  }
  return { model, sourceDir, fromCache: false, compactPath };
}

async function resolveSourceDir(options: LoadMorphableModelOptions, cacheDir: string): Promise<string> {
  const explicit = options.modelDir ?? process.env.FACEGAR_MODEL_DIR;
  if (explicit) {
    const dir = resolve(explicit);
    const isDirectory = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDirectory) {
      const from = options.modelDir ? '--model' : 'FACEGAR_MODEL_DIR';
      throw new ModelUnavailableError(`${dir}: model directory not found (from ${from})`);
    }
    return dir;
  }
  const override = options.baseUrls ?? (process.env.FACEGAR_MODEL_URL ? [process.env.FACEGAR_MODEL_URL] : undefined);
  const bundle = override ? { ...ICT_FACEKIT_BUNDLE, baseUrls: override } : ICT_FACEKIT_BUNDLE;
  return ensureBundle(bundle, {
    cacheDir,
    offline: options.offline,
    onProgress: (done, total) => options.onProgress?.('download', done, total),
  });
}

/**
 * Largest model file read or inflated (bytes). ICT-FaceKit's largest OBJ is 2.6 MB; past this a
 * file (or a gzip bomb, inflated) is refused before it can take the memory.
 */
export const MAX_MODEL_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Reads `name` as given when it has an extension, else `name.obj`, then `name.obj.gz`. Only
 * regular files inside `dir`, at most MAX_MODEL_FILE_BYTES read and inflated; anything else is a
 * ModelUnavailableError (exit 6) naming the file. A missing file resolves undefined.
 */
export function directoryReader(dir: string): ModelTextReader {
  const root = resolve(dir);
  return async (name) => {
    const candidates = name.includes('.') ? [name] : [`${name}.obj`, `${name}.obj.gz`];
    for (const candidate of candidates) {
      const path = resolve(root, candidate);
      if (relative(root, path).startsWith('..') || dirname(path) !== root)
        throw new ModelUnavailableError(`${candidate}: a model file outside the model directory ${root} (refused)`);
      let bytes: Buffer;
      try {
        bytes = await readRegularFile(path, MAX_MODEL_FILE_BYTES);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        const reason = error instanceof UnreadableFileError ? error.message : `cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
        throw new ModelUnavailableError(`${path}: ${reason}`, { cause: error });
      }
      if (candidate.endsWith('.gz')) {
        try {
          bytes = await gunzipAsync(bytes, { maxOutputLength: MAX_MODEL_FILE_BYTES });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
            throw new ModelUnavailableError(`${path}: inflates to more than ${formatBytes(MAX_MODEL_FILE_BYTES)} (a gzip bomb, or not a model file)`, {
              cause: error,
            });
          }
          throw new ModelUnavailableError(`${path}: corrupt gzip data`, { cause: error });
        }
      }
      return bytes.toString('utf8');
    }
    return undefined;
  };
}

/** A short hash of the directory's path and its files' names, sizes and modification times. */
async function fingerprintDirectory(dir: string): Promise<string> {
  const hash = createHash('sha256').update(dir);
  const names = (await readdir(dir)).filter((n) => /\.(obj|obj\.gz|json)$/.test(n)).sort();
  for (const name of names) {
    const info = await stat(join(dir, name));
    hash.update(`${name}:${info.size}:${info.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}
