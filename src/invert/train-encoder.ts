import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import { AdamOptimizer } from '../gar/adam.ts';
import type { Generator } from '../gar/generator.ts';
import type { GeometrySampler, SampledGeometry } from '../gar/geometry-sampler.ts';
import { SeededRandom } from '../common/seeded-random.ts';
import { rotationFromEuler, rotationMatrixTensor } from '../geometry/rotation.ts';
import { evaluateMorphableModel } from '../morphable/morphable-model.ts';
import { createCropFrame, cropCameraPoints, cropFocal, cropPoseOfSample, pivotDirection, type CropFrame, type CropPose } from './crop-frame.ts';
import type { EncoderNetworkConfig } from './encoder-config.ts';
import { FaceEncoder } from './face-encoder.ts';
import { renderThroughGar } from './render-through-gar.ts';
import { ShapeBasis, subsampleVertices } from './shape-basis.ts';

export interface TrainEncoderConfig {
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Weight of the standardised parameter loss (mean squared error, outputs in units of their spread). */
  parameterWeight: number;
  /** Weight of the vertex loss: mean distance (mm) of posed face vertices (rotation about the pivot, no translation). */
  vertexWeight: number;
  /** Face-area vertices the vertex loss uses. */
  vertexSubsample: number;
  /** Weight of the re-render loss: mean |GAR(predicted) − input| on the face; 0 = off (costly: one rasterisation per sample). */
  rerenderWeight: number;
  /** Truncation ψ of the latents the training images are rendered with. */
  truncationPsi: number;
  /** Samples used once, at the start, to set the encoder's output standardisation. */
  statisticsSamples: number;
}

export const DEFAULT_TRAIN_ENCODER_CONFIG: Readonly<TrainEncoderConfig> = Object.freeze({
  batchSize: 8,
  learningRate: 1e-3,
  seed: 0,
  parameterWeight: 1,
  vertexWeight: 0.05,
  vertexSubsample: 400,
  rerenderWeight: 0,
  truncationPsi: 0.8,
  statisticsSamples: 128,
});

export function validateTrainEncoderConfig(config: Partial<TrainEncoderConfig>): TrainEncoderConfig {
  const out = { ...DEFAULT_TRAIN_ENCODER_CONFIG, ...config };
  for (const key of ['batchSize', 'vertexSubsample', 'statisticsSamples'] as const) {
    if (!Number.isInteger(out[key]) || out[key] < 1) throw invalidParameterError(key, 'a positive integer', out[key]);
  }
  if (!(out.learningRate > 0)) throw invalidParameterError('learningRate', 'a positive number', out.learningRate);
  for (const key of ['parameterWeight', 'vertexWeight', 'rerenderWeight', 'truncationPsi'] as const) {
    if (!(out[key] >= 0) || !Number.isFinite(out[key])) throw invalidParameterError(key, 'a finite number ≥ 0', out[key]);
  }
  if (!Number.isInteger(out.seed)) throw invalidParameterError('seed', 'an integer', out.seed);
  return out;
}

export interface EncoderStepLosses {
  step: number;
  total: number;
  parameter: number;
  vertexMm: number;
  rerender?: number;
}

export interface EncoderTrainerOptions {
  network: EncoderNetworkConfig;
  train: Partial<TrainEncoderConfig>;
  /** The frozen GAR generator (EMA weights) that renders the training images. */
  generator: Generator;
  sampler: GeometrySampler;
}

/** Spread of the expression weights the parameter loss divides by (their scale in the prior). */
const EXPRESSION_SCALE = 0.2;

/**
 * Self-supervised encoder training on GAR samples with known parameters: geometry from the
 * model prior and pose distribution (the sampler), z → w, normal map → frozen GAR image, and
 * the encoder learns to predict (identity, expression, pose, focal, depth, w) back.
 * Loss = parameterWeight · standardised MSE + vertexWeight · posed-vertex distance (mm)
 * [+ rerenderWeight · re-render L1]. One seeded random stream, part of the checkpoint.
 */
export class EncoderTrainer {
  readonly network: EncoderNetworkConfig;
  readonly config: TrainEncoderConfig;
  readonly encoder: FaceEncoder;
  readonly generator: Generator;
  readonly sampler: GeometrySampler;
  readonly optimizer: AdamOptimizer;
  readonly random: SeededRandom;
  private readonly subsample: ShapeBasis;
  private fullShape: ShapeBasis | undefined;
  step = 0;

  constructor(options: EncoderTrainerOptions) {
    this.network = options.network;
    this.config = validateTrainEncoderConfig(options.train);
    const R = options.network.resolution;
    const model = options.sampler.model;
    if (options.generator.config.resolution !== R) throw invalidParameterError('generator.resolution', String(R), options.generator.config.resolution);
    if (options.sampler.config.resolution !== R) throw invalidParameterError('sampler.resolution', String(R), options.sampler.config.resolution);
    if (options.generator.config.wDim !== options.network.wDim)
      throw invalidParameterError('network.wDim', String(options.generator.config.wDim), options.network.wDim);
    if (model.identityCount !== options.network.identityCount || model.expressionNames.length !== options.network.expressionCount) {
      throw invalidParameterError(
        'network outputs',
        `K ${model.identityCount}, E ${model.expressionNames.length}`,
        `K ${options.network.identityCount}, E ${options.network.expressionCount}`,
      );
    }
    this.generator = options.generator;
    this.sampler = options.sampler;
    this.random = new SeededRandom(this.config.seed);
    this.encoder = new FaceEncoder(this.network, this.config.seed * 2 + 1);
    const pick = new SeededRandom(this.config.seed + 77);
    this.subsample = new ShapeBasis(
      model,
      subsampleVertices(model.narrowFaceVertexCount, this.config.vertexSubsample, () => pick.next()),
    );
    // Built inside tidy: AdamOptimizer's tf.variable(tf.zerosLike(…)) would otherwise keep the zero tensors alive.
    let optimizer!: AdamOptimizer;
    tf.tidy(() => {
      optimizer = new AdamOptimizer(
        this.encoder.namedParameters().filter(([, v]) => v.trainable),
        { learningRate: this.config.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
      );
    });
    this.optimizer = optimizer;
  }

  /** Set the output standardisation from `statisticsSamples` draws (own random stream; call once, before training). */
  initialiseOutputStatistics(): void {
    const random = new SeededRandom(this.config.seed + 1000);
    const count = this.config.statisticsSamples;
    const batch = this.drawBatch(random, count, false);
    const P = this.encoder.layout.size;
    const mean = new Float64Array(P),
      square = new Float64Array(P);
    for (const row of batch.targets)
      for (let i = 0; i < P; i++) {
        mean[i] += row[i] / count;
        square[i] += (row[i] * row[i]) / count;
      }
    const L = this.encoder.layout;
    const meanOut = new Float32Array(P),
      stdOut = new Float32Array(P);
    for (let i = 0; i < P; i++) {
      const isExpression = i >= L.expression && i < L.euler;
      meanOut[i] = isExpression ? -3 : mean[i];
      stdOut[i] = isExpression ? 1 : Math.max(Math.sqrt(Math.max(square[i] - mean[i] ** 2, 0)), 1e-3);
    }
    tf.tidy(() => {
      this.encoder.outputMean.assign(tf.tensor1d(meanOut));
      this.encoder.outputStd.assign(tf.tensor1d(stdOut));
    });
  }

  /** One optimiser step on a fresh batch. */
  trainStep(): EncoderStepLosses {
    this.step++;
    const { batchSize, parameterWeight, vertexWeight, rerenderWeight } = this.config;
    const batch = this.drawBatch(this.random, batchSize, true);
    const L = this.encoder.layout;
    const P = L.size,
      E = this.network.expressionCount,
      K = this.network.identityCount;
    const isExpression = new Float32Array(P);
    isExpression.fill(1, L.expression, L.euler);
    const terms: Record<string, tf.Scalar> = {};
    const targets = tf.tensor2d(
      batch.targets.flatMap((r) => Array.from(r)),
      [batchSize, P],
    );
    const trueVertices = tf.tensor3d(batch.posedSubsample, [batchSize, this.subsample.vertexIndices.length, 3]);
    const result = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const raw = this.encoder.applyRaw(batch.images!);
          const decoded = this.encoder.destandardise(raw);
          const expressionMask = tf.tensor1d(isExpression);
          const otherMask = tf.sub(1, expressionMask);
          const standardisedTarget = tf.div(tf.sub(targets, this.encoder.outputMean), this.encoder.outputStd);
          const weightsPred = tf.sigmoid(decoded);
          const squared = tf.add(
            tf.mul(tf.square(tf.sub(raw, standardisedTarget)), otherMask),
            tf.mul(tf.square(tf.div(tf.sub(weightsPred, targets), EXPRESSION_SCALE)), expressionMask),
          );
          const parameter = tf.div(tf.sum(squared), batchSize * P) as tf.Scalar;
          terms.parameter = tf.keep(parameter);
          // Posed vertices: R(euler)·(v − pivot), translation left to the parameter loss.
          const coefficients = tf.concat(
            [tf.slice(decoded, [0, L.identity], [batchSize, K]), tf.slice(weightsPred, [0, L.expression], [batchSize, E])],
            1,
          ) as tf.Tensor2D;
          const vertices = this.subsample.verticesBatch(coefficients);
          const pivot = tf.tensor1d(createCropFrame(this.sampler.model, 1).pivotMm);
          // Slices, not unstack: tfjs's Unpack gradient fails on a batch of one.
          const posed = tf.stack(
            Array.from({ length: batchSize }, (_, b) => {
              const v = tf.reshape(tf.slice(vertices, [b, 0, 0], [1, -1, -1]), [-1, 3]);
              const rotation = rotationMatrixTensor(tf.reshape(tf.slice(decoded, [b, L.euler], [1, 3]), [3]) as tf.Tensor1D);
              return tf.matMul(tf.sub(v, pivot), rotation, false, true);
            }),
          );
          const vertexMm = tf.mean(tf.sqrt(tf.add(tf.sum(tf.square(tf.sub(posed, trueVertices)), 2), 1e-6))) as tf.Scalar;
          terms.vertexMm = tf.keep(vertexMm);
          let total = tf.add(tf.mul(parameterWeight, parameter), tf.mul(vertexWeight, vertexMm)) as tf.Scalar;
          if (rerenderWeight > 0) {
            const rerender = this.rerenderLoss(decoded, weightsPred, batch.frames, batch.images!);
            terms.rerender = tf.keep(rerender);
            total = tf.add(total, tf.mul(rerenderWeight, rerender));
          }
          return total;
        }),
      this.encoder.trainableVariables(),
    );
    const losses: EncoderStepLosses = {
      step: this.step,
      total: result.value.dataSync()[0],
      parameter: terms.parameter.dataSync()[0],
      vertexMm: terms.vertexMm.dataSync()[0],
      ...(terms.rerender ? { rerender: terms.rerender.dataSync()[0] } : {}),
    };
    this.optimizer.apply(
      this.encoder
        .namedParameters()
        .filter(([, v]) => v.trainable)
        .map(([, v]) => result.grads[v.name]),
    );
    tf.dispose([result.value, ...Object.values(result.grads), ...Object.values(terms), targets, trueVertices, batch.images!]);
    return losses;
  }

  /** Masked L1 between the GAR render of the predicted parameters and the input images. */
  private rerenderLoss(decoded: tf.Tensor2D, weightsPred: tf.Tensor2D, frames: CropFrame[], images: tf.Tensor4D): tf.Scalar {
    const model = this.sampler.model;
    this.fullShape ??= new ShapeBasis(
      model,
      Uint32Array.from({ length: model.vertexCount }, (_, i) => i),
    );
    const L = this.encoder.layout,
      K = this.network.identityCount,
      E = this.network.expressionCount;
    const perSample = frames.map((frame, b) => {
      const row = (start: number, count: number, source = decoded) => tf.reshape(tf.slice(source, [b, start], [1, count]), [count]) as tf.Tensor1D;
      const coefficients = tf.concat([row(L.identity, K), row(L.expression, E, weightsPred)]);
      const logFocal = tf.reshape(row(L.logFocal, 1), []) as tf.Scalar;
      // Direction from the predicted pivot pixel: (u − cx)/f, −(v − cy)/f, differentiable.
      const pivot = row(L.pivot, 2);
      const focal = cropFocal({ logFocal }, frame);
      const pixel = tf.mul(tf.add(pivot, 0.5), frame.sizePx);
      const direction = tf.mul(tf.sub(pixel, tf.tensor1d(frame.principalPointPx)), tf.div(tf.tensor1d([1, -1]), focal)) as tf.Tensor1D;
      const pose = { angles: row(L.euler, 3), direction, logDepth: tf.reshape(row(L.logDepth, 1), []) as tf.Scalar, logFocal };
      const points = cropCameraPoints(this.fullShape!.vertices(coefficients), pose, frame);
      const render = renderThroughGar(
        this.generator,
        points,
        focal,
        frame.principalPointPx,
        model.triangles,
        tf.slice(decoded, [b, L.w], [1, this.network.wDim]) as tf.Tensor2D,
      );
      const target = tf.slice(images, [b, 0, 0, 0], [1, -1, -1, -1]);
      const mask = tf.expandDims(render.mask, 0);
      return tf.div(tf.sum(tf.mul(tf.abs(tf.sub(render.image, target)), mask)), tf.add(tf.mul(tf.sum(mask), 3), 1));
    });
    return tf.mean(tf.stack(perSample)) as tf.Scalar;
  }

  /**
   * `count` samples: geometry, latent, GAR images (when `render`), targets [P] in parameter
   * units (expression entries: weights in [0, 1]), and the true posed subsample [count*S*3].
   */
  private drawBatch(random: SeededRandom, count: number, render: boolean) {
    const model = this.sampler.model;
    const geometries: SampledGeometry[] = Array.from({ length: count }, () => this.sampler.sample(random));
    const zDim = this.generator.config.zDim;
    const z = random.normals(count * zDim);
    const ws = tf.tidy(() => this.generator.mapLatents(tf.tensor2d(z, [count, zDim]), { truncationPsi: this.config.truncationPsi }));
    const w = tf.tidy(() => tf.reshape(tf.slice(ws, [0, 0, 0], [count, 1, -1]), [count, -1]).arraySync() as number[][]);
    let images: tf.Tensor4D | undefined;
    if (render) {
      const normals = this.sampler.renderNormalMaps(geometries);
      images = tf.tidy(() => this.generator.synthesize(ws, normals));
      normals.dispose();
    }
    ws.dispose();
    const L = this.encoder.layout;
    const S = this.subsample.vertexIndices.length;
    const posedSubsample = new Float32Array(count * S * 3);
    const frames: CropFrame[] = [];
    const targets = geometries.map((g, b) => {
      const vertices = evaluateMorphableModel(model, g.identity, g.expression);
      const frame = createCropFrame(model, g.camera.width, g.camera.principalPointPx);
      frames.push(frame);
      const pose = cropPoseOfSample(model, g, vertices, frame);
      const row = new Float32Array(L.size);
      row.set(g.identity, L.identity);
      row.set(g.expression, L.expression);
      row.set(pose.eulerRad, L.euler);
      row.set(pose.pivotPx, L.pivot);
      row[L.logFocal] = pose.logFocal;
      row[L.logDepth] = pose.logDepth;
      row.set(w[b], L.w);
      const rotation = rotationFromEuler(...pose.eulerRad);
      const [px, py, pz] = frame.pivotMm;
      this.subsample.vertexIndices.forEach((v, s) => {
        const x = vertices[3 * v] - px,
          y = vertices[3 * v + 1] - py,
          zz = vertices[3 * v + 2] - pz;
        for (let r = 0; r < 3; r++) posedSubsample[(b * S + s) * 3 + r] = rotation[3 * r] * x + rotation[3 * r + 1] * y + rotation[3 * r + 2] * zz;
      });
      return row;
    });
    return { geometries, images, targets, posedSubsample, frames };
  }

  dispose(): void {
    this.encoder.dispose();
    this.optimizer.dispose();
    this.subsample.dispose();
    this.fullShape?.dispose();
  }
}

/** The camera direction an estimate's pose implies in a given crop frame (for callers that build FitVariables). */
export function directionOfPose(pose: CropPose, frame: CropFrame): [number, number] {
  return pivotDirection(pose.pivotPx, frame.focalRefPx * Math.exp(pose.logFocal), frame);
}
