import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandInputs, globToRegExp } from '../../src/cli/expand-inputs.ts';

test('inputs: files stay, directories give their images recursively, globs match, stems stay unique', async () => {
  const root = await mkdtemp(join(tmpdir(), 'facegar-inputs-'));
  await mkdir(join(root, 'a', 'deep'), { recursive: true });
  await mkdir(join(root, 'b'), { recursive: true });
  for (const name of ['a/x.jpg', 'a/deep/y.PNG', 'a/notes.txt', 'a/.hidden.jpg', 'b/x.jpg', 'b/z.webp']) await writeFile(join(root, name), '');
  const fromDirectory = await expandInputs([join(root, 'a')]);
  assert.deepEqual(fromDirectory.map((i) => i.stem), ['y', 'x']); // sorted: "deep" before "x.jpg"
  const fromGlob = await expandInputs([join(root, '**', '*.jpg')]);
  assert.deepEqual(fromGlob.map((i) => i.path), [join(root, 'a', 'x.jpg'), join(root, 'b', 'x.jpg')]);
  assert.deepEqual(fromGlob.map((i) => i.stem), ['x', 'x-2']);
  const mixed = await expandInputs([join(root, 'b', 'z.webp'), join(root, 'b'), join(root, 'missing.jpg')]);
  assert.deepEqual(mixed.map((i) => i.stem), ['z', 'x', 'missing']); // duplicates dropped, a missing file kept to fail later
  assert.ok(globToRegExp('*.jpg').test('a.jpg') && !globToRegExp('*.jpg').test('d/a.jpg'));
  assert.ok(globToRegExp('**/*.jpg').test('d/e/a.jpg') && globToRegExp('**/*.jpg').test('a.jpg'));
});
