import * as tf from '@tensorflow/tfjs-core';
import { validateGarNetworkConfig, type GarNetworkConfig } from './gar-config.ts';
import { MappingNetwork } from './mapping-network.ts';
import { disposeParameters, prefixed, type ParameterOwner } from './parameters.ts';
import { SeededRandom } from '../common/seeded-random.ts';
import { SynthesisNetwork } from './synthesis-network.ts';
import type { NoiseMode } from './synthesis-layers.ts';

export interface MapLatentsOptions {
  truncationPsi?: number;
  /** Style mixing: latents for ws[cutoff…]; both given or neither. */
  mixingZ?: tf.Tensor2D;
  mixingCutoff?: number;
  /** Training: update the tracked w̄. */
  updateWAvg?: boolean;
}

/**
 * The GAR generator: mapping network z → w and a StyleGAN2 synthesis network whose every
 * block takes the normal map through normal injection modules. Weights are initialised from
 * `seed`, so two generators built with the same config and seed are identical.
 */
export class Generator implements ParameterOwner {
  static readonly className = 'GarGenerator';
  readonly config: GarNetworkConfig;
  readonly mapping: MappingNetwork;
  readonly synthesis: SynthesisNetwork;

  constructor(config: GarNetworkConfig, seed = 0) {
    this.config = validateGarNetworkConfig({ ...config });
    const random = new SeededRandom(seed);
    this.mapping = new MappingNetwork(
      { zDim: config.zDim, wDim: config.wDim, layers: config.mappingLayers, lrMultiplier: config.mappingLrMultiplier, wAvgBeta: 0.995 },
      random,
    );
    this.synthesis = new SynthesisNetwork(this.config, random);
  }

  get numWs(): number {
    return this.synthesis.numWs;
  }

  /** z [N, zDim] → ws [N, numWs, wDim]. */
  mapLatents(z: tf.Tensor2D, options: MapLatentsOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const psi = options.truncationPsi;
      const w = this.mapping.apply(z, { truncationPsi: psi, updateWAvg: options.updateWAvg });
      const n = z.shape[0];
      let ws = tf.tile(tf.expandDims(w, 1), [1, this.numWs, 1]) as tf.Tensor3D;
      if (options.mixingZ && options.mixingCutoff !== undefined && options.mixingCutoff < this.numWs) {
        const cutoff = options.mixingCutoff;
        const w2 = this.mapping.apply(options.mixingZ, { truncationPsi: psi });
        ws = tf.concat([tf.slice(ws, [0, 0, 0], [n, cutoff, -1]), tf.tile(tf.expandDims(w2, 1), [1, this.numWs - cutoff, 1])], 1) as tf.Tensor3D;
      }
      return ws;
    });
  }

  /** ws [N, numWs, wDim] + normals [N, R, R, 3] (n·0.5+0.5, background 0) → image [N, R, R, 3], ≈ −1…1. */
  synthesize(ws: tf.Tensor3D, normals: tf.Tensor4D, noise: NoiseMode = { kind: 'none' }): tf.Tensor4D {
    return this.synthesis.apply(ws, normals, noise);
  }

  /** mapLatents then synthesize. */
  generate(normals: tf.Tensor4D, z: tf.Tensor2D, options: MapLatentsOptions & { noise?: NoiseMode } = {}): tf.Tensor4D {
    return tf.tidy(() => this.synthesize(this.mapLatents(z, options), normals, options.noise));
  }

  /** Trainable variables (everything but w̄). */
  trainableVariables(): tf.Variable[] {
    return this.namedParameters()
      .filter(([, v]) => v.trainable)
      .map(([, v]) => v);
  }

  namedParameters(): [string, tf.Variable][] {
    return prefixed([
      ['mapping', this.mapping],
      ['synthesis', this.synthesis],
    ]);
  }

  describe(): string {
    return `Generator ${this.config.resolution}² z${this.config.zDim} w${this.config.wDim}, ${this.numWs} ws`;
  }

  dispose(): void {
    disposeParameters(this);
  }
}
