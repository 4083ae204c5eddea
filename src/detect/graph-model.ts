import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { ModelUnavailableError } from '../common/errors.ts';

/**
 * A TF.js graph model held in memory: the parsed `model.json` and its weight bytes.
 * `weights` is either the shards in `weightsManifest` order or all of them joined.
 */
export interface ModelBytes {
  json: object;
  weights: Uint8Array[] | ArrayBuffer;
}

interface WeightsGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

const BYTES_PER_DTYPE: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint16: 2, uint8: 1, bool: 1 };

/**
 * Build a graph model from in-memory bytes (no file or network access, so it runs in
 * browsers too). `label` names the model in error messages. A JSON without a graph or a
 * weight size that disagrees with the manifest throws ModelUnavailableError.
 */
export async function loadGraphModelFromBytes(bytes: ModelBytes, label: string): Promise<GraphModel> {
  const { json, weightSpecs, weightData } = checkModelBytes(bytes, label);
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology as object,
    weightSpecs,
    weightData,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy ?? undefined,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata as Record<string, object> | undefined,
  };
  try {
    return await loadGraphModel({ load: async () => artifacts });
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0].slice(0, 200);
    throw new ModelUnavailableError(`${label}: cannot build the graph model (${reason})`, { cause: error });
  }
}

type GraphModelJson = {
  modelTopology?: unknown;
  weightsManifest?: WeightsGroup[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: object;
  userDefinedMetadata?: Record<string, unknown>;
};

/**
 * Check that `bytes` look like a TF.js graph model whose weights match its manifest
 * (ModelUnavailableError naming `label` otherwise). Returns the parts TF.js needs.
 */
export function checkModelBytes(
  bytes: ModelBytes,
  label: string,
): { json: GraphModelJson; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer } {
  const json = bytes.json as GraphModelJson;
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest)) {
    throw new ModelUnavailableError(`${label}: not a TF.js graph model JSON (no modelTopology or weightsManifest)`);
  }
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const weightData = joinWeights(bytes.weights);
  const expected = weightSpecs.reduce((sum, spec) => sum + expectedByteLength(spec), 0);
  if (expected !== weightData.byteLength) {
    throw new ModelUnavailableError(`${label}: weights hold ${weightData.byteLength} bytes but the model JSON expects ${expected}`);
  }
  return { json, weightSpecs, weightData };
}

function expectedByteLength(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((product, size) => product * size, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  return count * (BYTES_PER_DTYPE[dtype] ?? 4);
}

function joinWeights(weights: Uint8Array[] | ArrayBuffer): ArrayBuffer {
  if (weights instanceof ArrayBuffer) return weights;
  const total = weights.reduce((sum, shard) => sum + shard.byteLength, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const shard of weights) {
    joined.set(shard, offset);
    offset += shard.byteLength;
  }
  return joined.buffer;
}
