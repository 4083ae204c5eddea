import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureWritableDirectory, tempPathFor, writeFileAtomic } from '../../src/io/node/atomic-write.ts';
import { OutputNotWritableError, EXIT_CODES } from '../../src/common/errors.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'facegar-atomic-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('writes strings as UTF-8 and bytes as given, replacing old content, leaving no temp file', async () => {
  const target = join(dir, 'mesh.obj');
  await writeFileAtomic(target, 'v 1 2 3\n# é\n');
  assert.equal(await readFile(target, 'utf8'), 'v 1 2 3\n# é\n');
  const bytes = new Uint8Array([0, 255, 1, 2, 128]);
  await writeFileAtomic(target, bytes);
  assert.deepEqual(new Uint8Array(await readFile(target)), bytes);
  assert.deepEqual(await readdir(dir), ['mesh.obj']);
});

test('temp names are hidden, in the same directory, and unique', () => {
  const a = tempPathFor(join(dir, 'x.png')),
    b = tempPathFor(join(dir, 'x.png'));
  assert.notEqual(a, b);
  assert.match(a, new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.x\\.png\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
});

test('concurrent writes to one path end with one complete version and no temp files', async () => {
  const target = join(dir, 'race.txt');
  const versions = Array.from({ length: 8 }, (_, i) => `${i}`.repeat(100_000));
  await Promise.all(versions.map((v) => writeFileAtomic(target, v)));
  assert.ok(versions.includes(await readFile(target, 'utf8')));
  assert.deepEqual(
    (await readdir(dir)).filter((n) => n.endsWith('.tmp')),
    [],
  );
});

test('a path under a regular file fails with OutputNotWritableError naming it', async () => {
  const file = join(dir, 'plain-file');
  await writeFile(file, 'x');
  const target = join(file, 'out.obj');
  await assert.rejects(writeFileAtomic(target, 'v 0 0 0\n'), (e: unknown) => {
    assert.ok(e instanceof OutputNotWritableError);
    assert.equal(e.exitCode, EXIT_CODES.outputNotWritable);
    assert.equal(e.message, `${target}: cannot write (ENOTDIR)`);
    return true;
  });
});

test('a failed rename (target is a directory) removes the temp file', async () => {
  const sub = join(dir, 'rename-fail');
  await mkdir(join(sub, 'taken'), { recursive: true });
  await assert.rejects(
    writeFileAtomic(join(sub, 'taken'), 'data'),
    (e: unknown) => e instanceof OutputNotWritableError && /taken: cannot write \(E(ISDIR|EXIST|NOTEMPTY)\)$/.test(e.message),
  );
  assert.deepEqual(await readdir(sub), ['taken']);
});

test('/proc refuses new files even for root', async () => {
  await assert.rejects(writeFileAtomic('/proc/facegar-test.obj', 'x'), OutputNotWritableError);
});

test('ensureWritableDirectory creates nested folders and rejects unusable paths', async () => {
  const nested = join(dir, 'a', 'b', 'c');
  await ensureWritableDirectory(nested);
  await writeFileAtomic(join(nested, 'ok.txt'), 'ok');
  assert.equal(await readFile(join(nested, 'ok.txt'), 'utf8'), 'ok');
  await ensureWritableDirectory(nested); // already there: fine

  const file = join(dir, 'not-a-dir');
  await writeFile(file, 'x');
  await assert.rejects(ensureWritableDirectory(file), (e: unknown) => e instanceof OutputNotWritableError && e.message === `${file}: cannot write (ENOTDIR)`);
  await assert.rejects(
    ensureWritableDirectory(join(file, 'sub')),
    (e: unknown) => e instanceof OutputNotWritableError && e.message === `${join(file, 'sub')}: cannot write (ENOTDIR)`,
  );
  await assert.rejects(ensureWritableDirectory('/proc/facegar-test-dir'), OutputNotWritableError);
});
