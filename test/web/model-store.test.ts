// The page's model store (web/model-store.ts) against the demo server, run in Node (fetch and
// crypto.subtle as in a browser; no Cache Storage): the identity regressor comes with FaceRes when
// its file is sound, and a damaged one is left out with a reason while the GAR networks still load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoServer } from '../../web/serve.ts';
import { loadNetworkFiles } from '../../web/model-store.ts';
import { modelDir, repositoryRoot, testCacheDir } from '../helpers/shared-data.ts';

const shipped = join(repositoryRoot, 'models');

/** A models folder: the shipped GAR, encoder and shape encoder (linked), and a copy of the identity regressor, its file as `regressorBytes`. */
async function modelsFolder(regressorBytes?: Uint8Array): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-models-'));
  for (const name of ['gar-small', 'encoder-small', 'shape-encoder-128']) await symlink(join(shipped, name), join(dir, name));
  await mkdir(join(dir, 'identity-regressor'));
  await copyFile(join(shipped, 'identity-regressor/manifest.json'), join(dir, 'identity-regressor/manifest.json'));
  const target = join(dir, 'identity-regressor/identity-regressor.bin');
  if (regressorBytes) await writeFile(target, regressorBytes);
  else await copyFile(join(shipped, 'identity-regressor/identity-regressor.bin'), target);
  return dir;
}

async function withServer<T>(modelsDir: string, run: (base: string) => Promise<T>): Promise<T> {
  const distDir = await mkdtemp(join(tmpdir(), 'facegar-dist-'));
  await writeFile(join(distDir, 'index.html'), '<!doctype html><title>facegar</title>');
  const server = await startDemoServer({ port: 0, build: false, distDir, modelsDir, model: { modelDir, cacheDir: testCacheDir, offline: true } });
  try {
    return await run(server.url);
  } finally {
    await server.close();
    await rm(distDir, { recursive: true, force: true });
  }
}

test('the page loads the identity regressor and FaceRes beside the GAR networks, its bytes as on disk', async () => {
  const modelsDir = await modelsFolder();
  try {
    const progress: string[] = [];
    const loaded = await withServer(modelsDir, (base) => loadNetworkFiles(new URL('models/', base).href, (text) => progress.push(text)));
    assert.equal(loaded.identityRegressorProblem, undefined);
    assert.equal(loaded.identityRegressor?.source, 'identity-regressor');
    assert.deepEqual(loaded.identityRegressor!.weights, new Uint8Array(await readFile(join(shipped, 'identity-regressor/identity-regressor.bin'))));
    assert.ok(JSON.stringify(loaded.identityRegressor!.embedding.json).includes('global_pooling'), 'FaceRes came from /detector/');
    assert.ok(loaded.files!.shapeEncoder, 'the shape encoder it joins');
    assert.ok(progress.some((line) => line.startsWith('identity regressor: downloading')));
  } finally {
    await rm(modelsDir, { recursive: true, force: true });
  }
});

test('a damaged identity regressor (SHA-256 differs from its manifest) is left out with the reason; the GAR networks still load', async () => {
  const bytes = new Uint8Array(await readFile(join(shipped, 'identity-regressor/identity-regressor.bin')));
  bytes[bytes.length - 1] ^= 0xff;
  const modelsDir = await modelsFolder(bytes);
  try {
    const loaded = await withServer(modelsDir, (base) => loadNetworkFiles(new URL('models/', base).href, () => {}));
    assert.ok(loaded.files?.gar && loaded.files.encoder && loaded.files.shapeEncoder, 'GAR, encoder and shape encoder loaded');
    assert.equal(loaded.identityRegressor, undefined);
    assert.match(loaded.identityRegressorProblem ?? '', /identity regressor weights do not match the SHA-256/);
  } finally {
    await rm(modelsDir, { recursive: true, force: true });
  }
});
