import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { rasterize } from '../../src/raster/rasterize.ts';
import { interpolate } from '../../src/raster/interpolate.ts';
import { shadeSphericalHarmonics, sphericalHarmonicsBasisAt } from '../../src/shading/spherical-harmonics.ts';
import { renderNormalMap } from '../../src/shading/render-normal-map.ts';
import { renderShaded } from '../../src/shading/render-shaded.ts';
import { computeVertexNormalsArray } from '../../src/geometry/vertex-normals.ts';
import { icosphere, projectPerspective, seededRandom, translate } from '../raster/mesh-fixtures.ts';

const unitNormals = [
  [0, 0, 1],
  [1, 0, 0],
  [0, -1, 0],
  [1 / Math.sqrt(3), 1 / Math.sqrt(3), -1 / Math.sqrt(3)],
  [0.6, 0, 0.8],
];

test('SH shading equals hand-computed values', async () => {
  await initBackend();
  const albedo = [
    [0.5, 0.25, 1],
    [1, 1, 1],
    [0.2, 0.4, 0.6],
    [1, 0.5, 0.5],
    [0.3, 0.3, 0.3],
  ];
  // Ambient 1 in every channel, plus a red z term and a blue x² − y² term.
  const sh = new Float32Array(27);
  sh[0] = sh[1] = sh[2] = 1;
  sh[2 * 3 + 0] = 0.5;
  sh[8 * 3 + 2] = -0.25;
  const out = tf.tidy(() => shadeSphericalHarmonics(tf.tensor2d(albedo), tf.tensor2d(unitNormals), tf.tensor2d(sh, [9, 3])).arraySync()) as number[][];
  unitNormals.forEach(([x, y, z], i) => {
    const red = albedo[i][0] * (1 + 0.5 * (2 / Math.sqrt(3)) * z);
    const green = albedo[i][1];
    const blue = albedo[i][2] * (1 - 0.25 * (Math.sqrt(15) / 8) * (x * x - y * y));
    assert.ok(Math.abs(out[i][0] - red) < 1e-5 && Math.abs(out[i][1] - green) < 1e-6 && Math.abs(out[i][2] - blue) < 1e-5, `normal ${i}`);
  });
});

test('SH basis reproduces Ramamoorthi–Hanrahan irradiance with c = (√π/2)·L', () => {
  // E(n) = Σ Â_l L_lm Y_lm(n), real SH with the usual constants (0.282095, 0.488603, ...).
  const random = seededRandom(9);
  const radiance = Array.from({ length: 9 }, () => random() * 2 - 1);
  const bandFactor = [Math.PI, (2 * Math.PI) / 3, (2 * Math.PI) / 3, (2 * Math.PI) / 3, Math.PI / 4, Math.PI / 4, Math.PI / 4, Math.PI / 4, Math.PI / 4];
  for (const [x, y, z] of unitNormals) {
    const shFunctions = [
      0.282095,
      0.488603 * y,
      0.488603 * z,
      0.488603 * x,
      1.092548 * x * y,
      1.092548 * y * z,
      0.315392 * (3 * z * z - 1),
      1.092548 * x * z,
      0.546274 * (x * x - y * y),
    ];
    const irradiance = shFunctions.reduce((sum, value, k) => sum + bandFactor[k] * radiance[k] * value, 0);
    const basis = sphericalHarmonicsBasisAt(x, y, z);
    const ours = basis.reduce((sum, value, k) => sum + (Math.sqrt(Math.PI) / 2) * radiance[k] * value, 0);
    assert.ok(Math.abs(ours - irradiance) < 1e-5, `${ours} vs ${irradiance}`);
  }
});

/** A sphere of radius 1 centred at (0, 0, -4), seen through a perspective camera with f = 3 (NDC). */
function sphereScene(subdivisions: number) {
  const sphere = icosphere(subdivisions);
  const positionsCamera = translate(sphere.positions, 0, 0, -4);
  const clip = projectPerspective(positionsCamera, 3);
  return { ...sphere, positionsCamera, clip, vertexCount: sphere.positions.length / 3 };
}

test('normal map of a sphere matches the analytic normals', async () => {
  await initBackend();
  const scene = sphereScene(4);
  const size = 64;
  const r = rasterize(scene.clip, scene.triangles, { width: size, height: size });
  const before = tf.memory().numTensors;
  const normals = tf.tensor2d(computeVertexNormalsArray(scene.positionsCamera, scene.triangles), [scene.vertexCount, 3]);
  const { image, mask } = renderNormalMap(r, scene.triangles, normals);
  const rgb = image.dataSync(),
    covered = mask.dataSync();
  let count = 0,
    worstCos = 1;
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      const p = row * size + col;
      if (!covered[p]) {
        assert.deepEqual(Array.from(rgb.subarray(3 * p, 3 * p + 3)), [0, 0, 0]);
        continue;
      }
      // Ray from the eye through the pixel centre: d = (x_ndc / f, y_ndc / f, -1); first hit on the sphere.
      const d = [(((col + 0.5) / size) * 2 - 1) / 3, (1 - ((row + 0.5) / size) * 2) / 3, -1];
      const dd = d[0] ** 2 + d[1] ** 2 + 1,
        dc = 4; // d · centre, centre = (0, 0, -4)
      const discriminant = dc * dc - dd * (16 - 1);
      if (discriminant < 0.05) continue; // grazing rays: the faceted silhouette differs from the sphere
      const t = (dc - Math.sqrt(discriminant)) / dd;
      const analytic = [t * d[0], t * d[1], t * d[2] + 4];
      const rendered = [0, 1, 2].map((c) => rgb[3 * p + c] * 2 - 1);
      const cos = analytic.reduce((s, a, c) => s + a * rendered[c], 0) / Math.hypot(...rendered);
      worstCos = Math.min(worstCos, cos);
      count++;
    }
  }
  assert.ok(count > 1000, `${count} pixels compared`);
  assert.ok(worstCos > 0.999, `worst cosine ${worstCos}`);
  const centre = (size / 2) * size + size / 2;
  assert.ok(Math.abs(rgb[3 * centre + 2] - 1) < 0.01, 'facing the camera is blue (z = +1)');
  tf.dispose([normals, image, mask]);
  assert.equal(tf.memory().numTensors, before);
});

test('renderShaded: ambient light gives the albedo; gradients match finite differences', async () => {
  await initBackend();
  const scene = sphereScene(1);
  const size = 16;
  const r = rasterize(scene.clip, scene.triangles, { width: size, height: size });
  const random = seededRandom(21);
  const albedoValues = Float32Array.from({ length: scene.vertexCount * 3 }, () => 0.2 + 0.6 * random());
  const normalValues = computeVertexNormalsArray(scene.positionsCamera, scene.triangles);
  const shValues = Float32Array.from({ length: 27 }, (_, i) => (i < 3 ? 0.8 : 0.3 * (random() * 2 - 1)));
  const albedo = tf.tensor2d(albedoValues, [scene.vertexCount, 3]);
  const normals = tf.tensor2d(normalValues, [scene.vertexCount, 3]);
  const sh = tf.tensor2d(shValues, [9, 3]);
  const positions = tf.tensor2d(scene.clip, [scene.vertexCount, 4]);
  const pixelWeights = tf.randomUniform([size, size, 3], 0, 1, 'float32', 4);
  const before = tf.memory().numTensors;

  // Ambient only: shaded image = interpolated albedo.
  const ambient = tf.tensor2d(
    Float32Array.from({ length: 27 }, (_, i) => (i < 3 ? 1 : 0)),
    [9, 3],
  );
  const shaded = renderShaded({ rasterization: r, triangles: scene.triangles, albedo, vertexNormalsCamera: normals, shCoefficients: ambient });
  const plain = interpolate(albedo, r, scene.triangles);
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(shaded.image, plain.image))).dataSync()[0]);
  assert.ok(difference < 1e-6);
  assert.ok(tf.tidy(() => tf.sum(shaded.mask).dataSync()[0]) > 50);
  tf.dispose([ambient, shaded.image, shaded.mask, plain.image, plain.mask]);

  const loss = (a: tf.Tensor2D, n: tf.Tensor2D, s: tf.Tensor2D, p: tf.Tensor2D) =>
    tf.sum(
      tf.mul(
        tf.square(
          renderShaded({
            rasterization: r,
            triangles: scene.triangles,
            albedo: a,
            vertexNormalsCamera: n,
            shCoefficients: s,
            positionsClip: p,
          }).image,
        ),
        pixelWeights,
      ),
    ) as tf.Scalar;
  const grads = tf.grads((a: tf.Tensor, n: tf.Tensor, s: tf.Tensor, p: tf.Tensor) =>
    loss(a as tf.Tensor2D, n as tf.Tensor2D, s as tf.Tensor2D, p as tf.Tensor2D),
  )([albedo, normals, sh, positions]);
  const analytic = grads.map((g) => g.dataSync());
  tf.dispose(grads);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');

  const inputs = [albedoValues, normalValues, shValues, scene.clip];
  const shapes: [number, number][] = [
    [scene.vertexCount, 3],
    [scene.vertexCount, 3],
    [9, 3],
    [scene.vertexCount, 4],
  ];
  const names = ['albedo', 'normals', 'sh', 'positions'];
  for (let which = 0; which < 4; which++) {
    const eps = which === 3 ? 1e-3 : 1e-2;
    const evalAt = (i: number, delta: number) =>
      tf.tidy(() => {
        const args = inputs.map((values, k) => {
          const copy = Float32Array.from(values);
          if (k === which) copy[i] += delta;
          return tf.tensor2d(copy, shapes[k]);
        });
        return loss(args[0], args[1], args[2], args[3]).dataSync()[0];
      });
    const numeric = Array.from(inputs[which], (_, i) => (evalAt(i, eps) - evalAt(i, -eps)) / (2 * eps));
    const scale = Math.max(...numeric.map(Math.abs));
    assert.ok(scale > 1e-3, `${names[which]}: some gradient`);
    numeric.forEach((value, i) => {
      assert.ok(Math.abs(analytic[which][i] - value) < 2e-2 * scale, `${names[which]}[${i}]: ${analytic[which][i]} vs ${value}`);
    });
  }
  tf.dispose([albedo, normals, sh, positions, pixelWeights]);
});
