import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import type { RgbaImage } from '../common/image.ts';
import { AdamOptimizer, updateEma } from './adam.ts';
import { Discriminator } from './discriminator.ts';
import type { GarNetworkConfig } from './gar-config.ts';
import { Generator } from './generator.ts';
import type { GeometrySampler, SampledGeometry } from './geometry-sampler.ts';
import { landmarkConsistencyLoss, landmarkTargets, normalConsistencyLoss, type GeometryConsistencyModels } from './geometry-consistency.ts';
import { samplePairedGeometries } from './identity-consistency.ts';
import { SeededRandom } from '../common/seeded-random.ts';

export interface TrainGarConfig {
  batchSize: number;
  /** Adam learning rate of G and D. */
  learningRate: number;
  /** R1 weight γ and its lazy interval (D steps). */
  r1Gamma: number;
  r1Interval: number;
  /** Path-length regularisation weight (0 = off) and its lazy interval (G steps). */
  pathLengthWeight: number;
  pathLengthInterval: number;
  /**
   * EMA half-life of G in thousands of images, with StyleGAN2's ramp-up (the half-life is at most
   * this fraction of the images seen; 0 = no ramp-up, as StyleGAN2-ADA does when it resumes from a
   * trained network: a fine-tune's EMA starts as that network and keeps it from the first step).
   */
  emaKimg: number;
  emaRampup: number;
  /** Probability of mixing two latents in one sample. */
  styleMixingProbability: number;
  /** Mirror real images left-right with probability ½. */
  mirrorReal: boolean;
  seed: number;
  /** Geometry-consistency weights (0 = off; checkpoints without them resume with 0) and the landmark loss's lazy interval (G steps). */
  normalWeight: number;
  landmarkWeight: number;
  landmarkInterval: number;
  /**
   * Weight of the identity-feature loss given through `consistency.identity`, and its lazy interval
   * (G steps). On those steps the G batch is made of pairs (same z and identity coefficients, other
   * pose and expression), so the batch size must be even when the weight is > 0.
   */
  identityWeight: number;
  identityInterval: number;
  /**
   * Steps 1…N train D alone, G and its EMA held: a fresh discriminator catches up with a trained
   * generator before its gradients move it (fine-tuning, `garTrainerFrom`). 0 = off.
   */
  generatorFrozenSteps: number;
}

export const DEFAULT_TRAIN_GAR_CONFIG: Readonly<TrainGarConfig> = Object.freeze({
  batchSize: 4,
  learningRate: 0.0025,
  r1Gamma: 10,
  r1Interval: 16,
  pathLengthWeight: 2,
  pathLengthInterval: 4,
  emaKimg: 10,
  emaRampup: 0.05,
  styleMixingProbability: 0.9,
  mirrorReal: true,
  seed: 0,
  normalWeight: 0,
  landmarkWeight: 0,
  landmarkInterval: 4,
  identityWeight: 0,
  identityInterval: 4,
  generatorFrozenSteps: 0,
});

/** Fill in defaults and check every field; throws UsageError naming the bad one. */
export function validateTrainGarConfig(config: Partial<TrainGarConfig>): TrainGarConfig {
  const out = { ...DEFAULT_TRAIN_GAR_CONFIG, ...config };
  for (const key of ['batchSize', 'r1Interval', 'pathLengthInterval', 'landmarkInterval', 'identityInterval'] as const) {
    if (!Number.isInteger(out[key]) || out[key] < 1) throw invalidParameterError(key, 'a positive integer', out[key]);
  }
  for (const key of ['learningRate', 'emaKimg'] as const) if (!(out[key] > 0)) throw invalidParameterError(key, 'a positive number', out[key]);
  for (const key of ['r1Gamma', 'pathLengthWeight', 'emaRampup', 'styleMixingProbability', 'normalWeight', 'landmarkWeight', 'identityWeight'] as const) {
    if (!(out[key] >= 0)) throw invalidParameterError(key, 'a number ≥ 0', out[key]);
  }
  if (!Number.isInteger(out.seed)) throw invalidParameterError('seed', 'an integer', out.seed);
  if (!Number.isInteger(out.generatorFrozenSteps) || out.generatorFrozenSteps < 0)
    throw invalidParameterError('generatorFrozenSteps', 'an integer ≥ 0', out.generatorFrozenSteps);
  if (out.identityWeight > 0 && out.batchSize % 2 !== 0)
    throw invalidParameterError('batchSize', 'an even number (identityWeight > 0 pairs the samples)', out.batchSize);
  return out;
}

export interface StepLosses {
  step: number;
  /** Non-saturating G loss, mean softplus(−D(G(z))); absent on steps where G is frozen (`generatorFrozenSteps`). */
  lossG?: number;
  /** D loss, mean softplus(D(fake)) + softplus(−D(real)). */
  lossD: number;
  /** γ/2·|∇D(real)|² on steps where R1 ran. */
  r1?: number;
  /** Path-length penalty on steps where it ran. */
  pathLength?: number;
  /**
   * Unweighted consistency losses on steps where they ran (normal: cosine distance; landmark: error /
   * inter-ocular distance; identity: the hook's value on a batch of pairs).
   */
  normal?: number;
  landmark?: number;
  identity?: number;
}

type ConsistencyName = 'normal' | 'landmark' | 'identity';

export interface GarTrainerOptions {
  network: GarNetworkConfig;
  train: Partial<TrainGarConfig>;
  sampler: GeometrySampler;
  /** Real aligned crops, each network.resolution² (RGBA; alpha ignored). */
  realImages: RgbaImage[];
}

/**
 * Unpaired adversarial training of the GAR, one optimiser step of G and of D per `step()`:
 * geometry from the model prior (the sampler) → normal maps; G(normals, z) against D(real crops);
 * non-saturating logistic loss, lazy R1, optional lazy path-length regularisation, EMA of G,
 * Adam(β1 = 0, β2 = 0.99); optional geometry-consistency losses through frozen judges (the
 * identity loss, every `identityInterval` G steps, on a G batch of pairs that share z and identity
 * coefficients). Every random draw comes from one seeded stream whose state is part of the
 * training state, so a resumed run continues exactly.
 */
export class GarTrainer {
  readonly network: GarNetworkConfig;
  readonly config: TrainGarConfig;
  readonly generator: Generator;
  readonly generatorEma: Generator;
  readonly discriminator: Discriminator;
  readonly optimizerG: AdamOptimizer;
  readonly optimizerD: AdamOptimizer;
  readonly random: SeededRandom;
  readonly sampler: GeometrySampler;
  private readonly realImages: RgbaImage[];
  step = 0;
  pathLengthMean = 0;
  /** Frozen judges of the consistency losses; set them before stepping with their weights > 0 (also after decoding a checkpoint). */
  consistency: GeometryConsistencyModels = {};

  constructor(options: GarTrainerOptions) {
    this.network = options.network;
    this.config = validateTrainGarConfig(options.train);
    const R = options.network.resolution;
    if (options.realImages.length === 0) throw invalidParameterError('realImages', 'at least one image', 0);
    const bad = options.realImages.find((im) => im.width !== R || im.height !== R);
    if (bad) throw invalidParameterError('realImages', `${R}×${R} images`, `${bad.width}×${bad.height}`);
    if (options.sampler.config.resolution !== R) throw invalidParameterError('sampler.resolution', String(R), options.sampler.config.resolution);
    if (this.config.batchSize % Math.min(options.network.mbstdGroupSize, this.config.batchSize) !== 0) {
      throw invalidParameterError('batchSize', `a multiple of the minibatch-stddev group (${options.network.mbstdGroupSize})`, this.config.batchSize);
    }
    this.sampler = options.sampler;
    this.realImages = options.realImages;
    this.random = new SeededRandom(this.config.seed);
    this.generator = new Generator(this.network, this.config.seed * 3 + 1);
    this.generatorEma = new Generator(this.network, this.config.seed * 3 + 1);
    this.discriminator = new Discriminator(this.network, this.config.seed * 3 + 2);
    const adam = { learningRate: this.config.learningRate, beta1: 0, beta2: 0.99, epsilon: 1e-8 };
    this.optimizerG = new AdamOptimizer(
      this.generator.namedParameters().filter(([, v]) => v.trainable),
      adam,
    );
    this.optimizerD = new AdamOptimizer(this.discriminator.namedParameters(), adam);
  }

  /** One G step (none while `generatorFrozenSteps` lasts) and one D step (with R1 / path length on their intervals). */
  trainStep(): StepLosses {
    const { batchSize } = this.config;
    const terms = this.consistencyTerms(this.step + 1); // checks the judges before any state changes
    this.step++;
    const losses: StepLosses = { step: this.step, lossD: 0 };

    // Generator, held while frozen; then the discriminator.
    const generatorTrains = this.step > this.config.generatorFrozenSteps;
    if (generatorTrains) this.generatorStep(terms, losses);

    // Discriminator: fakes (no gradient to G) vs reals, plus lazy R1 on reals.
    const d = this.generatorInputs(batchSize);
    const fakes = tf.tidy(() => this.generator.synthesize(this.generator.mapLatents(d.z, d.mixing), d.normals, { kind: 'random', random: this.random }));
    d.dispose();
    const reals = this.realBatch(batchSize);
    const withR1 = this.config.r1Gamma > 0 && this.step % this.config.r1Interval === 0;
    let r1Value: tf.Scalar | undefined;
    const dResult = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const adversarial = tf.add(tf.mean(tf.softplus(this.discriminator.apply(fakes))), tf.mean(tf.softplus(tf.neg(this.discriminator.apply(reals)))));
          if (!withR1) return adversarial as tf.Scalar;
          const gradient = tf.grad((x: tf.Tensor) => tf.sum(this.discriminator.apply(x as tf.Tensor4D)))(reals);
          const penalty = tf.mul(tf.mean(tf.sum(tf.square(gradient), [1, 2, 3])), this.config.r1Gamma / 2);
          r1Value = tf.keep(tf.clone(penalty)) as tf.Scalar;
          return tf.add(adversarial, tf.mul(penalty, this.config.r1Interval)) as tf.Scalar;
        }),
      this.discriminator.trainableVariables(),
    );
    const total = dResult.value.dataSync()[0];
    if (r1Value) {
      losses.r1 = r1Value.dataSync()[0];
      losses.lossD = total - losses.r1 * this.config.r1Interval;
      r1Value.dispose();
    } else {
      losses.lossD = total;
    }
    this.optimizerD.apply(this.discriminator.namedParameters().map(([, v]) => dResult.grads[v.name]));
    tf.dispose([dResult.value, ...Object.values(dResult.grads), fakes, reals]);

    if (generatorTrains) this.updateGeneratorEma();
    return losses;
  }

  /** One G step: non-saturating loss plus the due consistency terms (on a batch of pairs when the identity loss is due), and path length on its interval. */
  private generatorStep(terms: [ConsistencyName, number][], losses: StepLosses): void {
    const { batchSize } = this.config;
    const g = this.generatorInputs(
      batchSize,
      terms.some(([name]) => name === 'identity'),
    );
    const gVars = this.generator.trainableVariables();
    const gNames = this.generator.namedParameters().filter(([, v]) => v.trainable);
    const termValues: [ConsistencyName, tf.Scalar][] = [];
    let adversarial: tf.Scalar | undefined;
    const gResult = tf.variableGrads(
      () =>
        tf.tidy(() => {
          let ws = this.generator.mapLatents(g.z, { ...g.mixing, updateWAvg: true });
          if (g.pairRows) ws = tf.gather(ws, g.pairRows); // one w per pair, exactly equal in both rows
          const images = this.generator.synthesize(ws, g.normals, { kind: 'random', random: this.random });
          let loss = tf.mean(tf.softplus(tf.neg(this.discriminator.apply(images)))) as tf.Scalar;
          if (terms.length === 0) return loss;
          adversarial = tf.keep(tf.clone(loss));
          for (const [name, weight] of terms) {
            const value = this.consistencyLoss(name, images, ws, g.normals, g.geometries);
            termValues.push([name, tf.keep(tf.clone(value))]);
            loss = tf.add(loss, tf.mul(value, weight));
          }
          return loss;
        }),
      gVars,
    );
    losses.lossG = (adversarial ?? gResult.value).dataSync()[0];
    for (const [name, value] of termValues) losses[name] = value.dataSync()[0];
    tf.dispose([...(adversarial ? [adversarial] : []), ...termValues.map(([, v]) => v)]);
    this.optimizerG.apply(gNames.map(([, v]) => gResult.grads[v.name]));
    tf.dispose([gResult.value, ...Object.values(gResult.grads)]);

    if (this.config.pathLengthWeight > 0 && this.step % this.config.pathLengthInterval === 0) losses.pathLength = this.pathLengthStep();
    g.dispose();
  }

  /** EMA of G: half-life emaKimg thousand images, ramped up early in training unless emaRampup is 0. */
  private updateGeneratorEma(): void {
    const { batchSize } = this.config;
    const imagesSeen = this.step * batchSize;
    const halfLife = this.config.emaKimg * 1000;
    const emaImages = this.config.emaRampup > 0 ? Math.min(halfLife, imagesSeen * this.config.emaRampup) : halfLife;
    updateEma(
      this.generatorEma.namedParameters().map(([, v]) => v),
      this.generator.namedParameters().map(([, v]) => v),
      0.5 ** (batchSize / Math.max(emaImages, 1e-8)),
    );
  }

  /** The consistency losses due this step and their effective weights (the lazy landmark and identity losses scaled by their intervals). */
  private consistencyTerms(step: number): [ConsistencyName, number][] {
    const c = this.config,
      { normalEstimator, landmarks, identity } = this.consistency;
    if (c.normalWeight > 0 && !normalEstimator)
      throw invalidParameterError('consistency.normalEstimator', 'a loaded normal estimator (normalWeight > 0)', 'none');
    if (c.landmarkWeight > 0 && !landmarks) throw invalidParameterError('consistency.landmarks', 'a loaded FaceMesh (landmarkWeight > 0)', 'none');
    if (c.identityWeight > 0 && !identity) throw invalidParameterError('consistency.identity', 'an identity loss function (identityWeight > 0)', 'none');
    const terms: [ConsistencyName, number][] = [];
    if (c.normalWeight > 0) terms.push(['normal', c.normalWeight]);
    if (c.landmarkWeight > 0 && step % c.landmarkInterval === 0) terms.push(['landmark', c.landmarkWeight * c.landmarkInterval]);
    if (c.identityWeight > 0 && step % c.identityInterval === 0) terms.push(['identity', c.identityWeight * c.identityInterval]);
    return terms;
  }

  /** One unweighted consistency loss of G's `images` [N, R, R, 3] for their geometry. */
  private consistencyLoss(name: ConsistencyName, images: tf.Tensor4D, ws: tf.Tensor3D, normals: tf.Tensor4D, geometries: SampledGeometry[]): tf.Scalar {
    const { normalEstimator, landmarks, identity } = this.consistency; // present: checked by consistencyTerms
    if (name === 'normal') return normalConsistencyLoss(normalEstimator!, images, normals);
    if (name === 'landmark') {
      const targets = landmarkTargets(geometries);
      return landmarkConsistencyLoss(landmarks!, images, targets.points, targets.interOcularPx);
    }
    return identity!(images, ws, geometries);
  }

  /** Path-length regularisation (StyleGAN2): |J_wᵀ y| towards its running mean, y ~ N(0, 1/(H·W)) per pixel. */
  private pathLengthStep(): number {
    const n = Math.max(1, Math.floor(this.config.batchSize / 2));
    const inputs = this.generatorInputs(n);
    const R = this.network.resolution;
    const noiseSeed = this.random.seed();
    let lengths: number[] = [];
    const gNames = this.generator.namedParameters().filter(([, v]) => v.trainable);
    const result = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const ws = this.generator.mapLatents(inputs.z, inputs.mixing);
          const projection = tf.div(tf.randomNormal([n, R, R, 3], 0, 1, 'float32', noiseSeed), R);
          const wsGradient = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(this.generator.synthesize(w as tf.Tensor3D, inputs.normals), projection)))(ws);
          const pathLengths = tf.sqrt(tf.mean(tf.sum(tf.square(wsGradient), 2), 1)); // [n]
          lengths = Array.from(pathLengths.dataSync());
          const penalty = tf.mean(tf.square(tf.sub(pathLengths, this.pathLengthMean)));
          return tf.mul(penalty, this.config.pathLengthWeight * this.config.pathLengthInterval) as tf.Scalar;
        }),
      this.generator.trainableVariables(),
    );
    const value = result.value.dataSync()[0] / this.config.pathLengthInterval;
    this.optimizerG.apply(gNames.map(([, v]) => result.grads[v.name]));
    tf.dispose([result.value, ...Object.values(result.grads)]);
    inputs.dispose();
    const batchMean = lengths.reduce((s, x) => s + x, 0) / lengths.length;
    this.pathLengthMean += 0.01 * (batchMean - this.pathLengthMean);
    return value;
  }

  /**
   * Normal maps, latents and a style-mixing choice for `count` samples. `paired`: samples 2k and
   * 2k + 1 share z (and the mixing z) and the identity coefficients, and differ in pose and
   * expression; z then holds one row per pair and `pairRows` [count] int32 maps samples to rows.
   * Unpaired draws are the same as before pairing existed (resumed runs keep their stream).
   */
  private generatorInputs(count: number, paired = false) {
    let normals: tf.Tensor4D, geometries: SampledGeometry[];
    if (paired) {
      geometries = samplePairedGeometries(this.sampler, this.random, count / 2);
      normals = this.sampler.renderNormalMaps(geometries);
    } else {
      ({ normals, geometries } = this.sampler.sampleNormalMaps(this.random, count));
    }
    const rows = paired ? count / 2 : count;
    const zDim = this.network.zDim;
    const z = tf.tensor2d(this.random.normals(rows * zDim), [rows, zDim]);
    let mixing: { mixingZ?: tf.Tensor2D; mixingCutoff?: number } = {};
    if (this.random.next() < this.config.styleMixingProbability) {
      const numWs = this.generator.numWs;
      const cutoff = this.random.next() < 0.5 ? 1 + this.random.integer(numWs - 1) : numWs;
      mixing = { mixingZ: tf.tensor2d(this.random.normals(rows * zDim), [rows, zDim]), mixingCutoff: cutoff };
    }
    const pairRows = paired
      ? tf.tensor1d(
          Int32Array.from({ length: count }, (_, i) => i >> 1),
          'int32',
        )
      : undefined;
    return {
      normals,
      geometries,
      z,
      mixing,
      pairRows,
      dispose: () => tf.dispose([normals, z, ...(mixing.mixingZ ? [mixing.mixingZ] : []), ...(pairRows ? [pairRows] : [])]),
    };
  }

  /** `count` random real crops as [count, R, R, 3] in −1…1, mirrored at random. */
  private realBatch(count: number): tf.Tensor4D {
    const R = this.network.resolution;
    const out = new Float32Array(count * R * R * 3);
    for (let b = 0; b < count; b++) {
      const image = this.realImages[this.random.integer(this.realImages.length)];
      const mirror = this.config.mirrorReal && this.random.next() < 0.5;
      for (let y = 0; y < R; y++) {
        for (let x = 0; x < R; x++) {
          const source = (y * R + (mirror ? R - 1 - x : x)) * 4;
          const target = ((b * R + y) * R + x) * 3;
          for (let c = 0; c < 3; c++) out[target + c] = image.data[source + c] / 127.5 - 1;
        }
      }
    }
    return tf.tensor4d(out, [count, R, R, 3]);
  }

  dispose(): void {
    this.generator.dispose();
    this.generatorEma.dispose();
    this.discriminator.dispose();
    this.optimizerG.dispose();
    this.optimizerD.dispose();
  }
}
