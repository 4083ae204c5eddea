/**
 * Experiment: would a face-recognition identity term (the paper's identity loss) pull the fitted
 * shape towards the truth? For each face of a synthetic set, at the TRUE pose, focal length and
 * expression, the graphics renderer's light and skin colour are fitted to the photo (shape held),
 * then the face is rendered with several identities (the truth, the mean face, the identity
 * regressor's estimate, another face's truth), pasted over the photo's crop, and embedded with
 * FaceRes as the regressor runs it. The cosine to the photo's own embedding should be highest for
 * the truth if such a term can help. Also printed: whether the term's gradient at the regressor's
 * estimate points towards the truth (cosine between −gradient and truth − estimate, in prior units).
 *
 *   node --import tsx scripts/experiments/identity-loss-probe.ts --set SET[,SET…] [--n N] [--size 128] [--out F.jsonl]
 */
import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadIdentityRegressor } from '../../src/api/regressor-loading.ts';
import { applyAffine2D } from '../../src/common/image.ts';
import { alignFaceCrop } from '../../src/detect/align-face-crop.ts';
import { createFaceDetector } from '../../src/detect/index.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { LandmarkCorrespondence } from '../../src/fit/contour-landmarks.ts';
import { validateFitConfig } from '../../src/fit/fit-config.ts';
import { FitVariables } from '../../src/fit/fit-variables.ts';
import { poseVariableValues } from '../../src/fit/fixed-pose.ts';
import type { FitFrame } from '../../src/fit/landmark-stage.ts';
import { ModelTensors } from '../../src/fit/model-tensors.ts';
import { renderFaceInCrop, rgbTensor, runPhotometricStage, type FaceCrop } from '../../src/fit/photometric-stage.ts';
import { createCropFrame, similarityTurnAndScale, turnAboutOpticalAxis } from '../../src/invert/crop-frame.ts';
import { estimateIdentity } from '../../src/invert/identity-regressor.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { readIdentityRegressorFiles } from '../../src/io/node/gar-models.ts';
import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';
import { syntheticSetSource } from '../../src/io/node/synthetic-set-files.ts';
import { evaluateMorphableModel, trianglesWithinVertexRange } from '../../src/morphable/morphable-model.ts';
import { alignedVertexErrorsMm } from '../../src/eval/synthetic-benchmark.ts';
import { summarizeErrors } from '../../src/eval/error-statistics.ts';

const { values } = parseArgs({
  options: {
    set: { type: 'string' },
    n: { type: 'string' },
    size: { type: 'string', default: '128' },
    out: { type: 'string' },
    descend: { type: 'string', default: '0' },
    weight: { type: 'string', default: '0.01' },
    prior: { type: 'string', default: '1e-4' },
    regressor: { type: 'string', default: 'models/identity-regressor' },
  },
});
if (!values.set) throw new Error('--set SET[,SET…] is needed');
await initBackend({ backend: 'wasm' });
const sizePx = Number(values.size);
const { model } = await loadMorphableModel();
const models = new ModelTensors(model);
const loaded = await loadIdentityRegressor(await readIdentityRegressorFiles(values.regressor), model);
const detector = await createFaceDetector(await loadDetectorModelFiles());
const triangles = trianglesWithinVertexRange(model.triangles, model.narrowFaceVertexCount);
const K = model.identityCount;

type Row = Record<string, number | string>;
const rows: Row[] = [];
const sets = values.set.split(',');
const faces: { set: string; index: number }[] = [];
const sources = await Promise.all(sets.map((s) => syntheticSetSource(resolve(s), model, values.n === undefined ? Infinity : Number(values.n))));
sources.forEach((source, s) => {
  for (let index = 0; index < source.count; index++) faces.push({ set: sets[s], index });
});
// Distractor identities: each face is also rendered with the next face's true identity.
const truthIdentities: Float32Array[] = [];
for (const { set, index } of faces) truthIdentities.push((await sources[sets.indexOf(set)].face(index)).truth.identity);

for (let f = 0; f < faces.length; f++) {
  const { set, index } = faces[f];
  const { image, truth } = await sources[sets.indexOf(set)].face(index);
  const detection = (await detector.detect(image))[0];
  const aligned = alignFaceCrop(image, truth.landmarks2d, sizePx);
  const crop = aligned.crop;
  for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255;
  const { turnRad, scale } = similarityTurnAndScale(aligned.cropFromImage);
  const frameCrop = createCropFrame(model, sizePx, applyAffine2D(aligned.cropFromImage, truth.principalPointPx[0], truth.principalPointPx[1]));
  const frame: FitFrame = {
    focalPriorPx: frameCrop.focalRefPx,
    principalPointPx: frameCrop.principalPointPx,
    initialDepthMm: frameCrop.depthRefMm,
    pivotMm: frameCrop.pivotMm,
    faceSizePx: 0.45 * sizePx,
    shapePriorScale: 1,
    logFocalPriorMean: 0,
  };
  const turned = turnAboutOpticalAxis(truth.rotation, truth.translationMm, -turnRad);
  const pose = poseVariableValues({ ...turned, focalPx: truth.focalPx * scale }, frame);
  const variables = new FitVariables({ modeCount: K + models.expressionCount, yaw: pose.angles[1], direction: pose.direction });
  variables.lockPose(pose);
  const coefficientsOf = (identity: Float32Array) => {
    const c = new Float32Array(K + models.expressionCount);
    c.set(identity);
    c.set(truth.expression, K);
    return c;
  };
  tf.tidy(() => variables.coefficients.assign(tf.tensor1d(coefficientsOf(truth.identity))));
  const cropLandmarks = new Float32Array(136);
  for (let k = 0; k < 68; k++) cropLandmarks.set(applyAffine2D(aligned.cropFromImage, truth.landmarks2d[2 * k], truth.landmarks2d[2 * k + 1]), 2 * k);
  const faceCrop: FaceCrop = { sizePx, originPx: [0, 0], scale: 1, target: rgbTensor(crop) };
  const correspondence = new LandmarkCorrespondence(model);
  // Light and skin colour at the true shape (shape rate 0: the geometry stays).
  runPhotometricStage(
    models,
    correspondence,
    variables,
    frame,
    faceCrop,
    cropLandmarks,
    validateFitConfig({ photometricSteps: 60, photometricWeight: 1, photometricShapeRateFraction: 0 }),
  );
  variables.lockPose(pose);
  const photoEmbedding = tf.tidy(() => loaded.embedder.embed(tf.expandDims(faceCrop.target, 0) as tf.Tensor4D));
  /** Cosine between the photo's embedding and that of the current render pasted over the crop (differentiable). */
  const renderedCosine = () =>
    tf.tidy(() => {
      const { image, mask } = renderFaceInCrop(models, variables, frame, faceCrop, triangles);
      const pasted = tf.add(tf.mul(image, mask), tf.mul(faceCrop.target, tf.sub(1, mask)));
      return tf.sum(tf.mul(loaded.embedder.embed(tf.expandDims(pasted, 0) as tf.Tensor4D), photoEmbedding)) as tf.Scalar;
    });
  const cosineFor = (identity: Float32Array, withGradient = false): { cosine: number; gradient?: Float32Array } => {
    tf.tidy(() => variables.coefficients.assign(tf.tensor1d(coefficientsOf(identity))));
    const loss = renderedCosine;
    if (!withGradient) {
      const value = loss();
      const cosine = value.dataSync()[0];
      value.dispose();
      return { cosine };
    }
    const { value, grads } = tf.variableGrads(loss, [variables.coefficients]);
    const cosine = value.dataSync()[0];
    const gradient = (grads[variables.coefficients.name].dataSync() as Float32Array).slice(0, K);
    tf.dispose([value, ...Object.values(grads)]);
    return { cosine, gradient };
  };
  const regressed = detection ? estimateIdentity(loaded, image, detection.landmarks68, detection.mesh468).mean : new Float32Array(K);
  const other = truthIdentities[(f + 1) % faces.length];
  const half = truth.identity.map((v) => v / 2);
  const atRegressed = cosineFor(regressed, true);
  const towardsTruth = truth.identity.map((v, i) => v - regressed[i]);
  const g = atRegressed.gradient!;
  let dot = 0,
    gg = 0,
    tt = 0;
  for (let i = 0; i < K; i++) {
    dot += g[i] * towardsTruth[i];
    gg += g[i] * g[i];
    tt += towardsTruth[i] * towardsTruth[i];
  }
  const row: Row = {
    set,
    index,
    yawDeg: Math.round(truth.anglesDeg[1]),
    photoVsTruth: cosineFor(truth.identity).cosine,
    photoVsHalfTruth: cosineFor(half).cosine,
    photoVsMean: cosineFor(new Float32Array(K)).cosine,
    photoVsRegressed: atRegressed.cosine,
    photoVsOther: cosineFor(other).cosine,
    // The cosine rises along +gradient: does that lead towards the truth?
    gradientTowardsTruth: dot / Math.sqrt(gg * tt + 1e-30),
  };
  const descendSteps = Number(values.descend);
  if (descendSteps > 0) {
    // Adam on the identity alone (true pose and expression), from the regressor's estimate: the
    // term's weight against the regressor's prior (its per-mode error, as the fit weighs it).
    const noExpression = new Float32Array(models.expressionCount);
    const shapeError = (identity: Float32Array) =>
      summarizeErrors(
        alignedVertexErrorsMm(
          evaluateMorphableModel(model, identity, noExpression),
          evaluateMorphableModel(model, truth.identity, noExpression),
          model.vertexCount,
        ),
      ).median;
    const errorStd = loaded.regressor.errorStd;
    const weight = Number(values.weight),
      priorWeight = Number(values.prior);
    tf.tidy(() => variables.coefficients.assign(tf.tensor1d(coefficientsOf(regressed))));
    const prior = tf.tensor1d(regressed),
      precision = tf.tensor1d(errorStd.map((e) => 1 / (e * e)));
    const optimizer = tf.train.adam(0.03 * 0.3);
    const mask = tf.tensor1d(Float32Array.from({ length: K + models.expressionCount }, (_, i) => (i < K ? 1 : 0)));
    const losses: number[] = [];
    for (let step = 0; step < descendSteps; step++) {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() => {
            const cosine = renderedCosine();
            const identity = tf.slice(variables.coefficients, [0], [K]);
            const priorTerm = tf.mul(priorWeight, tf.sum(tf.mul(precision, tf.square(tf.sub(identity, prior)))));
            return tf.add(tf.mul(weight, tf.sub(1, cosine)), priorTerm) as tf.Scalar;
          }),
        [variables.coefficients],
      );
      losses.push(value.dataSync()[0]);
      const masked = tf.mul(grads[variables.coefficients.name], mask);
      optimizer.applyGradients([{ name: variables.coefficients.name, tensor: masked }]);
      tf.dispose([value, masked, ...Object.values(grads)]);
    }
    const descended = (variables.coefficients.dataSync() as Float32Array).slice(0, K);
    row.shapeErrorRegressed = shapeError(regressed);
    row.shapeErrorDescended = shapeError(descended);
    row.photoVsDescended = cosineFor(descended).cosine;
    row.lossFirst = losses[0];
    row.lossLast = losses[losses.length - 1];
    tf.dispose([prior, precision, mask]);
    optimizer.dispose();
  }
  rows.push(row);
  if (values.out) await appendFile(values.out, JSON.stringify(row) + '\n');
  process.stderr.write(`${f + 1}/${faces.length} ${JSON.stringify(row)}\n`);
  tf.dispose([faceCrop.target, photoEmbedding]);
  correspondence.dispose();
  variables.dispose();
}
const mean = (key: string) => rows.reduce((s, r) => s + (r[key] as number), 0) / rows.length;
const share = (test: (r: Row) => boolean) => ((100 * rows.filter(test).length) / rows.length).toFixed(1) + ' %';
console.log(`faces ${rows.length}`);
if (Number(values.descend) > 0)
  for (const key of ['shapeErrorRegressed', 'shapeErrorDescended', 'photoVsDescended']) console.log(`${key} ${mean(key).toFixed(4)}`);
for (const key of ['photoVsTruth', 'photoVsHalfTruth', 'photoVsMean', 'photoVsRegressed', 'photoVsOther', 'gradientTowardsTruth'])
  console.log(`${key} ${mean(key).toFixed(4)}`);
console.log(`truth > mean: ${share((r) => (r.photoVsTruth as number) > (r.photoVsMean as number))}`);
console.log(`truth > regressed: ${share((r) => (r.photoVsTruth as number) > (r.photoVsRegressed as number))}`);
console.log(`truth > other face's truth: ${share((r) => (r.photoVsTruth as number) > (r.photoVsOther as number))}`);
console.log(`gradient at the regressed identity points towards the truth: ${share((r) => (r.gradientTowardsTruth as number) > 0)}`);
detector.dispose();
loaded.embedder.dispose();
models.dispose();
