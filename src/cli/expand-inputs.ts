import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { UsageError } from '../common/errors.ts';

/** File extensions a directory scan picks up (a file given by name is always tried). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.avif', '.gif', '.heic', '.heif', '.bmp']);

/** Characters that make an argument a glob (when no file has that name). */
const GLOB_SYNTAX = /[*?[{]/;

/** Images facegar itself writes (`<stem>.overlay.png`, `<stem>[.faceN].gar.png`): never taken as photos from its output folder. */
const OWN_OUTPUT_IMAGE = /\.(overlay|gar)\.png$/i;

export interface PlannedInput {
  /** As the user gave it, or as found in a directory / glob. */
  path: string;
  /** The folder `relativePath` is relative to: the directory argument, the glob's folder before its
   * first wildcard, or the folder of a file given by name. */
  root: string;
  /**
   * Path below `root`, '/'-separated (a file given by name: its file name). The same on every
   * machine whatever the mount point: `--shard` hashes it, and the stem is made from it.
   */
  relativePath: string;
  /** Output base name, relative to --out: see stemFor. */
  stem: string;
}

export interface ExpandOptions {
  /** The batch's output folder: facegar's own output images in it are left out of directory and glob scans. */
  outDir?: string;
}

/**
 * Turn the command line's inputs into an ordered list of files: a file stays as it is (even if
 * missing, or not a regular file — it fails later with its own message), a directory gives its
 * image files (recursively, sorted), and an argument with glob syntax (* ? [...] {a,b} **) that
 * names no existing file is matched as a glob (picomatch, POSIX brackets: `[!a]` negates).
 * Duplicates (same absolute path) are dropped. A malformed glob is a UsageError.
 */
export async function expandInputs(args: string[], options: ExpandOptions = {}): Promise<PlannedInput[]> {
  const found: Omit<PlannedInput, 'stem'>[] = [];
  const isOwnOutput = ownOutputFilter(options.outDir);
  for (const arg of args) {
    if (arg === '') throw new UsageError('an input path is empty');
    const info = await stat(arg).catch(() => undefined);
    if (info?.isDirectory()) {
      const paths = await walkFiles(arg, (path) => IMAGE_EXTENSIONS.has(extname(path).toLowerCase()));
      found.push(...paths.filter((path) => !isOwnOutput(path)).map((path) => below(arg, path)));
    } else if (!info && GLOB_SYNTAX.test(arg)) {
      const { root, paths } = await matchGlob(arg);
      found.push(...paths.filter((path) => !isOwnOutput(path)).map((path) => below(root, path)));
    } else {
      found.push({ path: arg, root: dirname(arg), relativePath: basename(arg) });
    }
  }
  const seen = new Set<string>();
  const planned: PlannedInput[] = [];
  for (const input of found) {
    const key = resolve(input.path);
    if (seen.has(key)) continue;
    seen.add(key);
    planned.push({ ...input, stem: stemFor(input.relativePath) });
  }
  return planned;
}

/**
 * The output base name of an input: its path below its root, extension kept, folders kept
 * (`photos/` holding `a.jpg`, `a.png` and `trip/a.jpg` gives `a.jpg`, `a.png` and `trip/a.jpg`,
 * so outputs `a.jpg.obj`, `a.png.obj`, `trip/a.jpg.obj`). It depends on that path alone — not on
 * the other inputs, their order or which of them failed — so it is the same in every run, resume
 * and shard. A name ending in `.face<N>` (plus any `_`) gets one more `_`, so that no stem can
 * take the per-face files (`<stem>.face<N>.obj`) of another.
 */
export function stemFor(relativePath: string): string {
  return /\.face\d+_*$/i.test(relativePath) ? `${relativePath}_` : relativePath;
}

/**
 * Refuse a batch where two inputs would write the same outputs: two roots holding the same
 * relative path (e.g. `a/photo.jpg b/photo.jpg`). Throws UsageError naming both.
 */
export function checkUniqueStems(inputs: PlannedInput[]): void {
  const byStem = new Map<string, PlannedInput>();
  for (const input of inputs) {
    const other = byStem.get(input.stem);
    if (other) {
      throw new UsageError(
        `${other.path} and ${input.path} would both write ${input.stem}.* in the output folder: ` +
          'give their common folder instead (subfolders are kept in the outputs), or run them with different --out',
      );
    }
    byStem.set(input.stem, input);
  }
}

function below(root: string, path: string): Omit<PlannedInput, 'stem'> {
  return { path, root, relativePath: relative(root, path).split(sep).join('/') };
}

/** True for facegar's own output images inside `outDir` (any depth): they are not photos to fit. */
function ownOutputFilter(outDir: string | undefined): (path: string) => boolean {
  if (outDir === undefined) return () => false;
  const out = resolve(outDir);
  return (path) => {
    const fromOut = relative(out, resolve(path));
    return OWN_OUTPUT_IMAGE.test(path) && fromOut !== '' && !fromOut.startsWith('..') && !isAbsolute(fromOut);
  };
}

/**
 * Files below `dir` (recursively, names sorted, hidden entries skipped) that `keep` accepts.
 * Symbolic links to folders are not followed (no cycles); anything that is not a folder is
 * listed, special files too: reading refuses those one by one (see decode-image.ts).
 */
async function walkFiles(dir: string, keep: (path: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string) => {
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (keep(path)) found.push(path);
    }
  };
  await walk(dir);
  return found;
}

/** Expand a glob: its folders before the first one with glob syntax are the root, the rest is matched below it. */
async function matchGlob(pattern: string): Promise<{ root: string; paths: string[] }> {
  const parts = pattern.split('/');
  const firstWild = parts.findIndex((part) => GLOB_SYNTAX.test(part));
  const root = parts.slice(0, firstWild).join('/') || (pattern.startsWith('/') ? '/' : '.');
  const isMatch = compileGlob(parts.slice(firstWild).join('/'), pattern);
  return { root, paths: await walkFiles(root, (path) => isMatch(relative(root, path).split(sep).join('/'))) };
}

/**
 * picomatch with POSIX brackets (`[!a]` is "not a", as in the shell) and strict parsing: a
 * reversed range (`[z-a]`) or an unclosed bracket is a UsageError instead of a pattern that
 * silently matches nothing.
 */
export function compileGlob(glob: string, label = glob): (path: string) => boolean {
  try {
    // nonegate: a leading "!" is part of a name, as in the shell, not "every file but".
    return picomatch(glob, { posix: true, strictBrackets: true, debug: true, nonegate: true });
  } catch (error) {
    const reason = String((error as Error)?.message ?? error)
      .split('\n')[0]
      .replace(/^Invalid regular expression: \/.*\/: /, '');
    throw new UsageError(`bad glob "${label}": ${reason}`);
  }
}
