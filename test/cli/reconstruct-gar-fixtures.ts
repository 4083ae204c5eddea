// Tiny random-weight GAR and encoder checkpoints on disk, as a shipped model would hold them:
// the GAR file has only the EMA generator's weights (G_ema.*), the encoder file only E.*.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_TRAIN_GAR_CONFIG, GAR_PRESETS, Generator } from '../../src/gar/index.ts';
import { encodeParameterGroups } from '../../src/gar/checkpoint-weights.ts';
import { DEFAULT_TRAIN_ENCODER_CONFIG, FaceEncoder, encoderNetworkConfig } from '../../src/invert/index.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';

/**
 * Writes `<garDir>/checkpoint.json + gar.safetensors` and `<encoderDir>/checkpoint.json + encoder.safetensors`;
 * `encoderResolution` (default the GAR's) gives the encoder a crop size of its own.
 */
export async function writeTinyGarModels(
  model: MorphableModel,
  garDir: string,
  encoderDir: string,
  seed = 3,
  encoderResolution = GAR_PRESETS.tiny.resolution,
): Promise<void> {
  const generator = new Generator(GAR_PRESETS.tiny, seed);
  const network = encoderNetworkConfig(
    'tiny',
    { identityCount: model.identityCount, expressionCount: model.expressionNames.length, wDim: GAR_PRESETS.tiny.wDim },
    { resolution: encoderResolution },
  );
  const encoder = new FaceEncoder(network, seed + 1);
  try {
    await mkdir(garDir, { recursive: true });
    await mkdir(encoderDir, { recursive: true });
    await writeFile(join(garDir, 'gar.safetensors'), encodeParameterGroups([['G_ema', generator.namedParameters()]], { format: 'facegar-gar' }));
    await writeFile(
      join(garDir, 'checkpoint.json'),
      JSON.stringify({
        format: 1,
        className: 'GarTrainer',
        config: { network: GAR_PRESETS.tiny, train: DEFAULT_TRAIN_GAR_CONFIG },
        step: 7,
        imagesSeen: 0,
        randomState: 0,
        pathLengthMean: 0,
        adamSteps: { G: 0, D: 0 },
        weightsPath: 'gar.safetensors',
      }),
    );
    await writeFile(join(encoderDir, 'encoder.safetensors'), encodeParameterGroups([['E', encoder.namedParameters()]], { format: 'facegar-encoder' }));
    await writeFile(
      join(encoderDir, 'checkpoint.json'),
      JSON.stringify({
        format: 1,
        className: 'EncoderTrainer',
        config: { network, train: DEFAULT_TRAIN_ENCODER_CONFIG },
        step: 3,
        randomState: 0,
        adamSteps: 0,
        weightsPath: 'encoder.safetensors',
      }),
    );
  } finally {
    generator.dispose();
    encoder.dispose();
  }
}
