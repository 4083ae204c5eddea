// The trained networks of the GAR path, decoded from checkpoint bytes: the GAR generator (EMA
// weights) and, optionally, the encoder that inverts it. Plain bytes in, so the same code serves
// Node (files read by io/node/gar-models.ts) and browsers (fetched bytes).
import { ModelUnavailableError } from '../common/errors.ts';
import { decodeGarGenerator, validateGarCheckpointManifest } from '../gar/checkpoint.ts';
import type { Generator } from '../gar/generator.ts';
import { decodeFaceEncoder } from '../invert/encoder-checkpoint.ts';
import type { FaceEncoder } from '../invert/face-encoder.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import type { ModelBytes } from '../detect/graph-model.ts';

/** One checkpoint as read from disk: the parsed checkpoint.json and its safetensors bytes. */
export interface CheckpointBytes {
  manifest: unknown;
  weights: Uint8Array;
}

/**
 * What the GAR path needs. The GAR checkpoint may hold only the `G_ema.*` weights (a shipped
 * model); the encoder is optional (without it, refinement starts from the mean face).
 */
export interface GarModelFiles {
  gar: CheckpointBytes;
  encoder?: CheckpointBytes;
  /**
   * A shape encoder (the encoder architecture, trained on renders of known geometry for identity,
   * expression, pose and camera, not for the GAR latent): when given, its estimate starts the
   * fit and centres the identity prior; the GAR encoder then supplies only w.
   */
  shapeEncoder?: CheckpointBytes;
  /** Where they came from, for messages (e.g. a directory). */
  garSource?: string;
  encoderSource?: string;
  shapeEncoderSource?: string;
}

/** The decoded networks. Owns tensors: dispose(). */
export interface GarModels {
  generator: Generator;
  encoder?: FaceEncoder;
  shapeEncoder?: FaceEncoder;
  /** Training step of the GAR checkpoint. */
  garStep: number;
  dispose(): void;
}

/**
 * Decode the GAR generator (EMA weights) and the encoder, and check they fit each other and the
 * morphable model. Throws ModelUnavailableError (exit 6) with a one-line reason naming the source.
 */
export function decodeGarModels(files: GarModelFiles, model: MorphableModel): GarModels {
  const garName = files.garSource ?? 'the GAR checkpoint';
  const encoderName = files.encoderSource ?? 'the encoder checkpoint';
  let generator: Generator;
  let garStep: number;
  try {
    garStep = validateGarCheckpointManifest(files.gar.manifest).step;
    generator = decodeGarGenerator(files.gar.manifest, files.gar.weights, 'G_ema');
  } catch (error) {
    throw new ModelUnavailableError(`${garName}: cannot load the GAR (${oneLine(error)})`, { cause: error });
  }
  let encoder: FaceEncoder | undefined;
  try {
    if (files.encoder) encoder = decodeFaceEncoder(files.encoder.manifest, files.encoder.weights);
  } catch (error) {
    generator.dispose();
    throw new ModelUnavailableError(`${encoderName}: cannot load the encoder (${oneLine(error)})`, { cause: error });
  }
  let shapeEncoder: FaceEncoder | undefined;
  try {
    if (files.shapeEncoder) shapeEncoder = decodeFaceEncoder(files.shapeEncoder.manifest, files.shapeEncoder.weights);
  } catch (error) {
    generator.dispose();
    encoder?.dispose();
    throw new ModelUnavailableError(`${files.shapeEncoderSource ?? 'the shape encoder checkpoint'}: cannot load the shape encoder (${oneLine(error)})`, {
      cause: error,
    });
  }
  if (shapeEncoder && (shapeEncoder.config.identityCount !== model.identityCount || shapeEncoder.config.expressionCount !== model.expressionNames.length)) {
    const e = shapeEncoder.config;
    generator.dispose();
    encoder?.dispose();
    shapeEncoder.dispose();
    throw new ModelUnavailableError(
      `${files.shapeEncoderSource ?? 'the shape encoder checkpoint'}: ${e.identityCount} identity / ${e.expressionCount} expression outputs vs the model's ${model.identityCount} / ${model.expressionNames.length}`,
    );
  }
  if (encoder) {
    const e = encoder.config,
      g = generator.config;
    // The resolutions may differ: the encoder gets its own crop (see api/gar-face.ts).
    const mismatch =
      e.wDim !== g.wDim
        ? `latent size ${e.wDim} vs the GAR's ${g.wDim}`
        : e.identityCount !== model.identityCount || e.expressionCount !== model.expressionNames.length
          ? `${e.identityCount} identity / ${e.expressionCount} expression outputs vs the model's ${model.identityCount} / ${model.expressionNames.length}`
          : '';
    if (mismatch) {
      generator.dispose();
      encoder.dispose();
      shapeEncoder?.dispose();
      throw new ModelUnavailableError(`${encoderName}: the encoder does not fit ${garName} (${mismatch})`);
    }
  }
  return {
    generator,
    encoder,
    shapeEncoder,
    garStep,
    dispose() {
      generator.dispose();
      encoder?.dispose();
      shapeEncoder?.dispose();
    },
  };
}

function oneLine(error: unknown): string {
  return String((error as Error)?.message ?? error)
    .split('\n')[0]
    .slice(0, 300);
}
