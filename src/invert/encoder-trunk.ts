import * as tf from '@tensorflow/tfjs-core';
import { DiscriminatorBlock } from '../gar/discriminator.ts';
import { Conv2dLayer, FullyConnectedLayer } from '../gar/layers.ts';
import { prefixed, type ParameterOwner } from '../gar/parameters.ts';
import type { SeededRandom } from '../common/seeded-random.ts';

/** Architecture of the convolutional trunk the crop networks share (FaceEncoder, LandmarkRegressor). */
export interface EncoderTrunkConfig {
  /** Input crop side, a power of two ≥ 8. */
  resolution: number;
  /** Channels at resolution r: min(channelBase / r, channelMax) (as the GAR's). */
  channelBase: number;
  channelMax: number;
  /** Width of the fully connected layer the heads read. */
  hiddenFeatures: number;
}

export function trunkChannelsAt(config: EncoderTrunkConfig, resolution: number): number {
  return Math.max(1, Math.min(Math.floor(config.channelBase / resolution), config.channelMax));
}

/**
 * ResNet-style trunk: 1×1 stem at R², residual blocks (3×3, 3×3 ↓2, 1×1 ↓2 skip; the GAR
 * discriminator's block) down to 4², then a fully connected layer. Input: aligned crops
 * [N, R, R, 3] in −1…1; output: features [N, hiddenFeatures]. Its weights are drawn from `random`
 * in the order stem, blocks, hidden, so a network that builds its head afterwards keeps the
 * initial weights it had before the trunk was shared. Parameter names: `stem.*`, `b<r>.*`, `hidden.*`.
 */
export class EncoderTrunk implements ParameterOwner {
  readonly config: EncoderTrunkConfig;
  readonly stem: Conv2dLayer;
  readonly blocks: DiscriminatorBlock[] = [];
  readonly hidden: FullyConnectedLayer;

  constructor(config: EncoderTrunkConfig, random: SeededRandom) {
    this.config = config;
    this.stem = new Conv2dLayer({ inChannels: 3, outChannels: trunkChannelsAt(config, config.resolution), kernelSize: 1, activation: 'lrelu' }, random);
    for (let r = config.resolution; r > 4; r /= 2) {
      this.blocks.push(new DiscriminatorBlock({ inChannels: trunkChannelsAt(config, r), outChannels: trunkChannelsAt(config, r / 2), resolution: r }, random));
    }
    this.hidden = new FullyConnectedLayer({ inFeatures: trunkChannelsAt(config, 4) * 16, outFeatures: config.hiddenFeatures, activation: 'lrelu' }, random);
  }

  /** crops [N, R, R, 3] in −1…1 → features [N, hiddenFeatures]; `what` names the network in the shape error. */
  apply(crops: tf.Tensor4D, what = 'encoder'): tf.Tensor2D {
    return tf.tidy(() => {
      const R = this.config.resolution;
      if (crops.shape[1] !== R || crops.shape[2] !== R || crops.shape[3] !== 3)
        throw new Error(`${what} input must be [N, ${R}, ${R}, 3], got [${crops.shape}]`);
      let x = this.stem.apply(crops);
      for (const block of this.blocks) x = block.apply(x);
      return this.hidden.apply(tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D);
    });
  }

  namedParameters(): [string, tf.Variable][] {
    return prefixed([['stem', this.stem], ...this.blocks.map((b) => [`b${b.config.resolution}`, b] as [string, ParameterOwner]), ['hidden', this.hidden]]);
  }

  describe(): string {
    return `EncoderTrunk ${this.config.resolution}², ${this.blocks.length} residual blocks → ${this.config.hiddenFeatures}`;
  }
}
