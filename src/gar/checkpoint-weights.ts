// The weight half of every facegar checkpoint (GAR and encoder): named groups of variables
// stored in one safetensors blob as "<group>.<parameter path>", and restored by the same names.
import * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors, encodeSafetensors, readSafetensorsHeader, type NamedArray } from './safetensors.ts';

/** A group name (e.g. "G", "opt_D") and its variables by parameter path. */
export type ParameterGroup = [string, [string, tf.Variable][]];

/** Every group's variables as float32 safetensors bytes (reads weights synchronously). */
export function encodeParameterGroups(groups: ParameterGroup[], metadata: Record<string, string>): Uint8Array {
  const arrays: NamedArray[] = [];
  for (const [group, params] of groups) {
    for (const [name, v] of params) arrays.push({ name: `${group}.${name}`, shape: v.shape, values: v.dataSync() as Float32Array });
  }
  return encodeSafetensors(arrays, metadata);
}

/**
 * Assign the saved weights to `owner`'s groups; on unreadable bytes, a missing name or a shape mismatch,
 * disposes `owner` and throws Error with a one-line reason. Returns `owner`.
 */
export function restoreParameterGroups<T extends { dispose(): void }>(owner: T, groups: ParameterGroup[], weights: Uint8Array): T {
  try {
    const { tensors } = decodeSafetensors(weights);
    for (const [group, params] of groups) restoreGroup(params, group, tensors);
  } catch (error) {
    owner.dispose();
    throw error;
  }
  return owner;
}

function restoreGroup(params: [string, tf.Variable][], group: string, tensors: Map<string, NamedArray>): void {
  for (const [name, v] of params) {
    const saved = tensors.get(`${group}.${name}`);
    if (!saved) throw new Error(`checkpoint lacks ${group}.${name}`);
    if (saved.shape.join(',') !== v.shape.join(',')) throw new Error(`checkpoint ${group}.${name} has shape [${saved.shape}], expected [${v.shape}]`);
    tf.tidy(() => v.assign(tf.tensor(saved.values, saved.shape, 'float32')));
  }
}

/**
 * Before a network is built from a checkpoint's config: the weights file must hold at least
 * `lowerBound` values under `group.` (a lower bound of what that config allocates), else the
 * config does not describe these weights (or asks for absurd sizes) and building it would
 * allocate for nothing. Reads the safetensors header only. Throws Error with a one-line reason.
 */
export function checkWeightsCover(weights: Uint8Array, group: string, lowerBound: number): void {
  const { entries } = readSafetensorsHeader(weights);
  const stored = entries.filter((e) => e.name.startsWith(`${group}.`)).reduce((sum, e) => sum + e.count, 0);
  if (stored < lowerBound) {
    throw new Error(`the config asks for at least ${lowerBound} ${group} weights, the file holds ${stored} (config and weights do not match)`);
  }
}
