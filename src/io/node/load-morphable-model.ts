import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { ModelUnavailableError } from '../../common/errors.ts';
import type { MorphableModel } from '../../morphable/morphable-model.ts';
import { loadIctFaceKit, type ModelTextReader } from '../../morphable/ict-face-kit.ts';
import { decodeCompactModel, encodeCompactModel, COMPACT_MODEL_FORMAT_VERSION } from '../../morphable/compact-model.ts';
import { makeDirectories, writeFileAtomic } from './atomic-write.ts';
import { defaultCacheDir, ensureBundle } from './model-cache.ts';
import { ICT_FACEKIT_BUNDLE } from './bundles.ts';

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
    const isDirectory = await stat(dir).then((s) => s.isDirectory(), () => false);
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

/** Reads `name` as given when it has an extension, else `name.obj`, then `name.obj.gz`. */
export function directoryReader(dir: string): ModelTextReader {
  return async (name) => {
    const candidates = name.includes('.') ? [name] : [`${name}.obj`, `${name}.obj.gz`];
    for (const candidate of candidates) {
      let bytes: Buffer;
      try {
        bytes = await readFile(join(dir, candidate));
      } catch {
        continue;
      }
      if (candidate.endsWith('.gz')) {
        try {
          bytes = await gunzipAsync(bytes);
        } catch {
          throw new ModelUnavailableError(`${join(dir, candidate)}: corrupt gzip data`);
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
