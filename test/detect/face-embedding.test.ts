import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { ModelUnavailableError } from '../../src/common/errors.ts';
import { invertAffine2D, mirrorImage, warpAffine, type RgbaImage } from '../../src/common/image.ts';
import { ALIGNED_CROP_TEMPLATE, fitSimilarity2D } from '../../src/detect/align-face-crop.ts';
import {
  cosineSimilarity,
  createFaceEmbedder,
  FACE_EMBEDDING_MODELS,
  recognitionBoxInAlignedCrop,
  type FaceEmbedder,
} from '../../src/detect/face-embedding.ts';
import { loadFaceEmbeddingModelFile } from '../../src/io/node/face-embedding-model.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { listExamplePhotos, readFivePoints } from './photo-data.ts';

const CROP_PX = 96;

/** The photo's face aligned as `alignFaceCrop` aligns it (from the 5-point detection), shifted right by `shiftPx`. */
async function alignedCrop(path: string, name: string, shiftPx = 0): Promise<RgbaImage> {
  const points = await readFivePoints(name);
  const from = [points[0], points[1], points[3], points[4]];
  const to = ALIGNED_CROP_TEMPLATE.map(([x, y]) => [x * CROP_PX + shiftPx, y * CROP_PX] as [number, number]);
  return warpAffine(await decodeImageFile(path), invertAffine2D(fitSimilarity2D(from, to)), CROP_PX, CROP_PX);
}

let embedder: FaceEmbedder | undefined;
async function sharedEmbedder(): Promise<FaceEmbedder> {
  await initBackend();
  embedder ??= await createFaceEmbedder(await loadFaceEmbeddingModelFile());
  return embedder;
}
test.after(() => embedder?.dispose());

test('the recognition square sits inside the aligned crop, about 0.83 of its side', () => {
  const box = recognitionBoxInAlignedCrop();
  assert.ok(box.side > 0.78 && box.side < 0.88, `side ${box.side}`);
  assert.ok(box.left > 0 && box.top > 0 && box.left + box.side < 1 && box.top + box.side < 1, JSON.stringify(box));
  assert.ok(Math.abs(box.left + box.side / 2 - 0.5) < 0.01, 'centred horizontally');
});

test('same face (mirror, 3 px shift) embeds closer than any two different example photos', async () => {
  const e = await sharedEmbedder();
  const photos = (await listExamplePhotos()).slice(0, 6);
  const crops = await Promise.all(photos.map((p) => alignedCrop(p.path, p.name)));
  const shifted = await Promise.all(photos.map((p) => alignedCrop(p.path, p.name, 3)));
  const [a, m, s] = [crops, crops.map(mirrorImage), shifted].map((set) => e.embedImages(set));
  assert.equal(a[0].length, e.dimension);
  for (const v of a) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4, 'unit length');
  const different: number[] = [];
  for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) different.push(cosineSimilarity(a[i], a[j]));
  const worstDifferent = Math.max(...different);
  for (let i = 0; i < a.length; i++) {
    assert.ok(
      cosineSimilarity(a[i], m[i]) > worstDifferent,
      `${photos[i].name}: mirror ${cosineSimilarity(a[i], m[i]).toFixed(3)} vs different up to ${worstDifferent.toFixed(3)}`,
    );
    assert.ok(
      cosineSimilarity(a[i], s[i]) > worstDifferent,
      `${photos[i].name}: shift ${cosineSimilarity(a[i], s[i]).toFixed(3)} vs different up to ${worstDifferent.toFixed(3)}`,
    );
  }
});

test('embed is differentiable on the backend: finite, non-zero pixel gradients, no tensors left', async () => {
  const e = await sharedEmbedder();
  const before = tf.memory().numTensors;
  const images = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const target = tf.tidy(() => e.embed(tf.reverse(images, 0)));
  const gradient = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(e.embed(x as tf.Tensor4D), target)))(images);
  const values = gradient.dataSync();
  assert.deepEqual(gradient.shape, [2, 32, 32, 3]);
  assert.ok(values.every(Number.isFinite), 'finite');
  assert.ok(
    values.some((v) => v !== 0),
    'non-zero',
  );
  tf.dispose([images, target, gradient]);
  assert.equal(tf.memory().numTensors, before);
});

test('the MobileFaceNet row loads too (192-d); a folder without the model is a one-line ModelUnavailableError', async () => {
  await initBackend();
  const mobile = await createFaceEmbedder(await loadFaceEmbeddingModelFile({ name: 'mobilefacenet' }), FACE_EMBEDDING_MODELS.mobilefacenet);
  try {
    assert.equal(mobile.dimension, 192);
    assert.equal(mobile.inputSize, 112);
  } finally {
    mobile.dispose();
  }
  const empty = await mkdtemp(join(tmpdir(), 'facegar-embedding-'));
  try {
    await assert.rejects(
      loadFaceEmbeddingModelFile({ modelsDir: empty }),
      (error) => error instanceof ModelUnavailableError && error.message.includes(join(empty, 'faceres.json')) && !error.message.includes('\n'),
    );
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});
