// Basic equalised-learning-rate layers (weights stored ~N(0,1)/lrMultiplier, scaled at run
// time by lrMultiplier/√fanIn, as in StyleGAN2), shared by the mapping network,
// the synthesis blocks and the discriminator.
import * as tf from '@tensorflow/tfjs-core';
import { createVariable, leakyReluGain, type ParameterOwner } from './parameters.ts';
import type { SeededRandom } from '../common/seeded-random.ts';

export type Activation = 'linear' | 'lrelu';

export interface FullyConnectedLayerConfig {
  inFeatures: number;
  outFeatures: number;
  activation?: Activation;
  /** Learning-rate multiplier (mapping network: 0.01). Default 1. */
  lrMultiplier?: number;
  /** Initial bias value (style affines: 1, so styles start near 1). Default 0. */
  biasInit?: number;
}

/** y = act(x·W·gain + b·lrMultiplier); x [N, in] → [N, out]. */
export class FullyConnectedLayer implements ParameterOwner {
  readonly config: Required<FullyConnectedLayerConfig>;
  readonly weight: tf.Variable; // [in, out]
  readonly bias: tf.Variable; // [out]
  private readonly weightGain: number;

  constructor(config: FullyConnectedLayerConfig, random: SeededRandom) {
    this.config = { activation: 'linear', lrMultiplier: 1, biasInit: 0, ...config };
    const { inFeatures, outFeatures, lrMultiplier, biasInit } = this.config;
    this.weight = createVariable(random.normals(inFeatures * outFeatures, 1 / lrMultiplier), [inFeatures, outFeatures]);
    this.bias = createVariable(new Float32Array(outFeatures).fill(biasInit / lrMultiplier), [outFeatures]);
    this.weightGain = lrMultiplier / Math.sqrt(inFeatures);
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const y = tf.add(tf.matMul(x, tf.mul(this.weight, this.weightGain) as tf.Tensor2D), tf.mul(this.bias, this.config.lrMultiplier));
      return (this.config.activation === 'lrelu' ? leakyReluGain(y) : y) as tf.Tensor2D;
    });
  }

  namedParameters(): [string, tf.Variable][] {
    return [
      ['weight', this.weight],
      ['bias', this.bias],
    ];
  }

  describe(): string {
    const { inFeatures, outFeatures, activation, lrMultiplier } = this.config;
    return `FullyConnected ${inFeatures}→${outFeatures} ${activation}${lrMultiplier !== 1 ? ` lr×${lrMultiplier}` : ''}`;
  }
}

export interface Conv2dLayerConfig {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  activation?: Activation;
  bias?: boolean;
  /** 2: average-pool ×2 before the convolution (discriminator). Default 1. */
  down?: 1 | 2;
  /** Extra output gain (residual branches: √0.5). Default 1. */
  gain?: number;
  /** Scale of the initial weights (1 = unit-variance outputs). Default 1. */
  initScale?: number;
}

/** Equalised-lr convolution, 'same' padding, NHWC: [N, H, W, in] → [N, H/down, W/down, out]. */
export class Conv2dLayer implements ParameterOwner {
  readonly config: Required<Conv2dLayerConfig>;
  readonly weight: tf.Variable; // [k, k, in, out]
  readonly bias: tf.Variable | undefined;
  private readonly weightGain: number;

  constructor(config: Conv2dLayerConfig, random: SeededRandom) {
    this.config = { activation: 'linear', bias: true, down: 1, gain: 1, initScale: 1, ...config };
    const { inChannels, outChannels, kernelSize, initScale } = this.config;
    this.weight = createVariable(random.normals(kernelSize * kernelSize * inChannels * outChannels, initScale), [
      kernelSize,
      kernelSize,
      inChannels,
      outChannels,
    ]);
    this.bias = this.config.bias ? createVariable(new Float32Array(outChannels), [outChannels]) : undefined;
    this.weightGain = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const input = this.config.down === 2 ? tf.avgPool(x, 2, 2, 'valid') : x;
      let y: tf.Tensor = tf.conv2d(input, tf.mul(this.weight, this.weightGain) as tf.Tensor4D, 1, 'same');
      if (this.bias) y = tf.add(y, this.bias);
      if (this.config.activation === 'lrelu') y = leakyReluGain(y);
      return (this.config.gain !== 1 ? tf.mul(y, this.config.gain) : y) as tf.Tensor4D;
    });
  }

  namedParameters(): [string, tf.Variable][] {
    return this.bias
      ? [
          ['weight', this.weight],
          ['bias', this.bias],
        ]
      : [['weight', this.weight]];
  }

  describe(): string {
    const { inChannels, outChannels, kernelSize, activation, down } = this.config;
    return `Conv2d ${kernelSize}×${kernelSize} ${inChannels}→${outChannels} ${activation}${down === 2 ? ' down×2' : ''}${this.bias ? '' : ' no-bias'}`;
  }
}
