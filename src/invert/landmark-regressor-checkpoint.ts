// (De)serialisation of a landmark regressor, in the encoder checkpoints' style: a JSON manifest
// (format, class, constructor config, the landmark vertices, step) plus one safetensors blob with
// every weight named "L.<parameter path>". File IO lives in io/node (Node only).
import { encodeParameterGroups, restoreParameterGroups } from '../gar/checkpoint-weights.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { LandmarkRegressor, validateLandmarkRegressorConfig, type LandmarkRegressorConfig } from './landmark-regressor.ts';

export const LANDMARK_REGRESSOR_CHECKPOINT_FORMAT = 1;

export interface LandmarkRegressorCheckpointManifest {
  format: 1;
  className: 'LandmarkRegressor';
  config: { network: LandmarkRegressorConfig };
  /**
   * The model vertex whose projection each predicted point is (iBUG-68 order; occluded ones
   * included): the fit matches the points with these vertices.
   */
  landmarkVertices: number[];
  /** The morphable model the vertices index: its name and face-area vertex count. */
  model: { name: string; vertexCount: number };
  step: number;
  /** The weight file beside the manifest. */
  weightsPath: string;
  /**
   * Passes inference runs by default: 2 re-cuts the crop around the first pass's points. The
   * trainer picks the one with the lower error on its held-out studio crops. Default 1.
   */
  passes?: number;
  /** SHA-256 of the weight file (hex); the Node loader checks it. */
  weightsSha256?: string;
  notes?: Record<string, string>;
}

/** Check a parsed manifest; throws Error with a one-line reason. */
export function validateLandmarkRegressorManifest(value: unknown): LandmarkRegressorCheckpointManifest {
  const m = value as LandmarkRegressorCheckpointManifest;
  if (!m || typeof m !== 'object') throw new Error('landmark regressor manifest is not a JSON object');
  if (m.format !== LANDMARK_REGRESSOR_CHECKPOINT_FORMAT)
    throw new Error(`landmark regressor checkpoint format ${String(m.format)} is not supported (expected ${LANDMARK_REGRESSOR_CHECKPOINT_FORMAT})`);
  if (m.className !== 'LandmarkRegressor') throw new Error(`checkpoint class ${String(m.className)} is not LandmarkRegressor`);
  if (!m.config?.network || !Number.isInteger(m.step) || typeof m.weightsPath !== 'string')
    throw new Error('landmark regressor manifest lacks config, step or weightsPath');
  validateLandmarkRegressorConfig(m.config.network);
  const count = m.config.network.landmarkCount;
  if (!Array.isArray(m.landmarkVertices) || m.landmarkVertices.length !== count || !m.landmarkVertices.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new Error(`landmarkVertices must be ${count} vertex indices`);
  }
  if (!m.model || typeof m.model.name !== 'string' || !Number.isInteger(m.model.vertexCount))
    throw new Error('landmark regressor manifest lacks model name and vertexCount');
  if (m.passes !== undefined && !(Number.isInteger(m.passes) && m.passes >= 1 && m.passes <= 4)) throw new Error('passes must be an integer from 1 to 4');
  if (m.weightsSha256 !== undefined && !/^[0-9a-f]{64}$/i.test(String(m.weightsSha256))) throw new Error('weightsSha256 must be 64 hex digits');
  return m;
}

/** A regressor's weights and manifest (its landmark vertices index `model`). */
export function encodeLandmarkRegressorCheckpoint(
  regressor: LandmarkRegressor,
  landmarkVertices: ArrayLike<number>,
  model: Pick<MorphableModel, 'name' | 'vertexCount'>,
  weightsPath: string,
  step: number,
  notes?: Record<string, string>,
): { manifest: LandmarkRegressorCheckpointManifest; weights: Uint8Array } {
  const manifest: LandmarkRegressorCheckpointManifest = {
    format: LANDMARK_REGRESSOR_CHECKPOINT_FORMAT,
    className: 'LandmarkRegressor',
    config: { network: regressor.config },
    landmarkVertices: Array.from(landmarkVertices),
    model: { name: model.name, vertexCount: model.vertexCount },
    step,
    weightsPath,
    ...(notes ? { notes } : {}),
  };
  return {
    manifest,
    weights: encodeParameterGroups([['L', regressor.namedParameters()]], {
      format: 'facegar-landmark-regressor',
      step: String(step),
      network: JSON.stringify(regressor.config),
    }),
  };
}

/** A decoded regressor and the model vertices its points stand for. */
export interface LoadedLandmarkRegressor {
  regressor: LandmarkRegressor;
  /** [L] the model vertex of each predicted point. */
  landmarkVertices: Uint32Array;
  manifest: LandmarkRegressorCheckpointManifest;
}

/**
 * Load a regressor for inference; with `model`, also check its vertices index that model.
 * Throws Error with a one-line reason (the caller turns it into a ModelUnavailableError).
 */
export function decodeLandmarkRegressor(
  manifestJson: unknown,
  weights: Uint8Array,
  model?: Pick<MorphableModel, 'name' | 'vertexCount'>,
): LoadedLandmarkRegressor {
  const manifest = validateLandmarkRegressorManifest(manifestJson);
  if (model && (manifest.model.vertexCount !== model.vertexCount || manifest.landmarkVertices.some((v) => v >= model.vertexCount))) {
    throw new Error(`its landmark vertices index ${manifest.model.name} (${manifest.model.vertexCount} vertices), not ${model.name} (${model.vertexCount})`);
  }
  const regressor = new LandmarkRegressor(manifest.config.network, 0);
  restoreParameterGroups(regressor, [['L', regressor.namedParameters()]], weights);
  return { regressor, landmarkVertices: Uint32Array.from(manifest.landmarkVertices), manifest };
}
