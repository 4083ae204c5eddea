// The fast pieces of a GAR refinement step give what the plain versions give: the morphable
// model evaluated as row vector × matrix, vertex normals with a JS gradient, and the GAR render
// of only the visible submesh (compared with rasterising and shading the whole mesh).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { GAR_PRESETS, Generator } from '../../src/gar/index.ts';
import { ModelTensors } from '../../src/fit/model-tensors.ts';
import { ModelVertexEvaluator } from '../../src/fit/model-vertex-evaluator.ts';
import { cameraToClip, transformPointsArray } from '../../src/geometry/camera.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { computeVertexNormals } from '../../src/geometry/vertex-normals.ts';
import { renderThroughGar, vertexNormalsWithJsGradient } from '../../src/invert/render-through-gar.ts';
import { rasterize } from '../../src/raster/rasterize.ts';
import { renderNormalMap } from '../../src/shading/render-normal-map.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';
import { sharedModel } from '../helpers/model.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

let model: MorphableModel;
let models: ModelTensors;
before(async () => {
  await initBackend({ backend: 'wasm' });
  model = await sharedModel();
  models = new ModelTensors(model);
});

/** Largest |a − b| over the largest |a|. */
function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): { difference: number; scale: number } {
  let difference = 0,
    scale = 0;
  for (let i = 0; i < a.length; i++) {
    difference = Math.max(difference, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return { difference, scale };
}

describe('fast GAR refinement pieces', () => {
  test('ModelVertexEvaluator gives ModelTensors.vertices and its gradient', () => {
    const random = seededRandom(3);
    const count = models.identityCount + models.expressionCount;
    const coefficients = tf.tensor1d(Float32Array.from({ length: count }, () => random() - 0.5));
    const projection = tf.randomNormal([model.vertexCount, 3], 0, 1, 'float32', 4);
    const evaluator = new ModelVertexEvaluator(models);
    const before = tf.memory().numTensors;
    const loss = (vertices: (c: tf.Tensor1D) => tf.Tensor2D) => (c: tf.Tensor) => tf.sum(tf.mul(vertices(c as tf.Tensor1D), projection));
    const [fast, plain] = [(c: tf.Tensor1D) => evaluator.vertices(c), (c: tf.Tensor1D) => models.vertices(c)].map((vertices) =>
      tf.tidy(() => ({
        value: vertices(coefficients).dataSync(),
        gradient: tf.grad(loss(vertices))(coefficients).dataSync(),
      })),
    );
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    const values = relativeDifference(plain.value, fast.value);
    assert.ok(values.difference < 1e-5 * values.scale, `vertices differ by ${values.difference} mm`);
    const gradients = relativeDifference(plain.gradient, fast.gradient);
    assert.ok(gradients.scale > 0 && gradients.difference < 1e-4 * gradients.scale, `gradients differ by ${gradients.difference} of ${gradients.scale}`);
    evaluator.dispose();
    tf.dispose([coefficients, projection]);
  });

  test('vertexNormalsWithJsGradient gives computeVertexNormals and its gradient (an isolated vertex included)', () => {
    // The neutral face's first 3000 vertices, one of them moved off (its faces dropped: isolated).
    const vertexCount = 3000;
    const kept: number[] = [];
    for (let t = 0; t < model.triangles.length; t += 3) {
      const corners = [model.triangles[t], model.triangles[t + 1], model.triangles[t + 2]];
      if (corners.every((v) => v < vertexCount && v !== 17)) kept.push(...corners);
    }
    const triangles = Uint32Array.from(kept);
    const points = tf.tensor2d(model.neutral.subarray(0, 3 * vertexCount), [vertexCount, 3]);
    const projection = tf.randomNormal([vertexCount, 3], 0, 1, 'float32', 6);
    const [fast, plain] = [vertexNormalsWithJsGradient, computeVertexNormals].map((normals) =>
      tf.tidy(() => ({
        value: normals(points, triangles).dataSync(),
        gradient: tf
          .grad((p: tf.Tensor) => tf.sum(tf.mul(normals(p as tf.Tensor2D, triangles), projection)))(points)
          .dataSync(),
      })),
    );
    const values = relativeDifference(plain.value, fast.value);
    assert.ok(values.difference < 1e-5, `normals differ by ${values.difference}`);
    assert.deepEqual([...fast.value.subarray(3 * 17, 3 * 17 + 3)], [0, 0, 0]);
    const gradients = relativeDifference(plain.gradient, fast.gradient);
    assert.ok(gradients.scale > 0 && gradients.difference < 1e-3 * gradients.scale, `gradients differ by ${gradients.difference} of ${gradients.scale}`);
    tf.dispose([points, projection]);
  });

  test('renderThroughGar (visible submesh) equals shading the whole mesh: image, normal map and gradients', () => {
    const generator = new Generator(GAR_PRESETS.tiny, 21);
    const size = generator.config.resolution;
    const points = tf.tensor2d(transformPointsArray(model.neutral, rotationFromEuler(0.1, 0.45, -0.05), [4, -6, -520]), [model.vertexCount, 3]);
    const focal = tf.scalar(2.2 * size);
    const principalPointPx: [number, number] = [size / 2 + 0.7, size / 2 - 1.3];
    const w = tf.tidy(() => tf.expandDims(generator.mapping.wAvg, 0)) as tf.Tensor2D;
    const projection = tf.randomNormal([1, size, size, 3], 0, 1, 'float32', 8);
    // The plain version: every vertex through the camera, normals on the whole mesh.
    const wholeMesh = (pointsCamera: tf.Tensor2D, focalPx: tf.Scalar) => {
      const clip = cameraToClip(pointsCamera, focalPx, { principalPointPx, width: size, height: size });
      const rasterization = rasterize(clip.dataSync() as Float32Array, model.triangles, { width: size, height: size }, { cullBackFaces: true });
      const map = renderNormalMap(rasterization, model.triangles, computeVertexNormals(pointsCamera, model.triangles), clip);
      const normals = tf.expandDims(map.image, 0) as tf.Tensor4D;
      const ws = tf.tile(tf.expandDims(w, 1), [1, generator.numWs, 1]) as tf.Tensor3D;
      return { image: generator.synthesize(ws, normals), normals };
    };
    const submesh = (pointsCamera: tf.Tensor2D, focalPx: tf.Scalar) => renderThroughGar(generator, pointsCamera, focalPx, principalPointPx, model.triangles, w);
    const before = tf.memory().numTensors;
    const [fast, plain] = [submesh, wholeMesh].map((render) =>
      tf.tidy(() => {
        const { image, normals } = render(points, focal);
        const loss = (p: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(render(p as tf.Tensor2D, f as tf.Scalar).image, projection));
        const [gradientPoints, gradientFocal] = tf.grads(loss)([points, focal]);
        return { image: image.dataSync(), normals: normals.dataSync(), gradientPoints: gradientPoints.dataSync(), gradientFocal: gradientFocal.dataSync()[0] };
      }),
    );
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    let covered = 0;
    for (let i = 2; i < plain.normals.length; i += 3) if (plain.normals[i] > 0) covered++;
    assert.ok(covered > 0.2 * size * size, `${covered} covered pixels`);
    for (const key of ['image', 'normals', 'gradientPoints'] as const) {
      const { difference, scale } = relativeDifference(plain[key], fast[key]);
      assert.ok(scale > 0 && difference < 1e-4 * scale, `${key} differs by ${difference} of ${scale}`);
    }
    assert.ok(
      Math.abs(plain.gradientFocal - fast.gradientFocal) < 1e-4 * Math.abs(plain.gradientFocal),
      `focal gradient ${plain.gradientFocal} vs ${fast.gradientFocal}`,
    );
    generator.dispose();
    tf.dispose([points, focal, w, projection]);
  });
});
