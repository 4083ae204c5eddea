import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { reconstruct, Reconstructor, meshToObj, NoFaceError, type RgbaImage } from '../../src/index.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { sharedModel } from '../helpers/model.ts';
import { photosDir } from '../helpers/shared-data.ts';

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
