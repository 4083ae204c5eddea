import * as tf from '@tensorflow/tfjs-core';
import { blockResolutions, channelsAt, validateGarNetworkConfig, type GarNetworkConfig } from './gar-config.ts';
import { Conv2dLayer, FullyConnectedLayer } from './layers.ts';
import { disposeParameters, prefixed, type ParameterOwner } from './parameters.ts';
import { SeededRandom } from '../common/seeded-random.ts';

export interface DiscriminatorBlockConfig {
  inChannels: number;
  outChannels: number;
  resolution: number;
}

/** Residual block r → r/2: conv3×3, conv3×3 down, plus a 1×1 down skip, both branches ×√0.5. */
export class DiscriminatorBlock implements ParameterOwner {
  readonly config: DiscriminatorBlockConfig;
  readonly conv0: Conv2dLayer;
  readonly conv1: Conv2dLayer;
  readonly skip: Conv2dLayer;

  constructor(config: DiscriminatorBlockConfig, random: SeededRandom) {
    this.config = config;
    const { inChannels, outChannels } = config;
    this.conv0 = new Conv2dLayer({ inChannels, outChannels: inChannels, kernelSize: 3, activation: 'lrelu' }, random);
    this.conv1 = new Conv2dLayer({ inChannels, outChannels, kernelSize: 3, activation: 'lrelu', down: 2, gain: Math.SQRT1_2 }, random);
    this.skip = new Conv2dLayer({ inChannels, outChannels, kernelSize: 1, bias: false, down: 2, gain: Math.SQRT1_2 }, random);
  }

  /** [N, r, r, in] → [N, r/2, r/2, out]. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => tf.add(this.skip.apply(x), this.conv1.apply(this.conv0.apply(x))) as tf.Tensor4D);
  }

  namedParameters(): [string, tf.Variable][] {
    return prefixed([
      ['conv0', this.conv0],
      ['conv1', this.conv1],
      ['skip', this.skip],
    ]);
  }

  describe(): string {
    const { inChannels, outChannels, resolution } = this.config;
    return `DiscriminatorBlock ${resolution}²→${resolution / 2}² ${inChannels}→${outChannels} residual`;
  }
}

/**
 * Minibatch standard deviation: the std of each feature over groups of `groupSize` samples,
 * averaged over space and channels, appended as one extra channel. [N,H,W,C] → [N,H,W,C+1].
 * Sample i belongs to group member ⌊i / (N/G)⌋, as in StyleGAN2.
 */
export function minibatchStddev(x: tf.Tensor4D, groupSize: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const g = Math.min(groupSize, n);
    if (n % g !== 0) throw new Error(`batch ${n} is not a multiple of the minibatch-stddev group ${g}`);
    const grouped = tf.reshape(x, [g, n / g, h, w, c]);
    const centred = tf.sub(grouped, tf.mean(grouped, 0, true));
    const std = tf.sqrt(tf.add(tf.mean(tf.square(centred), 0), 1e-8)); // [n/g, h, w, c]
    const perGroup = tf.reshape(tf.mean(std, [1, 2, 3]), [n / g, 1, 1, 1]);
    return tf.concat([x, tf.tile(perGroup, [g, h, w, 1])], 3) as tf.Tensor4D;
  });
}

/**
 * StyleGAN2 residual discriminator: fromRGB 1×1 at R², residual blocks down to 4², then
 * minibatch stddev, conv 3×3, fully connected, and one logit. image [N, R, R, 3] → [N, 1].
 */
export class Discriminator implements ParameterOwner {
  static readonly className = 'GarDiscriminator';
  readonly config: GarNetworkConfig;
  readonly fromRgb: Conv2dLayer;
  readonly blocks: DiscriminatorBlock[] = [];
  readonly epilogueConv: Conv2dLayer;
  readonly epilogueFc: FullyConnectedLayer;
  readonly output: FullyConnectedLayer;

  constructor(config: GarNetworkConfig, seed = 0) {
    this.config = validateGarNetworkConfig({ ...config });
    const random = new SeededRandom(seed);
    const resolutions = blockResolutions(config).reverse();
    this.fromRgb = new Conv2dLayer({ inChannels: 3, outChannels: channelsAt(config, config.resolution), kernelSize: 1, activation: 'lrelu' }, random);
    for (const resolution of resolutions.slice(0, -1)) {
      this.blocks.push(
        new DiscriminatorBlock({ inChannels: channelsAt(config, resolution), outChannels: channelsAt(config, resolution / 2), resolution }, random),
      );
    }
    const c4 = channelsAt(config, 4);
    this.epilogueConv = new Conv2dLayer({ inChannels: c4 + 1, outChannels: c4, kernelSize: 3, activation: 'lrelu' }, random);
    this.epilogueFc = new FullyConnectedLayer({ inFeatures: c4 * 16, outFeatures: c4, activation: 'lrelu' }, random);
    this.output = new FullyConnectedLayer({ inFeatures: c4, outFeatures: 1 }, random);
  }

  /** images [N, R, R, 3] float32 in −1…1 → logits [N, 1]. */
  apply(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let x = this.fromRgb.apply(images);
      for (const block of this.blocks) x = block.apply(x);
      x = this.epilogueConv.apply(minibatchStddev(x, this.config.mbstdGroupSize));
      const flat = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
      return this.output.apply(this.epilogueFc.apply(flat));
    });
  }

  trainableVariables(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  namedParameters(): [string, tf.Variable][] {
    return prefixed([
      ['fromrgb', this.fromRgb],
      ...this.blocks.map((b) => [`b${b.config.resolution}`, b] as [string, ParameterOwner]),
      ['epilogue.conv', this.epilogueConv],
      ['epilogue.fc', this.epilogueFc],
      ['epilogue.out', this.output],
    ]);
  }

  describe(): string {
    return `Discriminator ${this.config.resolution}² residual, ${this.blocks.length} blocks, mbstd group ${this.config.mbstdGroupSize}`;
  }

  dispose(): void {
    disposeParameters(this);
  }
}
