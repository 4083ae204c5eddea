/** File helpers shared by the `facegar eval …` benchmarks (Node only). */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputMissingError, UsageError } from '../common/errors.ts';
import { parseNpy, parseTextMatrix } from '../eval/benchmark-files.ts';

export async function readText(path: string, what: string): Promise<string> {
  try { return await readFile(path, 'utf8'); } catch { throw new InputMissingError(`${what} not found: ${path}`); }
}

export async function readOptional(path: string): Promise<string | undefined> {
  try { return await readFile(path, 'utf8'); } catch { return undefined; }
}

/** Points on a prediction from `<base>.npy` (float K×3) or `<base>.txt` (K lines "x y z"); undefined when neither exists. */
export async function readPredictedLandmarks(base: string): Promise<Float64Array | undefined> {
  try {
    const bytes = new Uint8Array(await readFile(`${base}.npy`));
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
