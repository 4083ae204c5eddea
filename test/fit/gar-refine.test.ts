import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { applyAffine2D } from '../../src/common/image.ts';
import { alignFaceCrop } from '../../src/detect/align-face-crop.ts';
import { GAR_PRESETS, Generator } from '../../src/gar/index.ts';
import { ModelTensors } from '../../src/fit/model-tensors.ts';
import { GarRefinement, refineWithGar, type GarRefineInput } from '../../src/fit/gar-refine.ts';
import { robustPixelLoss } from '../../src/fit/robust-pixel-loss.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';
import { validateGarRefineConfig } from '../../src/fit/gar-refine-config.ts';
import { createCropFrame, cropFocal, cropPoseToCamera, renderThroughGar } from '../../src/invert/index.ts';
import { transformPointsArray } from '../../src/geometry/camera.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { sharedModel } from '../helpers/model.ts';

// The default preset ends with the shading and settle stages; the tests of the GAR steps and of the
// landmark stage turn those off, and the stage tests turn on what they test.
const GAR_STEPS_ONLY = { shadingSteps: 0, settleSteps: 0 } as const;

let model: MorphableModel;
let models: ModelTensors;
let generator: Generator;
let input: GarRefineInput;
let render: ReturnType<typeof renderStudioPhoto>;
before(async () => {
  await initBackend({ backend: 'wasm' });
  model = await sharedModel();
  models = new ModelTensors(model);
  generator = new Generator(GAR_PRESETS.tiny, 21);
  render = renderStudioPhoto(model, sampleStudioScene(model, 12345, { width: 160, height: 160, maxYawDeg: 20 }));
  const { crop, cropFromImage } = alignFaceCrop(render.image, render.truth.landmarks2d, 32);
  const landmarks68 = new Float32Array(136);
  for (let k = 0; k < 68; k++) landmarks68.set(applyAffine2D(cropFromImage, render.truth.landmarks2d[2 * k], render.truth.landmarks2d[2 * k + 1]), 2 * k);
  const principal = applyAffine2D(cropFromImage, ...render.truth.camera.principalPointPx);
  input = { crop, landmarks68, frame: createCropFrame(model, 32, principal) };
});

/** Mean distance (crop px) of fitted landmarks from the input's detected ones. */
function landmarkError(landmarks2d: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < 68; k++) sum += Math.hypot(landmarks2d[2 * k] - input.landmarks68![2 * k], landmarks2d[2 * k + 1] - input.landmarks68![2 * k + 1]) / 68;
  return sum;
}

describe('GAR refinement (random tiny GAR, studio render)', () => {
  test('presets validate; unknown options and bad inputs are usage errors', () => {
    assert.equal(validateGarRefineConfig({}, 'fast').steps, 20);
    assert.ok(validateGarRefineConfig({}, 'quality').steps > validateGarRefineConfig().steps);
    assert.throws(() => validateGarRefineConfig({}, 'slow'), /fast, default, quality/);
    assert.throws(() => validateGarRefineConfig({ steps: -1 }), /steps/);
    assert.ok(validateGarRefineConfig().shadingSteps > 0 && validateGarRefineConfig().settleSteps > 0, 'the default shades, then settles');
    assert.equal(validateGarRefineConfig({}, 'quality').shadingSteps, 0);
    assert.ok(validateGarRefineConfig({}, 'shading').shadingSteps > 0);
    assert.equal(validateGarRefineConfig({}, 'shading').settleSteps, 0);
    assert.throws(() => validateGarRefineConfig({ shadingSteps: 2.5 }), /shadingSteps/);
    assert.throws(() => validateGarRefineConfig({ shadingSizePx: 8 }), /shadingSizePx/);
    assert.throws(() => new GarRefinement(generator, models, { ...input, crop: { width: 16, height: 16, data: new Uint8ClampedArray(1024) } }), /32×32/);
    assert.throws(
      () => new GarRefinement(generator, models, { ...input, shadingCrop: { width: 64, height: 32, data: new Uint8ClampedArray(8192) } }),
      /square/,
    );
  });

  test('a few steps lower the loss, results are finite, no tensor leaks', () => {
    refineWithGar(generator, models, input, { ...GAR_STEPS_ONLY, steps: 1 }); // warm-up: backends create a few lasting constants on first use
    const before = tf.memory().numTensors;
    const result = refineWithGar(generator, models, input, { ...GAR_STEPS_ONLY, steps: 8, landmarkStageSteps: 0 }, () => {});
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.equal(result.lossHistory.length, 9);
    assert.ok(result.lossHistory[8] < 0.8 * result.lossHistory[0], `loss ${result.lossHistory[0]} → ${result.lossHistory[8]}`);
    assert.ok(result.vertices.every(Number.isFinite) && result.w.every(Number.isFinite));
    assert.equal(result.render.width, 32);
    assert.ok(result.finalTerms.pixel > 0 && result.finalTerms.landmarkAndPriors > 0);
    assert.ok(result.expressionWeights.every((e) => e >= 0 && e <= 1));
    // Deterministic.
    const again = refineWithGar(generator, models, input, { ...GAR_STEPS_ONLY, steps: 8, landmarkStageSteps: 0 });
    assert.deepEqual(again.lossHistory, result.lossHistory);
  });

  test('the landmark stage before the GAR steps puts the model landmarks on the detected ones', () => {
    const without = refineWithGar(generator, models, input, { ...GAR_STEPS_ONLY, steps: 0, landmarkStageSteps: 0 });
    const staged = refineWithGar(generator, models, input, { ...GAR_STEPS_ONLY, steps: 0, landmarkStageSteps: 200 });
    assert.equal(without.landmarkStageSteps, 0);
    assert.ok(staged.landmarkStageSteps > 20 && staged.landmarkStageSteps <= 200, `${staged.landmarkStageSteps} steps`);
    assert.ok(staged.timingsMs.landmarks > 0);
    // 32-px crop: the mean face, frontal, is off by pixels; the fitted one by a fraction of one.
    assert.ok(
      landmarkError(staged.landmarks2d) < 0.5 * landmarkError(without.landmarks2d),
      `${landmarkError(without.landmarks2d)} → ${landmarkError(staged.landmarks2d)} px`,
    );
    assert.ok(landmarkError(staged.landmarks2d) < 0.6, `${landmarkError(staged.landmarks2d)} px`);
  });

  test('the GAR image has gradients with respect to the vertices that match finite differences', () => {
    const frame = input.frame;
    const camera = cropPoseToCamera({ eulerRad: [0, 0.2, 0], pivotPx: [0, 0.05], logFocal: 0, logDepth: 0 }, frame);
    const base = tf.tensor2d(transformPointsArray(model.neutral, camera.rotation, camera.translationMm), [model.vertexCount, 3]);
    const projection = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 3);
    const w = tf.tidy(() => tf.expandDims(generator.mapping.wAvg, 0)) as tf.Tensor2D;
    const focal = cropFocal({ logFocal: tf.scalar(0) }, frame);
    const f = (points: tf.Tensor) =>
      tf.tidy(() => tf.sum(tf.mul(renderThroughGar(generator, points as tf.Tensor2D, focal, frame.principalPointPx, model.triangles, w).image, projection)));
    const gradient = tf.tidy(() => tf.grad(f)(base));
    const g = gradient.arraySync() as number[][];
    const norms = g.map((row) => Math.hypot(...row));
    const top = norms
      .map((n, i) => [n, i])
      .sort((a, b) => b[0] - a[0])
      .slice(0, 3)
      .map(([, i]) => i);
    assert.ok(norms[top[0]] > 0, 'some vertex has a gradient');
    for (const vertex of top) {
      const direction = new Float32Array(model.vertexCount * 3);
      direction.set(
        g[vertex].map((x) => x / norms[vertex]),
        3 * vertex,
      );
      const epsilon = 0.02; // mm: far below a pixel, so coverage stays put
      const value = (sign: number) => tf.tidy(() => f(tf.add(base, tf.mul(tf.tensor2d(direction, [model.vertexCount, 3]), sign * epsilon))).dataSync()[0]);
      const numeric = (value(1) - value(-1)) / (2 * epsilon);
      assert.ok(Math.abs(numeric - norms[vertex]) < 0.15 * norms[vertex], `vertex ${vertex}: analytic ${norms[vertex]}, finite difference ${numeric}`);
    }
    tf.dispose([base, projection, w, focal, gradient]);
  });

  test('past the noise reference r the pixel loss d becomes 2r − r²/d: continuous, its slope falling as (r / d)²', () => {
    const pixelTerm = (config: Record<string, number>) => {
      const refinement = new GarRefinement(generator, models, input, config);
      try {
        return refinement.evaluate().pixel;
      } finally {
        refinement.dispose();
      }
    };
    const distance = pixelTerm({ pixelWeight: 1, pixelNoiseReference: 0 });
    assert.ok(distance > 0.05, `mean colour distance ${distance}`);
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-5 * b, `${what}: ${a} vs ${b}`);
    close(pixelTerm({ pixelWeight: 0.01, pixelNoiseReference: 0 }), 0.01 * distance, 'weighted');
    close(pixelTerm({ pixelWeight: 0.01, pixelNoiseReference: 2 * distance }), 0.01 * distance, 'below the reference: d');
    close(pixelTerm({ pixelWeight: 0.01, pixelNoiseReference: distance / 2 }), 0.01 * (distance - distance / 4), 'd = 2r: 2r − r/2');
    // Hand-computed with r = 0.2: d ≤ r → d; d > r → 0.4 − 0.04 / d, slope 0.04 / d².
    for (const [d, expected, slope] of [
      [0.1, 0.1, 1],
      [0.2, 0.2, 1],
      [0.4, 0.3, 0.25],
      [0.8, 0.35, 0.0625],
    ]) {
      const { value, grad } = tf.valueAndGrad((x: tf.Scalar) => robustPixelLoss(x, 0.2))(tf.scalar(d));
      close(value.dataSync()[0], expected, `value at ${d}`);
      close(grad.dataSync()[0], slope, `slope at ${d}`);
      tf.dispose([value, grad]);
    }
    assert.ok(Math.abs(robustPixelLoss(tf.scalar(0.2 + 1e-6), 0.2).dataSync()[0] - 0.2) < 1e-5, 'continuous at r');
  });

  test('the pixel loss alone moves every refined quantity (gradients through the GAR)', () => {
    const pixelOnly = { landmarkWeight: 0, identityPriorWeight: 0, expressionPriorWeight: 0, focalPriorWeight: 0, latentPriorWeight: 0 };
    const refinement = new GarRefinement(generator, models, { ...input, landmarks68: undefined }, pixelOnly);
    try {
      const variables = refinement.refinedVariables();
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => refinement.lossTerms().total), variables);
      const loss = value.dataSync()[0];
      for (const v of variables) {
        const g = grads[v.name];
        const norm = Math.sqrt(tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]));
        assert.ok(norm > 0, `no gradient for ${v.name} ${v.shape}`);
        // A small step against the gradient lowers the loss.
        const saved = tf.clone(v);
        const step = v.size > 3 ? 1e-3 : 1e-4;
        tf.tidy(() => v.assign(tf.sub(v, tf.mul(g, step / norm))));
        const moved = refinement.evaluate().total;
        v.assign(saved);
        saved.dispose();
        assert.ok(moved < loss, `${v.shape}: loss ${loss} → ${moved}`);
      }
      tf.dispose([value, ...Object.values(grads)]);
    } finally {
      refinement.dispose();
    }
  });

  test('identity, expression, pose, depth, focal and w each get a gradient, and a step along it alone lowers the full loss', () => {
    const refinement = new GarRefinement(generator, models, input);
    try {
      const K = models.identityCount;
      const v = refinement.variables;
      // Each quantity: its variable and the entries of it that belong to the quantity.
      const quantities: [string, tf.Variable, number, number][] = [
        ['identity', v.coefficients, 0, K],
        ['expression', v.coefficients, K, models.expressionCount],
        ['rotation', v.angles, 0, 3],
        ['translation (pivot direction)', v.direction, 0, 2],
        ['depth', v.logDepth, 0, 1],
        ['focal', v.logFocal, 0, 1],
        ['w', refinement.w, 0, generator.config.wDim],
      ];
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => refinement.lossTerms().total), refinement.refinedVariables());
      const loss = value.dataSync()[0];
      for (const [name, variable, offset, count] of quantities) {
        const g = grads[variable.name].dataSync();
        const part = new Float32Array(g.length);
        part.set(g.subarray(offset, offset + count), offset);
        const norm = Math.hypot(...part);
        assert.ok(norm > 0, `no gradient reaches ${name}`);
        const saved = variable.dataSync().slice();
        const step = count > 3 ? 1e-3 : 1e-4;
        tf.tidy(() => variable.assign(tf.sub(variable, tf.mul(tf.tensor(part, variable.shape), step / norm))));
        const moved = refinement.evaluate().total;
        tf.tidy(() => variable.assign(tf.tensor(saved, variable.shape)));
        assert.ok(moved < loss, `${name}: loss ${loss} → ${moved}`);
      }
      tf.dispose([value, ...Object.values(grads)]);
    } finally {
      refinement.dispose();
    }
  });

  test('the shading stage after the GAR steps lowers its loss and moves the shape, and holds the pose', () => {
    const base = { ...GAR_STEPS_ONLY, steps: 0, landmarkStageSteps: 60 };
    refineWithGar(generator, models, input, { ...base, shadingSteps: 1 }); // warm-up
    const before = tf.memory().numTensors;
    const without = refineWithGar(generator, models, input, base);
    const shaded = refineWithGar(generator, models, input, { ...base, shadingSteps: 12, shadingShapeRateFraction: 1 });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.equal(without.shadingStageSteps, 0);
    assert.equal(shaded.shadingStageSteps, 12);
    assert.deepEqual(shaded.eulerRad, without.eulerRad);
    assert.deepEqual(shaded.translationMm, without.translationMm);
    const moved = Math.max(...shaded.identity.map((v, i) => Math.abs(v - without.identity[i])));
    assert.ok(moved > 1e-3, `identity moved ${moved}`);
    assert.ok(shaded.vertices.every(Number.isFinite));

    // Its own loss falls, also on a shading crop at twice the GAR crop's resolution (the same alignment).
    for (const shadingCrop of [undefined, alignFaceCrop(render.image, render.truth.landmarks2d, 64).crop]) {
      const refinement = new GarRefinement(generator, models, { ...input, ...(shadingCrop ? { shadingCrop } : {}) }, { ...base, shadingSteps: 12 });
      try {
        refinement.runLandmarkStage();
        const history = refinement.runShadingStage();
        assert.equal(history.length, 12);
        assert.ok(history[11] < history[0], `shading loss ${history[0]} → ${history[11]}`);
      } finally {
        refinement.dispose();
      }
    }
  });

  test('settle steps after the shading stage keep its identity and bring the landmarks back to the detected points', () => {
    const base = { steps: 0, landmarkStageSteps: 60, shadingSteps: 12, shadingShapeRateFraction: 1, shadingWeight: 0.5, settleSteps: 0 };
    const shaded = refineWithGar(generator, models, input, base);
    const before = tf.memory().numTensors;
    const settled = refineWithGar(generator, models, input, { ...base, settleSteps: 60 });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual(Array.from(settled.identity), Array.from(shaded.identity), 'the identity stays where the shading stage left it');
    assert.ok(
      landmarkError(settled.landmarks2d) < landmarkError(shaded.landmarks2d),
      `landmark error ${landmarkError(shaded.landmarks2d)} → ${landmarkError(settled.landmarks2d)} px`,
    );
    assert.equal(shaded.settleStageSteps, 0);
    assert.equal(settled.settleStageSteps, 60);
    assert.ok(settled.vertices.every(Number.isFinite));
    assert.throws(() => validateGarRefineConfig({ settleSteps: 1.5 }), /settleSteps/);
  });
});
