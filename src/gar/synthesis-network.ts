import * as tf from '@tensorflow/tfjs-core';
import { blockResolutions, channelsAt, type GarNetworkConfig } from './gar-config.ts';
import { createVariable, prefixed, type ParameterOwner } from './parameters.ts';
import type { SeededRandom } from '../common/seeded-random.ts';
import { SynthesisLayer, ToRgbLayer, type NoiseMode } from './synthesis-layers.ts';

export interface SynthesisBlockConfig {
  wDim: number;
  /** 0 for the first (4×4, learned constant input) block. */
  inChannels: number;
  outChannels: number;
  resolution: number;
  injectionHiddenChannels: number;
}

/**
 * One resolution of the synthesis network: (constant input at 4×4 | conv0 with ×2 upsampling),
 * conv1, and a toRGB skip added to the upsampled image so far. Uses numConv + 1 ws.
 */
export class SynthesisBlock implements ParameterOwner {
  readonly config: SynthesisBlockConfig;
  readonly constInput: tf.Variable | undefined; // [4, 4, out]
  readonly conv0: SynthesisLayer | undefined;
  readonly conv1: SynthesisLayer;
  readonly toRgb: ToRgbLayer;
  readonly numConv: number;

  constructor(config: SynthesisBlockConfig, random: SeededRandom) {
    this.config = config;
    const { wDim, inChannels, outChannels, resolution, injectionHiddenChannels } = config;
    if (inChannels === 0) {
      this.constInput = createVariable(random.normals(resolution * resolution * outChannels), [resolution, resolution, outChannels]);
    } else {
      this.conv0 = new SynthesisLayer({ wDim, inChannels, outChannels, resolution, up: 2, injectionHiddenChannels }, random);
    }
    this.conv1 = new SynthesisLayer({ wDim, inChannels: outChannels, outChannels, resolution, up: 1, injectionHiddenChannels }, random);
    this.toRgb = new ToRgbLayer({ wDim, inChannels: outChannels, outChannels: 3 }, random);
    this.numConv = this.conv0 ? 2 : 1;
  }

  /**
   * @param x [N, r/2, r/2, in] features, or null for the first block.
   * @param image [N, r/2, r/2, 3] image so far, or null.
   * @param ws numConv + 1 tensors [N, wDim].
   * @param normals [N, r, r, 3] normal map at this resolution.
   */
  apply(x: tf.Tensor4D | null, image: tf.Tensor4D | null, ws: tf.Tensor2D[], normals: tf.Tensor4D, noise: NoiseMode): { x: tf.Tensor4D; image: tf.Tensor4D } {
    return tf.tidy(() => {
      const n = normals.shape[0];
      let h: tf.Tensor4D;
      let i = 0;
      if (this.constInput) h = tf.tile(tf.expandDims(this.constInput, 0), [n, 1, 1, 1]) as tf.Tensor4D;
      else h = this.conv0!.apply(x!, ws[i++], normals, noise);
      h = this.conv1.apply(h, ws[i++], normals, noise);
      const r = this.config.resolution;
      let rgb = this.toRgb.apply(h, ws[i]);
      if (image) rgb = tf.add(tf.image.resizeBilinear(image, [r, r], false, true), rgb) as tf.Tensor4D;
      return { x: h, image: rgb };
    });
  }

  namedParameters(): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = this.constInput ? [['const', this.constInput]] : prefixed([['conv0', this.conv0!]]);
    return [
      ...out,
      ...prefixed([
        ['conv1', this.conv1],
        ['torgb', this.toRgb],
      ]),
    ];
  }

  describe(): string {
    const { inChannels, outChannels, resolution } = this.config;
    return `SynthesisBlock ${resolution}² ${inChannels === 0 ? 'const' : inChannels}→${outChannels}, ${this.numConv} conv + toRGB`;
  }
}

/**
 * ws [N, numWs, wDim] + normal map [N, R, R, 3] → image [N, R, R, 3] (≈ −1…1).
 * Block at resolution r reads ws[i … i + numConv] where i sums the earlier blocks' numConv,
 * so consecutive blocks share one w (the toRGB of one and the first conv of the next).
 * Normal maps for the lower resolutions are area-averaged from the input.
 */
export class SynthesisNetwork implements ParameterOwner {
  readonly config: GarNetworkConfig;
  readonly blocks: SynthesisBlock[] = [];
  readonly numWs: number;

  constructor(config: GarNetworkConfig, random: SeededRandom) {
    this.config = config;
    let inChannels = 0;
    for (const resolution of blockResolutions(config)) {
      const outChannels = channelsAt(config, resolution);
      this.blocks.push(
        new SynthesisBlock({ wDim: config.wDim, inChannels, outChannels, resolution, injectionHiddenChannels: config.injectionHiddenChannels }, random),
      );
      inChannels = outChannels;
    }
    this.numWs = this.blocks.reduce((sum, b) => sum + b.numConv, 0) + 1;
  }

  apply(ws: tf.Tensor3D, normals: tf.Tensor4D, noise: NoiseMode): tf.Tensor4D {
    return tf.tidy(() => {
      const R = this.config.resolution;
      if (normals.shape[1] !== R || normals.shape[2] !== R || normals.shape[3] !== 3) {
        throw new Error(`normal map must be [N, ${R}, ${R}, 3], got [${normals.shape}]`);
      }
      const perLayer = tf.unstack(ws, 1) as tf.Tensor2D[];
      const pyramid = new Map<number, tf.Tensor4D>([[R, normals]]);
      for (let r = R / 2; r >= 4; r /= 2) pyramid.set(r, tf.avgPool(pyramid.get(r * 2)!, 2, 2, 'valid'));
      let x: tf.Tensor4D | null = null,
        image: tf.Tensor4D | null = null;
      let index = 0;
      for (const block of this.blocks) {
        ({ x, image } = block.apply(x, image, perLayer.slice(index, index + block.numConv + 1), pyramid.get(block.config.resolution)!, noise));
        index += block.numConv;
      }
      return image!;
    });
  }

  namedParameters(): [string, tf.Variable][] {
    return prefixed(this.blocks.map((b) => [`b${b.config.resolution}`, b]));
  }

  describe(): string {
    return `Synthesis ${this.blocks.length} blocks 4²…${this.config.resolution}², ${this.numWs} ws`;
  }
}
