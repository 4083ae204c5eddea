import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/common/errors.ts';
import { checkUniqueStems, compileGlob, expandInputs, stemFor } from '../../src/cli/expand-inputs.ts';

async function tree(names: string[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'facegar-inputs-'));
  for (const name of names) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), '');
  }
  return root;
}

test('inputs: files stay, directories give their images recursively, globs match, duplicates go', async () => {
  const root = await tree(['a/x.jpg', 'a/deep/y.PNG', 'a/notes.txt', 'a/.hidden.jpg', 'b/x.jpg', 'b/z.webp']);
  const fromDirectory = await expandInputs([join(root, 'a')]);
  assert.deepEqual(
    fromDirectory.map((i) => i.stem),
    ['deep/y.PNG', 'x.jpg'],
  ); // sorted: "deep" before "x.jpg"
  assert.deepEqual(
    fromDirectory.map((i) => i.root),
    [join(root, 'a'), join(root, 'a')],
  );
  const fromGlob = await expandInputs([join(root, '**', '*.jpg')]);
  assert.deepEqual(
    fromGlob.map((i) => i.path),
    [join(root, 'a', 'x.jpg'), join(root, 'b', 'x.jpg')],
  );
  assert.deepEqual(
    fromGlob.map((i) => i.stem),
    ['a/x.jpg', 'b/x.jpg'],
  );
  const mixed = await expandInputs([join(root, 'b', 'z.webp'), join(root, 'b'), join(root, 'missing.jpg')]);
  assert.deepEqual(
    mixed.map((i) => i.stem),
    ['z.webp', 'x.jpg', 'missing.jpg'],
  ); // duplicates dropped, a missing file kept to fail later
});

test('stems: a.jpg, a.png and a-2.jpg stay apart, and a stem depends on its own path only (resume, shards)', async () => {
  const root = await tree(['a.jpg', 'a.png', 'a-2.jpg', 'sub/a.jpg']);
  const all = await expandInputs([root]);
  assert.deepEqual(
    all.map((i) => i.stem),
    ['a-2.jpg', 'a.jpg', 'a.png', 'sub/a.jpg'],
  );
  checkUniqueStems(all);
  // Any subset, in any order, gives each input the same stem.
  const subset = await expandInputs([join(root, 'sub', '*.jpg'), join(root, 'a.png')]);
  const stemOf = (inputs: typeof all) => Object.fromEntries(inputs.map((i) => [i.path, i.stem]));
  assert.equal(stemOf(subset)[join(root, 'sub', 'a.jpg')], 'a.jpg'); // a glob's root is its folder before the wildcard
  assert.equal(stemOf(subset)[join(root, 'a.png')], stemOf(all)[join(root, 'a.png')]);
  const reversed = await expandInputs([join(root, 'a.png'), join(root, 'a.jpg'), join(root, 'a-2.jpg')]);
  for (const input of reversed) assert.equal(input.stem, stemOf(all)[input.path]);
});

test('stems: two roots with the same relative path are refused, .face<N> names cannot take per-face files', async () => {
  const root = await tree(['one/photo.jpg', 'two/photo.jpg', 'x.jpg', 'x.jpg.face1', 'x.jpg.face1_']);
  const clash = await expandInputs([join(root, 'one', 'photo.jpg'), join(root, 'two', 'photo.jpg')]);
  assert.throws(
    () => checkUniqueStems(clash),
    (e) => e instanceof UsageError && /one\/photo\.jpg and .*two\/photo\.jpg would both write photo\.jpg/.test(e.message),
  );
  const faces = await expandInputs(['x.jpg', 'x.jpg.face1', 'x.jpg.face1_'].map((n) => join(root, n)));
  assert.deepEqual(
    faces.map((i) => i.stem),
    ['x.jpg', 'x.jpg.face1_', 'x.jpg.face1__'],
  );
  assert.equal(stemFor('x.jpg.face12'), 'x.jpg.face12_');
  assert.equal(stemFor('face1.jpg'), 'face1.jpg');
});

test('globs: [!a] negates, a reversed class or an open bracket is a usage error', async () => {
  const root = await tree(['a.jpg', 'b.jpg', '!c.jpg', 'sub/d.jpg']);
  const notA = await expandInputs([join(root, '[!a]*.jpg')]);
  assert.deepEqual(
    notA.map((i) => i.stem),
    ['!c.jpg', 'b.jpg'],
  );
  assert.ok(compileGlob('*.jpg')('a.jpg') && !compileGlob('*.jpg')('d/a.jpg'));
  assert.ok(compileGlob('**/*.jpg')('d/e/a.jpg') && compileGlob('**/*.jpg')('a.jpg'));
  await assert.rejects(expandInputs([join(root, '[z-a]*.jpg')]), (e) => e instanceof UsageError && e.exitCode === 2 && /bad glob .*\[z-a\]/.test(e.message));
  await assert.rejects(expandInputs([join(root, 'x[ab*.jpg')]), (e) => e instanceof UsageError && /bad glob/.test(e.message));
  await assert.rejects(expandInputs(['']), UsageError);
});

test("an output folder inside the inputs: facegar's own overlay and GAR images are not photos", async () => {
  const root = await tree(['p.jpg', 'out/p.jpg.overlay.png', 'out/p.jpg.face1.gar.png', 'out/kept.png', 'elsewhere.overlay.png']);
  const inputs = await expandInputs([root], { outDir: join(root, 'out') });
  assert.deepEqual(
    inputs.map((i) => i.stem),
    ['elsewhere.overlay.png', 'out/kept.png', 'p.jpg'],
  );
  const same = await expandInputs([join(root, 'out')], { outDir: join(root, 'out') });
  assert.deepEqual(
    same.map((i) => i.stem),
    ['kept.png'],
  );
  // Given by name, a file is always tried.
  const named = await expandInputs([join(root, 'out', 'p.jpg.overlay.png')], { outDir: join(root, 'out') });
  assert.equal(named.length, 1);
});
