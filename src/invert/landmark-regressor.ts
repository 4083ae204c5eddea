import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import { FullyConnectedLayer } from '../gar/layers.ts';
import { createVariable, disposeParameters, prefixed, type ParameterOwner } from '../gar/parameters.ts';
import { SeededRandom } from '../common/seeded-random.ts';
import { EncoderTrunk, type EncoderTrunkConfig } from './encoder-trunk.ts';

/** Architecture of a landmark regressor: the constructor arguments saved in its checkpoints. */
export interface LandmarkRegressorConfig extends EncoderTrunkConfig {
  /** Points predicted, each as (x, y): 68 for iBUG-68. */
  landmarkCount: number;
}

/**
 * The trained width: channelBase 4096 at 128² runs in ~0.3 s a crop on TF.js wasm (8192:
 * 0.5–0.8 s), measured with scripts/gpu/encoder-forward-time.ts on the dev box.
 */
export const DEFAULT_LANDMARK_REGRESSOR_CONFIG: Readonly<LandmarkRegressorConfig> = Object.freeze({
  resolution: 128,
  channelBase: 4096,
  channelMax: 256,
  hiddenFeatures: 512,
  landmarkCount: 68,
});

export function validateLandmarkRegressorConfig(config: LandmarkRegressorConfig): LandmarkRegressorConfig {
  const r = config.resolution;
  if (!Number.isInteger(r) || r < 8 || r > 1024 || (r & (r - 1)) !== 0) throw invalidParameterError('resolution', 'a power of two between 8 and 1024', r);
  for (const key of ['channelBase', 'channelMax', 'hiddenFeatures', 'landmarkCount'] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 1) throw invalidParameterError(key, 'a positive integer', config[key]);
  }
  return config;
}

/**
 * Landmarks from an aligned crop: the crop trunk FaceEncoder uses (EncoderTrunk) and a linear head
 * of 2·L outputs, point k's position in the crop as (u/S − ½, v/S − ½) (S = crop side, pixel
 * centres at +0.5), x then y per point. Like FaceEncoder, the head predicts standardised values:
 * position = outputMean + outputStd · raw, with the buffers fixed from the training distribution.
 * Input: aligned crops [N, R, R, 3] in −1…1 (alignFaceCrop at R, opaque, as the shape encoder's).
 * The points are whatever the training labelled: facegar's regressors predict where the model's
 * landmark vertices project, occluded ones included (see LandmarkRegressorCheckpointManifest).
 */
export class LandmarkRegressor implements ParameterOwner {
  static readonly className = 'LandmarkRegressor';
  readonly config: LandmarkRegressorConfig;
  readonly trunk: EncoderTrunk;
  readonly head: FullyConnectedLayer;
  /** [2L] non-trainable output standardisation. */
  readonly outputMean: tf.Variable;
  readonly outputStd: tf.Variable;

  constructor(config: LandmarkRegressorConfig, seed = 0) {
    this.config = validateLandmarkRegressorConfig({ ...config });
    const random = new SeededRandom(seed);
    this.trunk = new EncoderTrunk(this.config, random);
    const outputs = 2 * this.config.landmarkCount;
    this.head = new FullyConnectedLayer({ inFeatures: this.config.hiddenFeatures, outFeatures: outputs }, random);
    this.outputMean = createVariable(new Float32Array(outputs), [outputs], false);
    this.outputStd = createVariable(new Float32Array(outputs).fill(1), [outputs], false);
  }

  /** crops [N, R, R, 3] in −1…1 → standardised raw outputs [N, 2L]. */
  applyRaw(crops: tf.Tensor4D): tf.Tensor2D {
    // The head starts at a tenth of its unit-variance scale, so first predictions sit near the mean.
    return tf.tidy(() => tf.mul(this.head.apply(this.trunk.apply(crops, 'landmark regressor')), 0.1) as tf.Tensor2D);
  }

  /** crops → [N, 2L] positions as (u/S − ½, v/S − ½). */
  apply(crops: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.add(this.outputMean, tf.mul(this.outputStd, this.applyRaw(crops))) as tf.Tensor2D);
  }

  /** crops [N, R, R, 3] (−1…1) → per crop [2L] positions in crop pixels (x, y per point). */
  predictCropPx(crops: tf.Tensor4D): Float32Array[] {
    const outputs = this.apply(crops);
    const values = outputs.dataSync() as Float32Array;
    outputs.dispose();
    const size = this.config.resolution,
      width = 2 * this.config.landmarkCount;
    return Array.from({ length: crops.shape[0] }, (_, n) => Float32Array.from(values.subarray(n * width, (n + 1) * width), (v) => (v + 0.5) * size));
  }

  trainableVariables(): tf.Variable[] {
    return this.namedParameters()
      .filter(([, v]) => v.trainable)
      .map(([, v]) => v);
  }

  namedParameters(): [string, tf.Variable][] {
    return [...this.trunk.namedParameters(), ...prefixed([['head', this.head]]), ['output_mean', this.outputMean], ['output_std', this.outputStd]];
  }

  describe(): string {
    return `LandmarkRegressor ${this.config.resolution}², ${this.trunk.blocks.length} residual blocks → ${this.config.landmarkCount} points`;
  }

  dispose(): void {
    disposeParameters(this);
  }
}
