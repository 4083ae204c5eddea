// The module map of docs/ARCHITECTURE.md, checked against the imports: the table is the truth
// and the code must follow it (or the table changes with the code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { repositoryRoot } from '../helpers/shared-data.ts';

const srcDir = join(repositoryRoot, 'src');
const CORE_LAST_LAYER = 'eval';
const NODE_ONLY = /^(node:|fs$|path$|os$|url$|sharp$|worker_threads$|child_process$|crypto$|zlib$|module$|tsx(\/|$))/;

/** Layer folders in order, read from the table "| n | `folder/` | …" of docs/ARCHITECTURE.md. */
function documentedLayers(): string[] {
  const text = readFileSync(join(repositoryRoot, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const rows = [...text.matchAll(/^\| (\d+) \| `([a-z/]+)\/` \|/gm)];
  rows.forEach((row, i) => assert.equal(Number(row[1]), i + 1, `row ${row[1]} of the layer table is out of order`));
  return rows.map((row) => row[2]!);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
    return /\.(ts|mjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Static and dynamic import specifiers of a file (type-only imports included: they are dependencies too). */
function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/(?:^|[\s;])(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)].map(
    (m) => (m[1] ?? m[2] ?? m[3])!,
  );
}

/** The layer of a file under src/: the longest documented folder holding it; src/index.ts is api/. */
function layerOf(path: string, layers: string[]): string | undefined {
  const rel = relative(srcDir, path).split(sep).join('/');
  if (rel === 'index.ts') return 'api';
  return layers.filter((layer) => rel.startsWith(`${layer}/`)).sort((a, b) => b.length - a.length)[0];
}

test('docs/ARCHITECTURE.md lists every folder under src/, each once', () => {
  const layers = documentedLayers();
  assert.equal(new Set(layers).size, layers.length);
  const folders = readdirSync(srcDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  assert.deepEqual(
    folders.filter((folder) => !layers.includes(folder)),
    [],
    'folders missing from the layer table',
  );
  assert.ok(layers.includes(CORE_LAST_LAYER) && layers.includes('io/node') && layers.includes('cli'));
});

test('imports between src/ folders follow the layer order of docs/ARCHITECTURE.md', () => {
  const layers = documentedLayers();
  const rank = new Map(layers.map((layer, i) => [layer, i]));
  const upward: string[] = [];
  for (const file of sourceFiles(srcDir)) {
    const from = layerOf(file, layers);
    assert.ok(from, `${relative(repositoryRoot, file)} is in no documented layer`);
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(srcDir + sep)) continue;
      const to = layerOf(target, layers);
      if (to !== undefined && rank.get(to)! > rank.get(from)!) upward.push(`${relative(srcDir, file)} (${from}/) imports ${spec} (${to}/)`);
    }
  }
  assert.deepEqual(upward, []);
});

test('the core imports nothing from Node: node:* and sharp only under src/io/node and src/cli', () => {
  const layers = documentedLayers();
  const core = new Set(layers.slice(0, layers.indexOf(CORE_LAST_LAYER) + 1));
  const offenders: string[] = [];
  for (const file of sourceFiles(srcDir)) {
    if (!core.has(layerOf(file, layers)!)) continue;
    for (const spec of importsOf(file)) if (NODE_ONLY.test(spec)) offenders.push(`${relative(srcDir, file)}: ${spec}`);
  }
  assert.deepEqual(offenders, []);
});

test('no import cycles between files under src/', () => {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(srcDir)) {
    graph.set(
      file,
      importsOf(file)
        .filter((spec) => spec.startsWith('.'))
        .map((spec) => resolve(dirname(file), spec)),
    );
  }
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next].map((f) => relative(srcDir, f)).join(' → '));
      else if (!state.has(next)) visit(next, [...path, next]);
    }
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
  assert.deepEqual(cycles, []);
});

test('the browser page uses only the public entry; its Node dev server also facegar/node', () => {
  const webDir = join(repositoryRoot, 'web');
  const allowed = new Set([join(srcDir, 'index.ts')]);
  const allowedNode = new Set([...allowed, join(srcDir, 'io', 'node', 'index.ts')]);
  const offenders: string[] = [];
  for (const file of sourceFiles(webDir)) {
    const nodeSide = ['serve.ts', 'build.ts'].includes(relative(webDir, file));
    for (const spec of importsOf(file)) {
      const target = spec.startsWith('.') ? resolve(dirname(file), spec) : undefined;
      if (target?.startsWith(srcDir + sep) && !(nodeSide ? allowedNode : allowed).has(target)) offenders.push(`web/${relative(webDir, file)}: ${spec}`);
    }
  }
  assert.deepEqual(offenders, []);
});
