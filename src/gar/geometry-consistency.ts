// Geometry-consistency losses of GAR training: they tie the generated image to the geometry it
// was asked to show, through frozen judges that run here: a normal estimator (normals estimated
// from G's image vs the input normal map) and FaceMesh (landmarks found in G's image vs the
// projected model landmarks of the sampled geometry). A hook takes an identity-feature loss.
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { invalidParameterError } from '../common/errors.ts';
import { faceMeshGraphInfo, MESH_POINT_COUNT } from '../detect/facemesh.ts';
import { IBUG68_FROM_MESH468 } from '../detect/ibug68.ts';
import type { SampledGeometry } from './geometry-sampler.ts';
import { normalCosineLoss, type NormalEstimator } from './normal-estimator.ts';

/**
 * iBUG points the landmark loss compares by default: brows, nose, eyes, mouth (17–67). The jaw
 * (0–16) is left out: FaceMesh's face oval and the model's jaw landmarks are different lines on
 * the face (the fit calibrates one to the other), and they part ways as the head turns.
 */
export const DEFAULT_CONSISTENCY_LANDMARKS: readonly number[] = Object.freeze(Array.from({ length: 51 }, (_, i) => 17 + i));

/**
 * Differentiable FaceMesh on aligned crops: images [N, R, R, 3] in −1…1 → iBUG-68 points
 * [N, 68, 2] in crop pixels (x right, y down, pixel centres at +0.5). The crop is resized to
 * FaceMesh's input as a whole (aligned crops frame the face about as FaceMesh's own crops do).
 */
export class FaceMeshLandmarks {
  readonly inputSize: number;
  private readonly model: GraphModel;
  private readonly meshOutput: string;
  /** [468, 68]: column k holds the weights of iBUG point k over the mesh points. */
  private readonly meshToIbug: tf.Tensor2D;

  constructor(model: GraphModel) {
    ({ inputSize: this.inputSize, meshOutput: this.meshOutput } = faceMeshGraphInfo(model));
    this.model = model;
    const weights = new Float32Array(MESH_POINT_COUNT * 68);
    IBUG68_FROM_MESH468.forEach((points, k) => {
      for (const [i, w] of points) weights[i * 68 + k] += w;
    });
    this.meshToIbug = tf.tensor2d(weights, [MESH_POINT_COUNT, 68]);
  }

  /** images [N, R, R, 3] −1…1 → [N, 68, 2] iBUG points in crop pixels (gradients flow to the images). */
  ibug68(images: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const [n, R] = images.shape;
      const input = tf.image.resizeBilinear(
        tf.clipByValue(tf.add(tf.mul(images, 0.5), 0.5), 0, 1) as tf.Tensor4D,
        [this.inputSize, this.inputSize],
        false,
        true,
      );
      const mesh = tf.reshape(this.model.execute(input, this.meshOutput) as tf.Tensor, [n, MESH_POINT_COUNT, 3]);
      const xy = tf.transpose(tf.slice(mesh, [0, 0, 0], [n, MESH_POINT_COUNT, 2]), [0, 2, 1]); // [N, 2, 468]
      const points = tf.reshape(tf.matMul(tf.reshape(xy, [n * 2, MESH_POINT_COUNT]), this.meshToIbug), [n, 2, 68]);
      return tf.mul(tf.transpose(points, [0, 2, 1]), R / this.inputSize) as tf.Tensor3D;
    });
  }

  /** Frees the mapping table; the graph model belongs to the caller. */
  dispose(): void {
    this.meshToIbug.dispose();
  }
}

/**
 * An identity-feature loss (e.g. `createIdentityConsistencyLoss` on FaceRes embeddings) for the hook:
 * images [N, R, R, 3] −1…1, their ws [N, numWs, wDim] and geometries → a scalar to minimise.
 * GarTrainer calls it every `identityInterval` G steps on a batch of pairs: samples 2k and 2k + 1
 * have equal ws rows and identity coefficients and differ in pose and expression.
 */
export type IdentityConsistencyLoss = (images: tf.Tensor4D, ws: tf.Tensor3D, geometries: SampledGeometry[]) => tf.Scalar;

/** The frozen judges of the consistency losses; a loss with weight > 0 needs its judge. */
export interface GeometryConsistencyModels {
  normalEstimator?: NormalEstimator;
  landmarks?: FaceMeshLandmarks;
  identity?: IdentityConsistencyLoss;
}

/**
 * Normal consistency: mean cosine distance between the normals the (frozen) estimator sees in
 * `images` [N, R, R, 3] −1…1 and the normal maps G was given [N, R, R, 3] (n·0.5 + 0.5,
 * background 0), on the face mask. 0 when they agree.
 */
export function normalConsistencyLoss(estimator: NormalEstimator, images: tf.Tensor4D, normalMaps: tf.Tensor4D): tf.Scalar {
  const R = estimator.config.resolution;
  if (images.shape[1] !== R || normalMaps.shape[1] !== R) {
    throw invalidParameterError('normalEstimator', `an estimator of the GAR's resolution ${images.shape[1]}² (this one is ${R}²)`, R);
  }
  return tf.tidy(() => normalCosineLoss(estimator.predict(images), normalMaps));
}

/** Targets of the landmark loss: [N, 68, 2] crop pixels and [N] inter-ocular distances (eye centres), pixels. */
export function landmarkTargets(geometries: Pick<SampledGeometry, 'landmarks2d'>[]): { points: tf.Tensor3D; interOcularPx: tf.Tensor1D } {
  const values = new Float32Array(geometries.length * 136);
  const distances = new Float32Array(geometries.length);
  geometries.forEach((g, i) => {
    values.set(g.landmarks2d, i * 136);
    distances[i] = Math.max(interOcularDistancePx(g.landmarks2d), 1e-3);
  });
  return { points: tf.tensor3d(values, [geometries.length, 68, 2]), interOcularPx: tf.tensor1d(distances) };
}

/** Distance between the eye centres (means of iBUG 36–41 and 42–47) of [68*2] points. */
export function interOcularDistancePx(landmarks2d: ArrayLike<number>): number {
  let lx = 0,
    ly = 0,
    rx = 0,
    ry = 0;
  for (let k = 0; k < 6; k++) {
    lx += landmarks2d[2 * (36 + k)] / 6;
    ly += landmarks2d[2 * (36 + k) + 1] / 6;
    rx += landmarks2d[2 * (42 + k)] / 6;
    ry += landmarks2d[2 * (42 + k) + 1] / 6;
  }
  return Math.hypot(rx - lx, ry - ly);
}

/**
 * Landmark consistency: mean over samples and `indices` of the Euclidean distance between the
 * FaceMesh iBUG points of `images` and `targets` [N, 68, 2] (crop pixels), each divided by its
 * sample's inter-ocular distance [N]. 0 when FaceMesh finds the landmarks where the geometry put them.
 */
export function landmarkConsistencyLoss(
  landmarks: FaceMeshLandmarks,
  images: tf.Tensor4D,
  targets: tf.Tensor3D,
  interOcularPx: tf.Tensor1D,
  indices: readonly number[] = DEFAULT_CONSISTENCY_LANDMARKS,
): tf.Scalar {
  return tf.tidy(() => {
    const chosen = tf.tensor1d(Int32Array.from(indices), 'int32');
    const found = tf.gather(landmarks.ibug68(images), chosen, 1);
    const wanted = tf.gather(targets, chosen, 1);
    const distance = tf.sqrt(tf.add(tf.sum(tf.square(tf.sub(found, wanted)), 2), 1e-6)); // [N, K]
    return tf.mean(tf.div(distance, tf.expandDims(interOcularPx, 1))) as tf.Scalar;
  });
}
