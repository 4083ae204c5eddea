import * as tf from '@tensorflow/tfjs-core';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { projectPointsArray, transformPointsArray } from '../geometry/camera.ts';
import { DETECTOR_LANDMARK_VERTICES } from '../morphable/detector-landmark-vertices.ts';
import { modelRowsForVertices } from './model-tensors.ts';

/** Jaw-contour landmarks that slide along the face (the chin, 6–10, stays fixed). */
const SLIDING_CONTOUR = [0, 1, 2, 3, 4, 5, 11, 12, 13, 14, 15, 16];
const BAND_HALF_HEIGHT_MM = 3;
const BAND_DEPTH_BEHIND_MM = 20;

export interface LandmarkCorrespondenceOptions {
  /**
   * Slide the jaw contour to the face's outline under the current pose (re-picked by
   * `update`). Default: only for models without a detector calibration; with one, the jaw
   * stays on its calibrated vertices (see the class comment).
   */
  slidingContour?: boolean;
}

/**
 * Which model vertex stands in for each of the 68 detected landmarks.
 *
 * The jaw is the hard part: on a turned face a model's fixed contour vertices and the face's
 * visible outline part. Measured on studio renders with known geometry (turned 20–40°), the
 * FaceMesh-based detector's jaw does *not* follow the visible outline: on the far side it stays
 * 12–42 % of the eye distance inside it, on a fixed line of the face, and a vertex calibrated
 * per jaw point (scripts/calibrate-landmarks.ts) matches it at every yaw far better than the
 * outline does. So with a calibrated model the jaw is fixed vertices. For other models the jaw
 * can slide, like landmark marching (Zhu et al., CVPR 2015): each contour landmark gets a band
 * of candidate vertices at its own height on its own side of the face, and the candidate that
 * lies outermost in the image under the current pose stands in for it.
 *
 * Holds the 68 landmark vertices' rows of the model as tensors, rebuilt when they change.
 */
export class LandmarkCorrespondence {
  private readonly model: MorphableModel;
  private readonly candidates: Uint32Array[];
  /** Whether `update` re-picks the jaw contour (false: the 68 vertices never change). */
  readonly sliding: boolean;
  /** Current vertex of each of the 68 landmarks. */
  readonly vertexIndices: Uint32Array;
  /** [68, 3] mm and [68*3, K+E]. */
  neutral: tf.Tensor2D;
  basis: tf.Tensor2D;

  /**
   * @param landmarkVertices the vertices of the 68 landmarks as the detector places them (when
   *   sliding, the jaw entries only seed the contour); default: calibrated for the FaceMesh
   *   detector on ICT-FaceKit, or the model's own landmarks for another model.
   */
  constructor(model: MorphableModel, landmarkVertices?: ArrayLike<number>, options: LandmarkCorrespondenceOptions = {}) {
    this.model = model;
    const calibrated = hasDetectorCalibration(model);
    this.vertexIndices = Uint32Array.from(landmarkVertices ?? defaultLandmarkVertices(model));
    this.sliding = options.slidingContour ?? !calibrated;
    this.candidates = this.sliding ? SLIDING_CONTOUR.map((k) => contourCandidates(model, model.landmarkVertexIndices[k])) : [];
    [this.neutral, this.basis] = this.buildTensors();
  }

  /**
   * Re-pick the sliding contour vertices for the current fit (coefficients [K+E], pose as
   * rotation row-major [9] and translation mm, camera). Returns true when any changed; a
   * fixed correspondence never changes.
   */
  update(
    coefficients: Float32Array,
    rotation: ArrayLike<number>,
    translationMm: ArrayLike<number>,
    camera: { focalPx: number; principalPointPx: [number, number] },
  ): boolean {
    if (!this.sliding) return false;
    const model = this.model;
    // The face's own +x axis in the image: outward for the left contour, inward for the right.
    const axisPoints = transformPointsArray([0, 0, 0, 1, 0, 0], rotation, translationMm);
    const axisPixels = projectPointsArray(axisPoints, { ...camera, width: 0, height: 0 });
    const outward = [axisPixels[2] - axisPixels[0], axisPixels[3] - axisPixels[1]];
    let changed = false;
    SLIDING_CONTOUR.forEach((landmark, i) => {
      const candidates = this.candidates[i];
      const positions = evaluateVertices(model, coefficients, candidates);
      const pixels = projectPointsArray(transformPointsArray(positions, rotation, translationMm), { ...camera, width: 0, height: 0 });
      const side = landmark < 8 ? -1 : 1;
      let best = 0,
        bestScore = -Infinity;
      for (let c = 0; c < candidates.length; c++) {
        const score = side * (pixels[2 * c] * outward[0] + pixels[2 * c + 1] * outward[1]);
        if (score > bestScore) {
          bestScore = score;
          best = c;
        }
      }
      if (this.vertexIndices[landmark] !== candidates[best]) {
        this.vertexIndices[landmark] = candidates[best];
        changed = true;
      }
    });
    if (changed) {
      tf.dispose([this.neutral, this.basis]);
      [this.neutral, this.basis] = this.buildTensors();
    }
    return changed;
  }

  /** The 68 landmark vertices [68, 3] mm for coefficients [K+E]. */
  vertices(coefficients: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => tf.add(this.neutral, tf.reshape(tf.matMul(this.basis, tf.reshape(coefficients, [-1, 1])), [-1, 3])) as tf.Tensor2D);
  }

  dispose(): void {
    tf.dispose([this.neutral, this.basis]);
  }

  private buildTensors(): [tf.Tensor2D, tf.Tensor2D] {
    const { neutral, rows } = modelRowsForVertices(this.model, this.vertexIndices);
    return [tf.tensor2d(neutral, [68, 3]), tf.tensor2d(rows, [68 * 3, rows.length / (68 * 3)])];
  }
}

/**
 * The vertices a default LandmarkCorrespondence follows: where the FaceMesh-based detector places
 * the 68 points (calibrated, ICT-FaceKit), else the model's own landmarks.
 */
export function defaultLandmarkVertices(model: MorphableModel): readonly number[] | Uint32Array {
  return hasDetectorCalibration(model) ? DETECTOR_LANDMARK_VERTICES : model.landmarkVertexIndices;
}

/** Whether DETECTOR_LANDMARK_VERTICES were calibrated on this model (ICT-FaceKit's face area). */
function hasDetectorCalibration(model: MorphableModel): boolean {
  return DETECTOR_LANDMARK_VERTICES.every((v) => v < model.vertexCount) && model.name.startsWith('ict-facekit');
}

/** Vertices at the landmark's height (±3 mm), on its side, from half its distance to the midline outwards, not far behind it. */
function contourCandidates(model: MorphableModel, landmarkVertex: number): Uint32Array {
  const [lx, ly, lz] = model.neutral.subarray(landmarkVertex * 3, landmarkVertex * 3 + 3);
  const found: number[] = [];
  for (let v = 0; v < model.vertexCount; v++) {
    const x = model.neutral[3 * v],
      y = model.neutral[3 * v + 1],
      z = model.neutral[3 * v + 2];
    if (Math.abs(y - ly) <= BAND_HALF_HEIGHT_MM && Math.sign(x) === Math.sign(lx) && Math.abs(x) >= 0.5 * Math.abs(lx) && z >= lz - BAND_DEPTH_BEHIND_MM)
      found.push(v);
  }
  if (!found.includes(landmarkVertex)) found.push(landmarkVertex);
  return Uint32Array.from(found);
}

/** [N*3] mm: the model's vertices `vertices` for coefficients [K+E] (identity, then expression), without evaluating the rest. */
export function evaluateVertices(model: MorphableModel, coefficients: Float32Array, vertices: ArrayLike<number>): Float32Array {
  const V = model.vertexCount,
    K = model.identityCount;
  const out = new Float32Array(vertices.length * 3);
  Array.from(vertices).forEach((vertex, i) => {
    for (let axis = 0; axis < 3; axis++) {
      const element = vertex * 3 + axis;
      let value = model.neutral[element];
      for (let m = 0; m < K; m++) value += coefficients[m] * model.identityBasis[m * V * 3 + element];
      for (let m = K; m < coefficients.length; m++) value += coefficients[m] * model.expressionBasis[(m - K) * V * 3 + element];
      out[3 * i + axis] = value;
    }
  });
  return out;
}
