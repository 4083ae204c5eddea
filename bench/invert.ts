// Cost of GAR refinement and encoder steps at 32² (tiny GAR) and 64² (small GAR), random
// weights (speed does not depend on training). A refinement step is split into the GAR's own
// forward + backward (w and the normal map) and the rest (model, rasterising, normals, landmarks,
// Adam). Run: node --import tsx bench/invert.ts
import { initBackend } from '../src/engine/backend.ts';
import { applyAffine2D } from '../src/common/image.ts';
import { alignFaceCrop } from '../src/detect/align-face-crop.ts';
import { GAR_PRESETS, Generator, GeometrySampler } from '../src/gar/index.ts';
import { ModelTensors } from '../src/fit/model-tensors.ts';
import { refineWithGar } from '../src/fit/gar-refine.ts';
import { EncoderTrainer, FaceEncoder, createCropFrame, encoderNetworkConfig, imageToGarTensor } from '../src/invert/index.ts';
import * as tf from '@tensorflow/tfjs-core';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { renderStudioPhoto } from '../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../src/shading/studio-scene.ts';

const backend = await initBackend();
const { model } = await loadMorphableModel({});
const models = new ModelTensors(model);
const render = renderStudioPhoto(model, sampleStudioScene(model, 777, { width: 256, height: 256 }));
for (const preset of ['tiny', 'small'] as const) {
  const size = GAR_PRESETS[preset].resolution;
  const generator = new Generator(GAR_PRESETS[preset], 1);
  const { crop, cropFromImage } = alignFaceCrop(render.image, render.truth.landmarks2d, size);
  const landmarks68 = new Float32Array(136);
  for (let k = 0; k < 68; k++) landmarks68.set(applyAffine2D(cropFromImage, render.truth.landmarks2d[2 * k], render.truth.landmarks2d[2 * k + 1]), 2 * k);
  const input = { crop, landmarks68, frame: createCropFrame(model, size, applyAffine2D(cropFromImage, ...render.truth.camera.principalPointPx)) };
  refineWithGar(generator, models, input, { steps: 2 }); // warm-up
  const steps = 10;
  // CPU time beside wall time: on a shared machine the wall clock also counts other processes.
  const cpuAtStep: number[] = [];
  const result = refineWithGar(generator, models, input, { steps }, () => cpuAtStep.push(cpuMs()));
  const stepCpuMs = (cpuAtStep[steps - 1] - cpuAtStep[0]) / (steps - 1);
  const garCpuMs = garForwardBackwardCpuMs(generator, size);
  const outputs = { identityCount: model.identityCount, expressionCount: model.expressionNames.length, wDim: generator.config.wDim };
  const encoder = new FaceEncoder(encoderNetworkConfig(preset, outputs), 1);
  const crops = imageToGarTensor(crop);
  encoder.estimate(crops);
  let started = performance.now();
  for (let i = 0; i < 10; i++) encoder.estimate(crops);
  const encodeMs = (performance.now() - started) / 10;
  crops.dispose();
  encoder.dispose();
  const trainer = new EncoderTrainer({
    network: encoderNetworkConfig(preset, outputs),
    train: { batchSize: 8, statisticsSamples: 16 },
    generator,
    sampler: new GeometrySampler(model, { resolution: size }),
  });
  trainer.initialiseOutputStatistics();
  trainer.trainStep();
  started = performance.now();
  for (let i = 0; i < 3; i++) trainer.trainStep();
  const trainMs = (performance.now() - started) / 3;
  trainer.dispose();
  generator.dispose();
  console.log(
    `${preset} ${size}²: GAR refine ${result.timingsMs.perStep.toFixed(0)} ms/step, cpu ${stepCpuMs.toFixed(0)} ms/step (GAR fwd+bwd cpu ${garCpuMs.toFixed(0)}, the rest ${(stepCpuMs - garCpuMs).toFixed(0)}; ${steps} steps; presets fast 20 / default 60 / quality 200 steps ≈ ${((result.timingsMs.perStep * 20) / 1000).toFixed(1)} / ${((result.timingsMs.perStep * 60) / 1000).toFixed(1)} / ${((result.timingsMs.perStep * 200) / 1000).toFixed(1)} s), encoder ${encodeMs.toFixed(1)} ms/crop, encoder training ${trainMs.toFixed(0)} ms/step (batch 8) [${backend}]`,
  );
}
models.dispose();

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Mean CPU ms of the generator's forward + backward to w and the normal map, as inside a refinement step. */
function garForwardBackwardCpuMs(generator: Generator, size: number, runs = 5): number {
  const w = tf.variable(tf.expandDims(generator.mapping.wAvg, 0));
  const normals = tf.variable(tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 1));
  const loss = () =>
    tf.tidy(() => tf.sum(generator.synthesize(tf.tile(tf.expandDims(w, 1), [1, generator.numWs, 1]) as tf.Tensor3D, normals as tf.Tensor4D)) as tf.Scalar);
  const once = () => {
    const { value, grads } = tf.variableGrads(loss, [w, normals]);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  once();
  const started = cpuMs();
  for (let i = 0; i < runs; i++) once();
  const ms = (cpuMs() - started) / runs;
  tf.dispose([w, normals]);
  return ms;
}
