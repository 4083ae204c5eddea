import * as tf from '@tensorflow/tfjs-core';
import { FullyConnectedLayer } from '../gar/layers.ts';
import { createVariable, disposeParameters, prefixed, type ParameterOwner } from '../gar/parameters.ts';
import { SeededRandom } from '../common/seeded-random.ts';
import type { CropPose } from './crop-frame.ts';
import { encoderOutputLayout, validateEncoderNetworkConfig, type EncoderNetworkConfig } from './encoder-config.ts';
import { EncoderTrunk } from './encoder-trunk.ts';

/** What the encoder predicts for one crop. */
export interface EncoderEstimate {
  /** [K] identity coefficients. */
  identity: Float32Array;
  /** [E] expression weights in [0, 1]. */
  expression: Float32Array;
  pose: CropPose;
  /** [wDim] the GAR latent. */
  w: Float32Array;
}

/**
 * ResNet-style face encoder: the shared crop trunk (EncoderTrunk: 1×1 stem, residual blocks
 * down to 4², a fully connected layer) and a linear head. The head
 * predicts standardised outputs: value = outputMean + outputStd · raw, with mean and std fixed
 * buffers set from the training distribution (so every output is O(1) for the loss), except
 * expressions, which are logits (weights = sigmoid). Input: aligned crops [N, R, R, 3] in −1…1.
 */
export class FaceEncoder implements ParameterOwner {
  static readonly className = 'FaceEncoder';
  readonly config: EncoderNetworkConfig;
  readonly layout: ReturnType<typeof encoderOutputLayout>;
  readonly trunk: EncoderTrunk;
  readonly head: FullyConnectedLayer;
  /** [P] non-trainable output standardisation. */
  readonly outputMean: tf.Variable;
  readonly outputStd: tf.Variable;
  /** [K] RMS identity error on held-out renders, when its checkpoint says (see EncoderCheckpointManifest). */
  identityErrorStd?: Float32Array;

  constructor(config: EncoderNetworkConfig, seed = 0) {
    this.config = validateEncoderNetworkConfig({ ...config });
    this.layout = encoderOutputLayout(config);
    const random = new SeededRandom(seed);
    this.trunk = new EncoderTrunk(config, random);
    this.head = new FullyConnectedLayer({ inFeatures: config.hiddenFeatures, outFeatures: this.layout.size }, random);
    const mean = new Float32Array(this.layout.size);
    mean.fill(-3, this.layout.expression, this.layout.euler); // expressions start near 0.05
    this.outputMean = createVariable(mean, [this.layout.size], false);
    this.outputStd = createVariable(new Float32Array(this.layout.size).fill(1), [this.layout.size], false);
  }

  /** crops [N, R, R, 3] in −1…1 → standardised raw outputs [N, P]. */
  applyRaw(crops: tf.Tensor4D): tf.Tensor2D {
    // The head starts at a tenth of its unit-variance scale, so first predictions sit near the mean.
    return tf.tidy(() => tf.mul(this.head.apply(this.trunk.apply(crops)), 0.1) as tf.Tensor2D);
  }

  /** crops → outputs [N, P] in parameter units (expression part still logits). */
  apply(crops: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.destandardise(this.applyRaw(crops)));
  }

  destandardise(raw: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(this.outputMean, tf.mul(this.outputStd, raw)) as tf.Tensor2D);
  }

  /** Predict plain estimates for a batch of crops [N, R, R, 3] (−1…1). */
  estimate(crops: tf.Tensor4D): EncoderEstimate[] {
    const outputs = this.apply(crops);
    const values = outputs.arraySync() as number[][];
    outputs.dispose();
    const L = this.layout;
    return values.map((row) => {
      const at = (start: number, count: number) => Float32Array.from(row.slice(start, start + count));
      return {
        identity: at(L.identity, this.config.identityCount),
        expression: at(L.expression, this.config.expressionCount).map((x) => 1 / (1 + Math.exp(-x))),
        pose: {
          eulerRad: [row[L.euler], row[L.euler + 1], row[L.euler + 2]],
          pivotPx: [row[L.pivot], row[L.pivot + 1]],
          logFocal: row[L.logFocal],
          logDepth: row[L.logDepth],
        },
        w: at(L.w, this.config.wDim),
      };
    });
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
    const { resolution, identityCount, expressionCount, wDim } = this.config;
    return `FaceEncoder ${resolution}², ${this.trunk.blocks.length} residual blocks → K${identityCount} E${expressionCount} pose 7 w${wDim}`;
  }

  dispose(): void {
    disposeParameters(this);
  }
}
