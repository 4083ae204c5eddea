// Decoding the reconstructor's optional regressors from their files, each failure a
// ModelUnavailableError naming the file.
import { ModelUnavailableError } from '../common/errors.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { createFaceEmbedder, DEFAULT_FACE_EMBEDDING_MODEL, FACE_EMBEDDING_MODELS } from '../detect/face-embedding.ts';
import { decodeLandmarkRegressor, type LoadedLandmarkRegressor } from '../invert/landmark-regressor-checkpoint.ts';
import { decodeIdentityRegressor, type IdentityRegressor, type LoadedIdentityRegressor } from '../invert/identity-regressor.ts';
import type { ModelBytes } from '../detect/graph-model.ts';
import type { CheckpointBytes } from './gar-models.ts';

/** `source: cannot load the <what> (first line of the cause)`, keeping the cause. */
function cannotLoad(source: string, what: string, error: unknown): ModelUnavailableError {
  const reason = String((error as Error)?.message ?? error)
    .split('\n')[0]
    .slice(0, 300);
  return new ModelUnavailableError(`${source}: cannot load the ${what} (${reason})`, { cause: error });
}

/**
 * The identity regressor's file (src/invert/identity-regressor.ts) and the face embedding
 * network it reads (FaceRes); `source` names them in messages (e.g. the file's path).
 */
export interface IdentityRegressorFiles {
  weights: Uint8Array;
  embedding: ModelBytes;
  source?: string;
}

/** The identity regressor of `files` with its embedding network, checked against the model. */
export async function loadIdentityRegressor(files: IdentityRegressorFiles, model: MorphableModel): Promise<LoadedIdentityRegressor> {
  const source = files.source ?? 'the identity regressor';
  let regressor: IdentityRegressor;
  try {
    regressor = decodeIdentityRegressor(files.weights, source);
  } catch (error) {
    throw cannotLoad(source, 'identity regressor', error);
  }
  if (regressor.identityCount !== model.identityCount)
    throw new ModelUnavailableError(`${source}: ${regressor.identityCount} identity outputs vs the model's ${model.identityCount}`);
  const spec = FACE_EMBEDDING_MODELS[DEFAULT_FACE_EMBEDDING_MODEL];
  const embedder = await createFaceEmbedder(files.embedding, regressor.embeddingInputPx ? { ...spec, inputSize: regressor.embeddingInputPx } : spec);
  if (embedder.dimension !== regressor.embeddingDimension) {
    embedder.dispose();
    throw new ModelUnavailableError(`${source}: fitted on ${regressor.embeddingDimension}-long embeddings, the embedding network gives ${embedder.dimension}`);
  }
  return { regressor, embedder };
}

/** A landmark regressor checkpoint, decoded for the model. */
export function loadLandmarkRegressor(files: CheckpointBytes & { source?: string }, model: MorphableModel): LoadedLandmarkRegressor {
  try {
    return decodeLandmarkRegressor(files.manifest, files.weights, model);
  } catch (error) {
    throw cannotLoad(files.source ?? 'the landmark regressor checkpoint', 'landmark regressor', error);
  }
}
