// (De)serialisation of encoder training state, in the GAR checkpoints' style: a JSON manifest
// (format, class, constructor config, step, random state, the GAR it was trained on) plus one
// safetensors blob with every weight, named "<group>.<parameter path>" (groups: E, opt_E).
// File IO lives in the CLI command (Node only).
import type { Generator } from '../gar/generator.ts';
import type { GeometrySampler } from '../gar/geometry-sampler.ts';
import { checkWeightsCover, encodeParameterGroups, restoreParameterGroups, type ParameterGroup } from '../gar/checkpoint-weights.ts';
import { isPlainWeightsName } from '../gar/checkpoint.ts';
import { encoderWeightLowerBound, validateEncoderNetworkConfig, type EncoderNetworkConfig } from './encoder-config.ts';
import { FaceEncoder } from './face-encoder.ts';
import { EncoderTrainer, type TrainEncoderConfig } from './train-encoder.ts';

export const ENCODER_CHECKPOINT_FORMAT = 1;

export interface EncoderCheckpointManifest {
  format: 1;
  className: 'EncoderTrainer';
  config: { network: EncoderNetworkConfig; train: TrainEncoderConfig };
  step: number;
  randomState: number;
  adamSteps: number;
  /** The weight file beside the manifest. */
  weightsPath: string;
  /** The GAR checkpoint the encoder learned from (its step and weight file name). */
  gar?: { step: number; weightsPath: string };
  notes?: Record<string, string>;
  /**
   * Measured on held-out renders after training: the RMS error of each identity coefficient
   * [K] (the model's prior has unit variance, so 1 = no better than the mean face). A shape
   * encoder's estimate becomes the fit's identity prior with precision 1 / error².
   */
  identityErrorStd?: number[];
}

function groups(trainer: EncoderTrainer): ParameterGroup[] {
  return [
    ['E', trainer.encoder.namedParameters()],
    ['opt_E', trainer.optimizer.namedState()],
  ];
}

/** Snapshot a trainer: manifest + safetensors bytes. */
export function encodeEncoderCheckpoint(
  trainer: EncoderTrainer,
  weightsPath: string,
  extra: Pick<EncoderCheckpointManifest, 'gar' | 'notes'> = {},
): { manifest: EncoderCheckpointManifest; weights: Uint8Array } {
  const manifest: EncoderCheckpointManifest = {
    format: ENCODER_CHECKPOINT_FORMAT,
    className: 'EncoderTrainer',
    config: { network: trainer.network, train: trainer.config },
    step: trainer.step,
    randomState: trainer.random.state,
    adamSteps: trainer.optimizer.step,
    weightsPath,
    ...extra,
  };
  return {
    manifest,
    weights: encodeParameterGroups(groups(trainer), { format: 'facegar-encoder', step: String(trainer.step), network: JSON.stringify(trainer.network) }),
  };
}

/** Check a parsed manifest; throws Error with a one-line reason. */
export function validateEncoderCheckpointManifest(value: unknown): EncoderCheckpointManifest {
  const m = value as EncoderCheckpointManifest;
  if (!m || typeof m !== 'object') throw new Error('encoder manifest is not a JSON object');
  if (m.format !== ENCODER_CHECKPOINT_FORMAT)
    throw new Error(`encoder checkpoint format ${String(m.format)} is not supported (expected ${ENCODER_CHECKPOINT_FORMAT})`);
  if (m.className !== 'EncoderTrainer') throw new Error(`checkpoint class ${String(m.className)} is not EncoderTrainer`);
  if (!m.config?.network || !m.config?.train || !Number.isInteger(m.step) || typeof m.weightsPath !== 'string')
    throw new Error('encoder manifest lacks config, step or weightsPath');
  if (!isPlainWeightsName(m.weightsPath)) throw new Error(`weightsPath ${JSON.stringify(m.weightsPath)} is not a file name beside the manifest`);
  try {
    validateEncoderNetworkConfig(m.config.network);
  } catch (error) {
    throw new Error(`network config: ${(error as Error).message}`);
  }
  if (m.identityErrorStd !== undefined) {
    const errors = m.identityErrorStd;
    if (!Array.isArray(errors) || errors.length !== m.config.network.identityCount || !errors.every((e) => typeof e === 'number' && e > 0 && e <= 10)) {
      throw new Error(`identityErrorStd must be ${m.config.network.identityCount} numbers in (0, 10]`);
    }
  }
  return m;
}

/** Rebuild a trainer from a checkpoint: weights, optimiser moments, step and random stream. */
export function decodeEncoderTrainer(manifestJson: unknown, weights: Uint8Array, generator: Generator, sampler: GeometrySampler): EncoderTrainer {
  const manifest = validateEncoderCheckpointManifest(manifestJson);
  checkWeightsCover(weights, 'E', encoderWeightLowerBound(manifest.config.network));
  const trainer = new EncoderTrainer({ network: manifest.config.network, train: manifest.config.train, generator, sampler });
  restoreParameterGroups(trainer, groups(trainer), weights);
  trainer.step = manifest.step;
  trainer.random.state = manifest.randomState;
  trainer.optimizer.step = manifest.adamSteps;
  return trainer;
}

/**
 * A new trainer (step 0, fresh optimiser moments and random stream, `train` settings) whose encoder
 * starts from a saved one's weights and output standardisation: fine-tuning an encoder for another
 * GAR of the same resolution and latent size. Throws a one-line Error when the networks differ.
 */
export function encoderTrainerFrom(
  manifestJson: unknown,
  weights: Uint8Array,
  generator: Generator,
  sampler: GeometrySampler,
  train: Partial<TrainEncoderConfig>,
): EncoderTrainer {
  const manifest = validateEncoderCheckpointManifest(manifestJson);
  const network = manifest.config.network;
  if (network.resolution !== generator.config.resolution || network.wDim !== generator.config.wDim)
    throw new Error(
      `the encoder takes ${network.resolution}² crops and w of ${network.wDim}, the GAR draws ${generator.config.resolution}² with w of ${generator.config.wDim}`,
    );
  checkWeightsCover(weights, 'E', encoderWeightLowerBound(network));
  const trainer = new EncoderTrainer({ network, train, generator, sampler });
  return restoreParameterGroups(trainer, [['E', trainer.encoder.namedParameters()]], weights);
}

/** Load only the encoder (for inference). */
export function decodeFaceEncoder(manifestJson: unknown, weights: Uint8Array): FaceEncoder {
  const manifest = validateEncoderCheckpointManifest(manifestJson);
  checkWeightsCover(weights, 'E', encoderWeightLowerBound(manifest.config.network));
  const encoder = new FaceEncoder(manifest.config.network, 0);
  restoreParameterGroups(encoder, [['E', encoder.namedParameters()]], weights);
  if (manifest.identityErrorStd) encoder.identityErrorStd = Float32Array.from(manifest.identityErrorStd);
  return encoder;
}
