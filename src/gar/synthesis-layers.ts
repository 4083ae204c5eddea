// The per-layer parts of a synthesis block: modulated conv layer, toRGB, and the normal
// injection module that turns a normal map into a spatial scale and bias.
import * as tf from '@tensorflow/tfjs-core';
import { Conv2dLayer, FullyConnectedLayer } from './layers.ts';
import { modulatedConv2d } from './modulated-conv2d.ts';
import { createVariable, leakyReluGain, prefixed, type ParameterOwner } from './parameters.ts';
import type { SeededRandom } from '../common/seeded-random.ts';

/** How noise inputs are drawn: 'random' from a seed per call, 'none' switched off (deterministic renders). */
export type NoiseMode = { kind: 'random'; random: SeededRandom } | { kind: 'none' };

export interface NormalInjectionConfig {
  /** Channels of the normal map (RGB: 3). */
  normalChannels: number;
  hiddenChannels: number;
  /** Channels of the features it scales and shifts. */
  featureChannels: number;
}

/**
 * Normal injection module (Piao et al.): a small residual conv block over the normal map at
 * the block's resolution, with two 3×3 heads: spatial scale γ and bias β, [N, H, W, C] each,
 * applied as x·(1 + γ) + β after a modulated convolution. Heads start small (×0.1) so the
 * generator starts close to plain StyleGAN2 but already depends on the geometry.
 */
export class NormalInjection implements ParameterOwner {
  readonly config: NormalInjectionConfig;
  readonly conv0: Conv2dLayer;
  readonly conv1: Conv2dLayer;
  readonly skip: Conv2dLayer;
  readonly scaleHead: Conv2dLayer;
  readonly biasHead: Conv2dLayer;

  constructor(config: NormalInjectionConfig, random: SeededRandom) {
    this.config = config;
    const { normalChannels, hiddenChannels, featureChannels } = config;
    this.conv0 = new Conv2dLayer({ inChannels: normalChannels, outChannels: hiddenChannels, kernelSize: 3, activation: 'lrelu' }, random);
    this.conv1 = new Conv2dLayer({ inChannels: hiddenChannels, outChannels: hiddenChannels, kernelSize: 3, activation: 'lrelu', gain: Math.SQRT1_2 }, random);
    this.skip = new Conv2dLayer({ inChannels: normalChannels, outChannels: hiddenChannels, kernelSize: 1, bias: false, gain: Math.SQRT1_2 }, random);
    this.scaleHead = new Conv2dLayer({ inChannels: hiddenChannels, outChannels: featureChannels, kernelSize: 3, initScale: 0.1 }, random);
    this.biasHead = new Conv2dLayer({ inChannels: hiddenChannels, outChannels: featureChannels, kernelSize: 3, initScale: 0.1 }, random);
  }

  /** normals [N, H, W, 3] → {scale, bias} [N, H, W, featureChannels]. */
  apply(normals: tf.Tensor4D): { scale: tf.Tensor4D; bias: tf.Tensor4D } {
    return tf.tidy(() => {
      const hidden = tf.add(this.conv1.apply(this.conv0.apply(normals)), this.skip.apply(normals)) as tf.Tensor4D;
      return { scale: this.scaleHead.apply(hidden), bias: this.biasHead.apply(hidden) };
    });
  }

  /** x·(1 + scale) + bias. */
  modulate(x: tf.Tensor4D, normals: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const { scale, bias } = this.apply(normals);
      return tf.add(tf.mul(x, tf.add(scale, 1)), bias) as tf.Tensor4D;
    });
  }

  namedParameters(): [string, tf.Variable][] {
    return prefixed([
      ['conv0', this.conv0],
      ['conv1', this.conv1],
      ['skip', this.skip],
      ['scale', this.scaleHead],
      ['bias', this.biasHead],
    ]);
  }

  describe(): string {
    const { normalChannels, hiddenChannels, featureChannels } = this.config;
    return `NormalInjection normals${normalChannels} → res-block ${hiddenChannels} → scale, bias ${featureChannels}`;
  }
}

export interface SynthesisLayerConfig {
  wDim: number;
  inChannels: number;
  outChannels: number;
  /** Output resolution (pixels per side). */
  resolution: number;
  up: 1 | 2;
  injectionHiddenChannels: number;
}

/**
 * One synthesis layer: style affine, modulated+demodulated 3×3 conv (optionally upsampling),
 * per-pixel noise with a learned strength, normal injection, bias, lrelu·√2.
 * x [N, r/up, r/up, in], w [N, wDim], normals [N, r, r, 3] → [N, r, r, out].
 */
export class SynthesisLayer implements ParameterOwner {
  readonly config: SynthesisLayerConfig;
  readonly affine: FullyConnectedLayer;
  readonly weight: tf.Variable; // [3, 3, in, out]
  readonly bias: tf.Variable;
  readonly noiseStrength: tf.Variable; // []
  readonly injection: NormalInjection;
  private readonly weightGain: number;

  constructor(config: SynthesisLayerConfig, random: SeededRandom) {
    this.config = config;
    const { wDim, inChannels, outChannels } = config;
    this.affine = new FullyConnectedLayer({ inFeatures: wDim, outFeatures: inChannels, biasInit: 1 }, random);
    this.weight = createVariable(random.normals(9 * inChannels * outChannels), [3, 3, inChannels, outChannels]);
    this.bias = createVariable(new Float32Array(outChannels), [outChannels]);
    this.noiseStrength = createVariable(new Float32Array(1), []);
    this.injection = new NormalInjection({ normalChannels: 3, hiddenChannels: config.injectionHiddenChannels, featureChannels: outChannels }, random);
    this.weightGain = 1 / Math.sqrt(9 * inChannels);
  }

  apply(x: tf.Tensor4D, w: tf.Tensor2D, normals: tf.Tensor4D, noise: NoiseMode): tf.Tensor4D {
    return tf.tidy(() => {
      const styles = this.affine.apply(w);
      let y = modulatedConv2d(x, tf.mul(this.weight, this.weightGain) as tf.Tensor4D, styles, { demodulate: true, up: this.config.up });
      if (noise.kind === 'random') {
        const [n, h, width] = y.shape;
        y = tf.add(y, tf.mul(tf.randomNormal([n, h, width, 1], 0, 1, 'float32', noise.random.seed()), this.noiseStrength));
      }
      y = this.injection.modulate(y, normals);
      return leakyReluGain(tf.add(y, this.bias)) as tf.Tensor4D;
    });
  }

  namedParameters(): [string, tf.Variable][] {
    return [
      ...prefixed([['affine', this.affine]]),
      ['weight', this.weight],
      ['bias', this.bias],
      ['noise_strength', this.noiseStrength],
      ...prefixed([['injection', this.injection]]),
    ];
  }

  describe(): string {
    const { inChannels, outChannels, resolution, up } = this.config;
    return `SynthesisLayer ${resolution}² ${inChannels}→${outChannels}${up === 2 ? ' up×2' : ''} modconv3×3+noise+normal-injection`;
  }
}

export interface ToRgbLayerConfig {
  wDim: number;
  inChannels: number;
  outChannels: number;
}

/** toRGB: style affine, modulated 1×1 conv without demodulation, bias. x [N,H,W,in] → [N,H,W,3]. */
export class ToRgbLayer implements ParameterOwner {
  readonly config: ToRgbLayerConfig;
  readonly affine: FullyConnectedLayer;
  readonly weight: tf.Variable; // [1, 1, in, out]
  readonly bias: tf.Variable;
  private readonly weightGain: number;

  constructor(config: ToRgbLayerConfig, random: SeededRandom) {
    this.config = config;
    this.affine = new FullyConnectedLayer({ inFeatures: config.wDim, outFeatures: config.inChannels, biasInit: 1 }, random);
    this.weight = createVariable(random.normals(config.inChannels * config.outChannels), [1, 1, config.inChannels, config.outChannels]);
    this.bias = createVariable(new Float32Array(config.outChannels), [config.outChannels]);
    this.weightGain = 1 / Math.sqrt(config.inChannels);
  }

  apply(x: tf.Tensor4D, w: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      const styles = tf.mul(this.affine.apply(w), this.weightGain) as tf.Tensor2D;
      return tf.add(modulatedConv2d(x, this.weight as unknown as tf.Tensor4D, styles, { demodulate: false }), this.bias) as tf.Tensor4D;
    });
  }

  namedParameters(): [string, tf.Variable][] {
    return [...prefixed([['affine', this.affine]]), ['weight', this.weight], ['bias', this.bias]];
  }

  describe(): string {
    return `ToRgb modconv1×1 ${this.config.inChannels}→${this.config.outChannels} (no demod)`;
  }
}
