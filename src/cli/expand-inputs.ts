import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';

/** File extensions a directory scan picks up (a file given by name is always tried). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.avif', '.gif', '.heic', '.heif', '.bmp']);

export interface PlannedInput {
  /** As the user gave it, or as found in a directory / glob. */
  path: string;
  /** Output base name, unique within the batch. */
  stem: string;
  /**
   * The path below the directory or glob root it was found under ('/'-separated; a file given
   * by name: its base name). The same on every machine whatever the mount point: `--shard` hashes it.
   */
  relativePath: string;
}

/**
 * Turn the command line's inputs into an ordered list of files: a file stays as it is (even if
 * missing — it fails later with its own message), a directory gives its image files
 * (recursively, sorted), and an argument with * ? or [ is matched as a glob (** spans folders).
 * Duplicates are dropped; stems that collide get -2, -3, … in input order.
 */
export async function expandInputs(args: string[]): Promise<PlannedInput[]> {
  const paths: string[] = [];
  const relativePaths = new Map<string, string>();
  const underRoot = (root: string) => (path: string) => {
    if (!relativePaths.has(path)) relativePaths.set(path, relative(root, path).split(sep).join('/'));
    return path;
  };
  for (const arg of args) {
    const info = await stat(arg).catch(() => undefined);
    if (info?.isDirectory()) {
      paths.push(...(await listImages(arg)).map(underRoot(arg)));
    } else if (!info && /[*?[]/.test(arg)) {
      const { root, files } = await matchGlob(arg);
      paths.push(...files.map(underRoot(root)));
    } else {
      paths.push(arg);
    }
  }
  const seen = new Set<string>();
  const stemCounts = new Map<string, number>();
  const planned: PlannedInput[] = [];
  for (const path of paths) {
    const key = resolve(path);
    if (seen.has(key)) continue;
    seen.add(key);
    const base = basename(path, extname(path)) || basename(path);
    const count = (stemCounts.get(base) ?? 0) + 1;
    stemCounts.set(base, count);
    planned.push({ path, stem: count === 1 ? base : `${base}-${count}`, relativePath: relativePaths.get(path) ?? basename(path) });
  }
  return planned;
}

/** Files below `dir` (recursively, names sorted, hidden entries skipped) that `keep` accepts. */
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

function listImages(dir: string): Promise<string[]> {
  return walkFiles(dir, (path) => IMAGE_EXTENSIONS.has(extname(path).toLowerCase()));
}

/** Expand a glob: the folders before the first wildcard are the root, the rest a pattern. */
async function matchGlob(pattern: string): Promise<{ root: string; files: string[] }> {
  const parts = pattern.split(/[\\/]/);
  const firstWild = parts.findIndex((part) => /[*?[]/.test(part));
  const root = parts.slice(0, firstWild).join(sep) || (pattern.startsWith('/') ? '/' : '.');
  const regex = globToRegExp(parts.slice(firstWild).join('/'));
  return { root, files: await walkFiles(root, (path) => regex.test(relative(root, path).split(sep).join('/'))) };
}

export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === '*' && glob[i + 1] === '*') {
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = glob.indexOf(']', i);
      if (close < 0) source += '\\[';
      else { source += glob.slice(i, close + 1); i = close; }
    } else source += char.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
