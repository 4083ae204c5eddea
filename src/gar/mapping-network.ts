import * as tf from '@tensorflow/tfjs-core';
import { FullyConnectedLayer } from './layers.ts';
import { createVariable, prefixed, type ParameterOwner } from './parameters.ts';
import type { SeededRandom } from '../common/seeded-random.ts';

export interface MappingNetworkConfig {
  zDim: number;
  wDim: number;
  layers: number;
  /** Learning-rate multiplier of the layers (StyleGAN2: 0.01). */
  lrMultiplier: number;
  /** Decay of the tracked average w per training call (StyleGAN2: 0.995). */
  wAvgBeta: number;
}

/**
 * z [N, zDim] → w [N, wDim]: normalise z to unit second moment, then `layers` fully
 * connected lrelu layers. Tracks w̄ (a non-trainable variable, saved in checkpoints) for
 * the truncation trick w = w̄ + ψ·(w − w̄).
 */
export class MappingNetwork implements ParameterOwner {
  readonly config: MappingNetworkConfig;
  readonly layers: FullyConnectedLayer[] = [];
  /** [wDim] running average of w over training batches. */
  readonly wAvg: tf.Variable;

  constructor(config: MappingNetworkConfig, random: SeededRandom) {
    this.config = config;
    for (let i = 0; i < config.layers; i++) {
      this.layers.push(
        new FullyConnectedLayer(
          {
            inFeatures: i === 0 ? config.zDim : config.wDim,
            outFeatures: config.wDim,
            activation: 'lrelu',
            lrMultiplier: config.lrMultiplier,
          },
          random,
        ),
      );
    }
    this.wAvg = createVariable(new Float32Array(config.wDim), [config.wDim], false);
  }

  /**
   * @param z [N, zDim] float32 latents.
   * @param options.truncationPsi 1 = none; 0 = always w̄.
   * @param options.updateWAvg training only: move w̄ towards this batch's mean.
   */
  apply(z: tf.Tensor2D, options: { truncationPsi?: number; updateWAvg?: boolean } = {}): tf.Tensor2D {
    return tf.tidy(() => {
      let x = tf.mul(z, tf.rsqrt(tf.add(tf.mean(tf.square(z), 1, true), 1e-8))) as tf.Tensor2D;
      for (const layer of this.layers) x = layer.apply(x);
      if (options.updateWAvg) {
        const batchMean = tf.mean(x, 0);
        this.wAvg.assign(tf.add(tf.mul(this.wAvg, this.config.wAvgBeta), tf.mul(batchMean, 1 - this.config.wAvgBeta)));
      }
      const psi = options.truncationPsi ?? 1;
      if (psi !== 1) x = tf.add(this.wAvg, tf.mul(tf.sub(x, this.wAvg), psi)) as tf.Tensor2D;
      return x;
    });
  }

  namedParameters(): [string, tf.Variable][] {
    return [...prefixed(this.layers.map((layer, i) => [`fc${i}`, layer])), ['w_avg', this.wAvg]];
  }

  describe(): string {
    const { zDim, wDim, layers } = this.config;
    return `Mapping z${zDim} → w${wDim}, ${layers} layers`;
  }
}
