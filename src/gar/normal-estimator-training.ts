// Training of the normal estimator (Adam on the mean cosine distance over face pixels) and its
// checkpoint: a JSON manifest plus one safetensors blob (groups "N" and "opt_N"), like the GAR's.
import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import { AdamOptimizer } from './adam.ts';
import { encodeParameterGroups, restoreParameterGroups, type ParameterGroup } from './checkpoint-weights.ts';
import { NormalEstimator, meanNormalAngleDeg, normalCosineLoss, validateNormalEstimatorConfig, type NormalEstimatorConfig } from './normal-estimator.ts';
import { stackNormalSamples, type NormalSample } from './normal-training-data.ts';
import { SeededRandom } from '../common/seeded-random.ts';

export interface TrainNormalEstimatorConfig {
  batchSize: number;
  learningRate: number;
  /** Mirror training samples left-right with probability ½. */
  mirror: boolean;
  seed: number;
}

export const DEFAULT_TRAIN_NORMAL_ESTIMATOR_CONFIG: Readonly<TrainNormalEstimatorConfig> = Object.freeze({
  batchSize: 8,
  learningRate: 0.002,
  mirror: true,
  seed: 0,
});

export function validateTrainNormalEstimatorConfig(config: Partial<TrainNormalEstimatorConfig>): TrainNormalEstimatorConfig {
  const out = { ...DEFAULT_TRAIN_NORMAL_ESTIMATOR_CONFIG, ...config };
  if (!Number.isInteger(out.batchSize) || out.batchSize < 1) throw invalidParameterError('batchSize', 'a positive integer', out.batchSize);
  if (!(out.learningRate > 0)) throw invalidParameterError('learningRate', 'a positive number', out.learningRate);
  if (!Number.isInteger(out.seed)) throw invalidParameterError('seed', 'an integer', out.seed);
  return out;
}

/** Adam(β 0.9, 0.99) over the estimator; every random draw (batches, mirroring) from one seeded stream saved in checkpoints. */
export class NormalEstimatorTrainer {
  readonly estimator: NormalEstimator;
  readonly config: TrainNormalEstimatorConfig;
  readonly optimizer: AdamOptimizer;
  readonly random: SeededRandom;
  step = 0;

  constructor(network: Partial<NormalEstimatorConfig>, train: Partial<TrainNormalEstimatorConfig> = {}) {
    this.config = validateTrainNormalEstimatorConfig(train);
    this.estimator = new NormalEstimator(network);
    this.random = new SeededRandom(this.config.seed);
    this.optimizer = new AdamOptimizer(this.estimator.namedParameters(), { learningRate: this.config.learningRate, beta1: 0.9, beta2: 0.99, epsilon: 1e-8 });
  }

  /** One Adam step on a random (mirrored) batch of `samples`; returns the batch's mean cosine distance before the step. */
  trainStep(samples: NormalSample[]): number {
    if (samples.length === 0) throw invalidParameterError('samples', 'at least one sample', 0);
    this.step++;
    const batch = Array.from({ length: this.config.batchSize }, () => samples[this.random.integer(samples.length)]);
    const { images, normalMaps } = stackNormalSamples(batch, this.estimator.config.resolution, this.config.mirror ? this.random : undefined);
    try {
      return this.fitBatch(images, normalMaps);
    } finally {
      tf.dispose([images, normalMaps]);
    }
  }

  /** One Adam step on a given batch (images [N, R, R, 3] −1…1, encoded normal maps); returns the loss before the step. */
  fitBatch(images: tf.Tensor4D, normalMaps: tf.Tensor4D): number {
    const { value, grads } = tf.variableGrads(() => normalCosineLoss(this.estimator.predict(images), normalMaps), this.estimator.trainableVariables());
    const loss = value.dataSync()[0];
    this.optimizer.apply(this.estimator.namedParameters().map(([, v]) => grads[v.name]));
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  }

  dispose(): void {
    this.estimator.dispose();
    this.optimizer.dispose();
  }
}

/**
 * Mean angle (degrees) and mean cosine distance between the estimator's normals and the truth
 * over the face pixels of `samples`, in batches of `batchSize` (no mirroring).
 */
export function evaluateNormalEstimator(
  estimator: NormalEstimator,
  samples: NormalSample[],
  batchSize = 16,
): { meanAngleDeg: number; cosineDistance: number; samples: number } {
  let angleSum = 0,
    distanceSum = 0,
    weight = 0;
  for (let start = 0; start < samples.length; start += batchSize) {
    const { images, normalMaps } = stackNormalSamples(samples.slice(start, start + batchSize), estimator.config.resolution);
    const predicted = estimator.predict(images);
    const pixels = tf.tidy(() => tf.sum(tf.cast(tf.greater(tf.sum(normalMaps, 3), 1e-6), 'float32')).dataSync()[0]);
    angleSum += meanNormalAngleDeg(predicted, normalMaps) * pixels;
    distanceSum += tf.tidy(() => normalCosineLoss(predicted, normalMaps).dataSync()[0]) * pixels;
    weight += pixels;
    tf.dispose([images, normalMaps, predicted]);
  }
  return { meanAngleDeg: weight ? angleSum / weight : 0, cosineDistance: weight ? distanceSum / weight : 0, samples: samples.length };
}

export const NORMAL_ESTIMATOR_CHECKPOINT_FORMAT = 1;

export interface NormalEstimatorCheckpointManifest {
  format: 1;
  className: 'NormalEstimator';
  config: { network: NormalEstimatorConfig; train: TrainNormalEstimatorConfig };
  step: number;
  randomState: number;
  adamStep: number;
  weightsPath: string;
  /** Last held-out evaluation, if any. */
  heldOut?: { meanAngleDeg: number; cosineDistance: number; samples: number; step: number };
  notes?: Record<string, string>;
}

function groups(trainer: NormalEstimatorTrainer): ParameterGroup[] {
  return [
    ['N', trainer.estimator.namedParameters()],
    ['opt_N', trainer.optimizer.namedState()],
  ];
}

/** Snapshot a trainer: manifest + safetensors bytes. */
export function encodeNormalEstimatorCheckpoint(
  trainer: NormalEstimatorTrainer,
  weightsPath: string,
  extra: Pick<NormalEstimatorCheckpointManifest, 'heldOut' | 'notes'> = {},
): { manifest: NormalEstimatorCheckpointManifest; weights: Uint8Array } {
  const manifest: NormalEstimatorCheckpointManifest = {
    format: NORMAL_ESTIMATOR_CHECKPOINT_FORMAT,
    className: 'NormalEstimator',
    config: { network: trainer.estimator.config, train: trainer.config },
    step: trainer.step,
    randomState: trainer.random.state,
    adamStep: trainer.optimizer.step,
    weightsPath,
    ...extra,
  };
  return {
    manifest,
    weights: encodeParameterGroups(groups(trainer), {
      format: 'facegar-normal-estimator',
      step: String(trainer.step),
      network: JSON.stringify(trainer.estimator.config),
    }),
  };
}

/** Check a parsed manifest; throws Error with a one-line reason. */
export function validateNormalEstimatorManifest(value: unknown): NormalEstimatorCheckpointManifest {
  const m = value as NormalEstimatorCheckpointManifest;
  if (!m || typeof m !== 'object') throw new Error('checkpoint manifest is not a JSON object');
  if (m.format !== NORMAL_ESTIMATOR_CHECKPOINT_FORMAT)
    throw new Error(`checkpoint format ${String(m.format)} is not supported (expected ${NORMAL_ESTIMATOR_CHECKPOINT_FORMAT})`);
  if (m.className !== 'NormalEstimator') throw new Error(`checkpoint class ${String(m.className)} is not NormalEstimator`);
  if (!m.config?.network || !m.config?.train || !Number.isInteger(m.step)) throw new Error('checkpoint manifest lacks config or step');
  validateNormalEstimatorConfig(m.config.network);
  return m;
}

/** Rebuild a trainer (weights, Adam moments, step, random stream) to resume training. */
export function decodeNormalEstimatorTrainer(manifestJson: unknown, weights: Uint8Array): NormalEstimatorTrainer {
  const manifest = validateNormalEstimatorManifest(manifestJson);
  const trainer = new NormalEstimatorTrainer(manifest.config.network, manifest.config.train);
  restoreParameterGroups(trainer, groups(trainer), weights);
  trainer.step = manifest.step;
  trainer.random.state = manifest.randomState;
  trainer.optimizer.step = manifest.adamStep;
  return trainer;
}

/** Load only the estimator (for the GAR's consistency loss or evaluation). */
export function decodeNormalEstimator(manifestJson: unknown, weights: Uint8Array): NormalEstimator {
  const manifest = validateNormalEstimatorManifest(manifestJson);
  const estimator = new NormalEstimator(manifest.config.network);
  return restoreParameterGroups(estimator, [['N', estimator.namedParameters()]], weights);
}
