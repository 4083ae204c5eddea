// A small U-Net that estimates camera-space surface normals from an aligned face crop: the
// judge of the GAR's normal-consistency loss (estimated normals of G's image vs the normal map
// G was given). Trained on studio renders, whose normals are known exactly.
import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import { Conv2dLayer } from './layers.ts';
import { disposeParameters, prefixed, type ParameterOwner } from './parameters.ts';
import { SeededRandom } from '../common/seeded-random.ts';

export interface NormalEstimatorConfig {
  /** Input and output side in pixels, a power of two ≥ 8 (the GAR resolution it judges). */
  resolution: number;
  /** Feature channels at R, R/2, R/4, … (one entry per level; the last is the bottleneck). */
  channels: number[];
  /** Initialisation seed. */
  seed: number;
}

export const DEFAULT_NORMAL_ESTIMATOR_CONFIG: Readonly<NormalEstimatorConfig> = Object.freeze({
  resolution: 64,
  channels: [16, 32, 64, 64],
  seed: 0,
});

/** Fill in defaults and check every field; throws UsageError naming the bad one. */
export function validateNormalEstimatorConfig(config: Partial<NormalEstimatorConfig>): NormalEstimatorConfig {
  const out = { ...DEFAULT_NORMAL_ESTIMATOR_CONFIG, ...config, channels: [...(config.channels ?? DEFAULT_NORMAL_ESTIMATOR_CONFIG.channels)] };
  const r = out.resolution;
  if (!Number.isInteger(r) || r < 8 || (r & (r - 1)) !== 0) throw invalidParameterError('resolution', 'a power of two ≥ 8', r);
  if (out.channels.length < 2 || !out.channels.every((c) => Number.isInteger(c) && c >= 1))
    throw invalidParameterError('channels', 'at least two positive integers', out.channels.join(','));
  if (r >> (out.channels.length - 1) < 2) throw invalidParameterError('channels', `at most ${Math.log2(r)} levels at ${r}²`, out.channels.length);
  if (!Number.isInteger(out.seed)) throw invalidParameterError('seed', 'an integer', out.seed);
  return out;
}

/**
 * Encoder: two 3×3 convolutions per level, average-pool ×2 between levels. Decoder: bilinear
 * ×2, concatenation with the encoder's features of that level, one 3×3 convolution. Head: 1×1
 * convolution to 3 channels, normalised to unit length.
 */
export class NormalEstimator implements ParameterOwner {
  static readonly className = 'NormalEstimator';
  readonly config: NormalEstimatorConfig;
  private readonly encoder: [Conv2dLayer, Conv2dLayer][];
  private readonly decoder: Conv2dLayer[];
  private readonly head: Conv2dLayer;

  constructor(config: Partial<NormalEstimatorConfig> = {}) {
    this.config = validateNormalEstimatorConfig(config);
    const random = new SeededRandom(this.config.seed);
    const c = this.config.channels;
    this.encoder = c.map((channels, level) => [
      new Conv2dLayer(
        { inChannels: level === 0 ? 3 : c[level - 1], outChannels: channels, kernelSize: 3, activation: 'lrelu', down: level === 0 ? 1 : 2 },
        random,
      ),
      new Conv2dLayer({ inChannels: channels, outChannels: channels, kernelSize: 3, activation: 'lrelu' }, random),
    ]);
    this.decoder = c
      .slice(0, -1)
      .map((channels, level) => new Conv2dLayer({ inChannels: c[level + 1] + channels, outChannels: channels, kernelSize: 3, activation: 'lrelu' }, random));
    this.head = new Conv2dLayer({ inChannels: c[0], outChannels: 3, kernelSize: 1 }, random);
  }

  /**
   * images [N, R, R, 3] float32 RGB in −1…1 (the GAR's image range), aligned crops →
   * [N, R, R, 3] unit camera-space normals (x right, y up, z towards the camera).
   */
  predict(images: tf.Tensor4D): tf.Tensor4D {
    const R = this.config.resolution;
    if (images.rank !== 4 || images.shape[1] !== R || images.shape[2] !== R || images.shape[3] !== 3) {
      throw invalidParameterError('images', `[N, ${R}, ${R}, 3]`, `[${images.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const skips: tf.Tensor4D[] = [];
      let h: tf.Tensor4D = images;
      for (const [first, second] of this.encoder) {
        h = second.apply(first.apply(h));
        skips.push(h);
      }
      for (let level = this.decoder.length - 1; level >= 0; level--) {
        const size = skips[level].shape[1];
        const up = tf.image.resizeBilinear(h, [size, size], false, true);
        h = this.decoder[level].apply(tf.concat([up, skips[level]], 3) as tf.Tensor4D);
      }
      const raw = this.head.apply(h);
      return tf.div(raw, tf.sqrt(tf.add(tf.sum(tf.square(raw), 3, true), 1e-8))) as tf.Tensor4D;
    });
  }

  namedParameters(): [string, tf.Variable][] {
    return prefixed([
      ...this.encoder.flatMap(
        ([first, second], level) =>
          [
            [`enc${level}.conv0`, first],
            [`enc${level}.conv1`, second],
          ] as [string, Conv2dLayer][],
      ),
      ...this.decoder.map((layer, level) => [`dec${level}.conv`, layer] as [string, Conv2dLayer]),
      ['head', this.head],
    ]);
  }

  trainableVariables(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  describe(): string {
    return `NormalEstimator ${this.config.resolution}² U-Net channels ${this.config.channels.join(',')}`;
  }

  dispose(): void {
    disposeParameters(this);
  }
}

/** Face mask [N, R, R, 1] (1 where the encoded normal map is not background 0). */
export function normalMapMask(normalMaps: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.cast(tf.greater(tf.sum(normalMaps, 3, true), 1e-6), 'float32') as tf.Tensor4D);
}

/** Decode an encoded normal map (n·0.5 + 0.5, background 0) to normals n·mask. */
export function decodeNormalMap(normalMaps: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mul(tf.sub(tf.mul(normalMaps, 2), 1), normalMapMask(normalMaps)) as tf.Tensor4D);
}

/**
 * Mean cosine distance 1 − ⟨n̂, n⟩ over the face pixels of the whole batch: `predictedUnit`
 * [N, R, R, 3] unit normals, `targetNormalMaps` [N, R, R, 3] encoded (n·0.5 + 0.5, background 0).
 * 0 when they agree, 2 when opposite. A batch without face pixels gives 0.
 */
export function normalCosineLoss(predictedUnit: tf.Tensor4D, targetNormalMaps: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const mask = normalMapMask(targetNormalMaps);
    const cosine = tf.sum(tf.mul(predictedUnit, decodeNormalMap(targetNormalMaps)), 3, true);
    const distance = tf.sum(tf.mul(tf.sub(1, cosine), mask));
    return tf.div(distance, tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

/** Mean angle in degrees between predicted unit normals and an encoded normal map, over face pixels (plain JS). */
export function meanNormalAngleDeg(predictedUnit: tf.Tensor4D, targetNormalMaps: tf.Tensor4D): number {
  const predicted = predictedUnit.dataSync(),
    target = targetNormalMaps.dataSync();
  let sum = 0,
    count = 0;
  for (let i = 0; i < target.length; i += 3) {
    if (target[i] + target[i + 1] + target[i + 2] <= 1e-6) continue;
    const tx = target[i] * 2 - 1,
      ty = target[i + 1] * 2 - 1,
      tz = target[i + 2] * 2 - 1;
    const cosine = (predicted[i] * tx + predicted[i + 1] * ty + predicted[i + 2] * tz) / (Math.hypot(tx, ty, tz) || 1);
    sum += (Math.acos(Math.max(-1, Math.min(1, cosine))) * 180) / Math.PI;
    count++;
  }
  return count === 0 ? 0 : sum / count;
}
