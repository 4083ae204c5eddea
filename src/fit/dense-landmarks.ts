import * as tf from '@tensorflow/tfjs-core';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { DETECTOR_MESH_VERTICES } from '../morphable/detector-landmark-vertices.ts';
import { projectToPixels } from '../geometry/camera.ts';
import { modelRowsForVertices } from './model-tensors.ts';
import type { FitVariables } from './fit-variables.ts';
import { focalTensor, toCameraSpace, type FitFrame } from './fit-camera.ts';

/**
 * A dense landmark term: FaceMesh's 468 points (the face-oval ring aside) each pinned to the
 * model vertex found under it on studio renders with known geometry
 * (scripts/calibrate-landmarks.ts). Six times as many points as iBUG-68 average the detector's
 * noise down, so the shape can follow the photo with weaker priors.
 */
export class DenseLandmarkTerm {
  /** [M, 2] detected points (px), [M, 3] neutral (mm), [M*3, K+E] basis rows. */
  private readonly detected: tf.Tensor2D;
  private readonly neutral: tf.Tensor2D;
  private readonly basis: tf.Tensor2D;
  readonly pointCount: number;

  /** @param mesh468 [468*3] the detector's mesh (x, y in image pixels, z unused). */
  constructor(model: MorphableModel, mesh468: Float32Array, vertexOfPoint: readonly number[] = DETECTOR_MESH_VERTICES) {
    const points: number[] = [],
      vertices: number[] = [];
    vertexOfPoint.forEach((vertex, point) => {
      if (vertex >= 0 && vertex < model.vertexCount) {
        points.push(point);
        vertices.push(vertex);
      }
    });
    this.pointCount = points.length;
    const detected = new Float32Array(points.length * 2);
    points.forEach((point, i) => {
      detected[2 * i] = mesh468[3 * point];
      detected[2 * i + 1] = mesh468[3 * point + 1];
    });
    const { neutral, rows } = modelRowsForVertices(model, vertices);
    this.detected = tf.tensor2d(detected, [points.length, 2]);
    this.neutral = tf.tensor2d(neutral, [points.length, 3]);
    this.basis = tf.tensor2d(rows, [points.length * 3, rows.length / (points.length * 3)]);
  }

  /** Mean squared distance between projected vertices and detected points, over the face size squared. */
  loss(variables: FitVariables, frame: FitFrame): tf.Scalar {
    return tf.tidy(() => {
      const vertices = tf.add(this.neutral, tf.reshape(tf.matMul(this.basis, tf.reshape(variables.coefficients, [-1, 1])), [-1, 3])) as tf.Tensor2D;
      const projected = projectToPixels(toCameraSpace(vertices, variables, frame), focalTensor(variables, frame), frame.principalPointPx);
      const residual = tf.div(tf.sub(projected, this.detected), frame.faceSizePx);
      return tf.mean(tf.sum(tf.square(residual), 1)) as tf.Scalar;
    });
  }

  dispose(): void {
    tf.dispose([this.detected, this.neutral, this.basis]);
  }
}

/** Dense 2D points (px, x then y per point) and the model vertex each one is. */
export interface DensePoints {
  points: Float32Array;
  vertices: ArrayLike<number>;
}

/** The dense term of points with known vertices (a landmark regressor's), rather than FaceMesh's 468. */
export function denseTermOfPoints(model: MorphableModel, dense: DensePoints): DenseLandmarkTerm {
  const count = dense.vertices.length;
  if (dense.points.length !== 2 * count) throw new RangeError(`dense points: ${dense.points.length / 2} points for ${count} vertices`);
  const xyz = new Float32Array(3 * count);
  for (let k = 0; k < count; k++) {
    xyz[3 * k] = dense.points[2 * k];
    xyz[3 * k + 1] = dense.points[2 * k + 1];
  }
  return new DenseLandmarkTerm(model, xyz, Array.from(dense.vertices));
}
