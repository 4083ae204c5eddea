// (De)serialisation of GAR training state: a JSON manifest (format, class, constructor
// config, step, random state, …) plus one safetensors blob with every weight, named
// "<group>.<parameter path>" (groups: G, G_ema, D, opt_G, opt_D). File IO lives in io/node.
import { checkWeightsCover, encodeParameterGroups, restoreParameterGroups, type ParameterGroup } from './checkpoint-weights.ts';
import { GarTrainer, type TrainGarConfig } from './train-gar.ts';
import { Generator } from './generator.ts';
import { garGeneratorWeightLowerBound, validateGarNetworkConfig, type GarNetworkConfig } from './gar-config.ts';
import type { GeometrySampler } from './geometry-sampler.ts';
import type { RgbaImage } from '../common/image.ts';

export const CHECKPOINT_FORMAT = 1;

export interface GarCheckpointManifest {
  format: 1;
  className: 'GarTrainer';
  /** Constructor arguments: network architecture and training settings. */
  config: { network: GarNetworkConfig; train: TrainGarConfig };
  step: number;
  imagesSeen: number;
  randomState: number;
  pathLengthMean: number;
  adamSteps: { G: number; D: number };
  /** The weight file beside the manifest. */
  weightsPath: string;
  /** Free-form, e.g. the command line. */
  notes?: Record<string, string>;
}

function groups(trainer: GarTrainer): ParameterGroup[] {
  return [
    ['G', trainer.generator.namedParameters()],
    ['G_ema', trainer.generatorEma.namedParameters()],
    ['D', trainer.discriminator.namedParameters()],
    ['opt_G', trainer.optimizerG.namedState()],
    ['opt_D', trainer.optimizerD.namedState()],
  ];
}

/** Snapshot a trainer: manifest + safetensors bytes (reads weights synchronously). */
export function encodeGarCheckpoint(
  trainer: GarTrainer,
  weightsPath: string,
  notes?: Record<string, string>,
): { manifest: GarCheckpointManifest; weights: Uint8Array } {
  const manifest: GarCheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    className: 'GarTrainer',
    config: { network: trainer.network, train: trainer.config },
    step: trainer.step,
    imagesSeen: trainer.step * trainer.config.batchSize,
    randomState: trainer.random.state,
    pathLengthMean: trainer.pathLengthMean,
    adamSteps: { G: trainer.optimizerG.step, D: trainer.optimizerD.step },
    weightsPath,
    ...(notes ? { notes } : {}),
  };
  return {
    manifest,
    weights: encodeParameterGroups(groups(trainer), { format: 'facegar-gar', step: String(trainer.step), network: JSON.stringify(trainer.network) }),
  };
}

/**
 * A checkpoint's weights file name: beside its manifest, nothing else (no folders, no "..",
 * nothing hidden), since the manifest may come from a download.
 */
export function isPlainWeightsName(name: unknown): name is string {
  return typeof name === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/.test(name);
}

/** Check a parsed manifest (its network config within bounds, its weights beside it); throws Error with a one-line reason. */
export function validateGarCheckpointManifest(value: unknown): GarCheckpointManifest {
  const m = value as GarCheckpointManifest;
  if (!m || typeof m !== 'object') throw new Error('checkpoint manifest is not a JSON object');
  if (m.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint format ${String(m.format)} is not supported (expected ${CHECKPOINT_FORMAT})`);
  if (m.className !== 'GarTrainer') throw new Error(`checkpoint class ${String(m.className)} is not GarTrainer`);
  if (!m.config?.network || !m.config?.train || !Number.isInteger(m.step)) throw new Error('checkpoint manifest lacks config or step');
  if (!isPlainWeightsName(m.weightsPath)) throw new Error(`weightsPath ${JSON.stringify(m.weightsPath)} is not a file name beside the manifest`);
  try {
    validateGarNetworkConfig(m.config.network);
  } catch (error) {
    throw new Error(`network config: ${(error as Error).message}`);
  }
  return m;
}

/** Rebuild a trainer from a checkpoint: same weights, optimiser moments, step and random stream. */
export function decodeGarTrainer(manifestJson: unknown, weights: Uint8Array, sampler: GeometrySampler, realImages: RgbaImage[]): GarTrainer {
  const manifest = validateGarCheckpointManifest(manifestJson);
  for (const group of ['G', 'G_ema']) checkWeightsCover(weights, group, garGeneratorWeightLowerBound(manifest.config.network));
  const trainer = new GarTrainer({ network: manifest.config.network, train: manifest.config.train, sampler, realImages });
  restoreParameterGroups(trainer, groups(trainer), weights);
  trainer.step = manifest.step;
  trainer.random.state = manifest.randomState;
  trainer.pathLengthMean = manifest.pathLengthMean;
  trainer.optimizerG.step = manifest.adamSteps.G;
  trainer.optimizerD.step = manifest.adamSteps.D;
  return trainer;
}

/**
 * A new trainer whose generator (and its EMA copy) start from a saved GAR's weights, the EMA
 * ones where the checkpoint has them (an exported model holds only those); the discriminator,
 * the optimisers and the step start fresh, with `train` as the new run's settings. This is
 * fine-tuning a shipped GAR on other photos: the network is the checkpoint's, whatever preset
 * the new run names.
 */
export function garTrainerFrom(
  manifestJson: unknown,
  weights: Uint8Array,
  sampler: GeometrySampler,
  realImages: RgbaImage[],
  train: Partial<TrainGarConfig>,
): GarTrainer {
  const manifest = validateGarCheckpointManifest(manifestJson);
  checkWeightsCover(weights, 'G_ema', garGeneratorWeightLowerBound(manifest.config.network));
  const trainer = new GarTrainer({ network: manifest.config.network, train, sampler, realImages });
  return restoreParameterGroups(
    trainer,
    [
      ['G_ema', trainer.generator.namedParameters()],
      ['G_ema', trainer.generatorEma.namedParameters()],
    ],
    weights,
  );
}

/** Load only a generator (the EMA weights by default) from a checkpoint, for sampling and fitting. */
export function decodeGarGenerator(manifestJson: unknown, weights: Uint8Array, which: 'G_ema' | 'G' = 'G_ema'): Generator {
  const manifest = validateGarCheckpointManifest(manifestJson);
  checkWeightsCover(weights, which, garGeneratorWeightLowerBound(manifest.config.network));
  const generator = new Generator(manifest.config.network, 0);
  return restoreParameterGroups(generator, [[which, generator.namedParameters()]], weights);
}
