import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { reconstruct, Reconstructor, meshToObj, NoFaceError, type RgbaImage } from '../../src/index.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { sharedModel } from '../helpers/model.ts';
import { photosDir, repositoryRoot } from '../helpers/shared-data.ts';

async function inMemoryImage(name: string): Promise<RgbaImage> {
  // Decoded here with sharp directly: the library itself only ever sees pixels.
  const { data, info } = await sharp(join(photosDir, name)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8ClampedArray(data) };
}

test("import { reconstruct } from 'facegar' works on an in-memory image and returns mesh and parameters", async () => {
  const model = await sharedModel();
  const detector = await loadDetectorModelFiles();
  const image = await inMemoryImage('000033.jpg');
  const result = await reconstruct(image, { model, detector }, { fit: { landmarkSteps: 120, photometricSteps: 8 } });
  assert.equal(result.faces.length, 1);
  const face = result.faces[0];
  assert.equal(face.vertices.length, model.vertexCount * 3);
  assert.equal(face.identity.length, 100);
  assert.equal(Object.keys(face.expression).length, 53);
  assert.ok(face.landmarkErrorPx < 0.05 * face.interOcularPx, `landmark error ${face.landmarkErrorPx}`);
  const obj = meshToObj({ positions: face.vertices, triangles: model.triangles, uvs: model.uvs, triangleUvIndices: model.triangleUvIndices });
  assert.equal(obj.split('\n').filter((line) => line.startsWith('v ')).length, model.vertexCount);
});

test('a Reconstructor leaves tf.memory() where it found it, and says NoFaceError on a blank image', async () => {
  const model = await sharedModel();
  const detector = await loadDetectorModelFiles();
  const reconstructor = await Reconstructor.create({ model, detector });
  const image = await inMemoryImage('000114.jpg');
  await reconstructor.reconstruct(image, { fit: { landmarkSteps: 30, photometricSteps: 3 } }); // warm-up
  const before = tf.memory().numTensors;
  await reconstructor.reconstruct(image, { fit: { landmarkSteps: 30, photometricSteps: 3 } });
  assert.equal(tf.memory().numTensors, before);
  const blank: RgbaImage = { width: 320, height: 240, data: new Uint8ClampedArray(320 * 240 * 4).fill(128) };
  await assert.rejects(reconstructor.reconstruct(blank), NoFaceError);
  assert.equal(tf.memory().numTensors, before);
  reconstructor.dispose();
});

test('the core imports nothing from Node: node:* and sharp only under src/io/node and src/cli', async () => {
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(join(repositoryRoot, 'src'), path);
      if (entry.isDirectory()) {
        if (rel !== join('io', 'node') && rel !== 'cli') await walk(path);
      } else if (/\.(ts|js|mjs)$/.test(entry.name)) {
        const text = await readFile(path, 'utf8');
        const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
        for (const spec of imports) {
          if (/^(node:|fs$|path$|os$|sharp$|worker_threads$|child_process$|crypto$|zlib$)/.test(spec) || spec.includes('/io/node/') || spec.includes('/cli/')) offenders.push(`${rel}: ${spec}`);
        }
      }
    }
  };
  await walk(join(repositoryRoot, 'src'));
  assert.deepEqual(offenders, []);
});
