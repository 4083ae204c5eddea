/** File helpers shared by the `facegar eval …` benchmarks (Node only). */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputMissingError, UsageError } from '../common/errors.ts';
import { parseNpy, parseTextMatrix } from '../eval/benchmark-files.ts';
import { readRegularFile, UnreadableFileError } from '../io/node/read-regular-file.ts';

/**
 * Largest benchmark file read (bytes): scans and meshes are tens of MB; past this (or for a
 * FIFO or device) a file is refused, not read into memory.
 */
export const MAX_BENCHMARK_FILE_BYTES = 256 * 1024 * 1024;

/** A benchmark file's bytes: regular files of at most `maxBytes` only; a missing file is InputMissingError, the rest UsageError. */
export async function readBenchmarkFile(path: string, what: string, maxBytes = MAX_BENCHMARK_FILE_BYTES): Promise<Buffer> {
  try {
    return await readRegularFile(path, maxBytes);
  } catch (error) {
    if (error instanceof UnreadableFileError && error.code !== 'EISDIR') throw new UsageError(`${path}: ${error.message} (${what})`);
    throw new InputMissingError(`${what} not found: ${path}`);
  }
}

export async function readText(path: string, what: string): Promise<string> {
  return (await readBenchmarkFile(path, what)).toString('utf8');
}

/** The text of `path`, or undefined when it does not exist. */
export async function readOptional(path: string, what = 'benchmark file'): Promise<string | undefined> {
  try {
    return (await readBenchmarkFile(path, what)).toString('utf8');
  } catch (error) {
    if (error instanceof InputMissingError) return undefined;
    throw error;
  }
}

/** Points on a prediction from `<base>.npy` (float K×3) or `<base>.txt` (K lines "x y z"); undefined when neither exists. */
export async function readPredictedLandmarks(base: string): Promise<Float64Array | undefined> {
  try {
    const bytes = new Uint8Array(await readRegularFile(`${base}.npy`, MAX_BENCHMARK_FILE_BYTES));
    return parseNpy(bytes).data;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`${base}.npy: ${(error as Error).message}`);
  }
  const text = await readOptional(`${base}.txt`);
  return text === undefined ? undefined : parseTextMatrix(text);
}

/** The alphabetically first file in `dir` whose name ends with one of `extensions` (lower case), or undefined. */
export async function findFirstWithExtension(dir: string, extensions: string[]): Promise<string | undefined> {
  try {
    if (!(await stat(dir)).isDirectory()) return undefined;
    const names = (await readdir(dir)).filter((n) => extensions.some((e) => n.toLowerCase().endsWith(e))).sort();
    return names.length ? join(dir, names[0]) : undefined;
  } catch {
    return undefined;
  }
}

export async function firstWithExtension(dir: string, extension: string): Promise<string> {
  const found = await findFirstWithExtension(dir, [extension]);
  if (!found) throw new InputMissingError(`no ${extension} file in ${dir}`);
  return found;
}

export const formatMm = (value: number) => (Number.isFinite(value) ? value.toFixed(3) : '—').padStart(6);
