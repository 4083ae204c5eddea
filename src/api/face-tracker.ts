// Live video: one face followed from frame to frame. Each frame: FaceMesh in a crop around the
// previous frame's mesh (BlazeFace only when the face is first found or lost), the encoder on the
// aligned crop (on a face found anew, then every few frames), then a few landmark steps on pose and
// expression from the previous frame's. The identity is the running mean of the encoder's
// estimates, so the face's shape settles over frames while pose and expression follow every frame.
import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import { applyAffine2D, type Affine2D, type RgbaImage } from '../common/image.ts';
import { alignFaceCrop } from '../detect/align-face-crop.ts';
import type { DetectedFace, FaceDetector } from '../detect/index.ts';
import { LandmarkCorrespondence } from '../fit/contour-landmarks.ts';
import { UNCENTRED_IDENTITY_PRIOR_WEIGHT, validateFitConfig, type FitConfig } from '../fit/fit-config.ts';
import { createFitFrame, landmarkBoxSizePx } from '../fit/fit-frame.ts';
import { FitVariables } from '../fit/fit-variables.ts';
import { currentPose, landmarkLoss, landmarkWeights, projectLandmarks, type FitFrame } from '../fit/landmark-stage.ts';
import type { ModelTensors } from '../fit/model-tensors.ts';
import type { FaceFit } from '../fit/fit-face.ts';
import { eulerFromRotation } from '../geometry/rotation.ts';
import { createCropFrame, cropPoseToCamera, similarityTurnAndScale, turnAboutOpticalAxis } from '../invert/crop-frame.ts';
import type { EncoderEstimate, FaceEncoder } from '../invert/face-encoder.ts';
import { imageToGarTensor } from '../invert/render-through-gar.ts';
import { addModes, evaluateMorphableModel } from '../morphable/morphable-model.ts';
import { interOcularDistance } from './inter-ocular-distance.ts';

export interface FaceTrackerConfig {
  /** Landmark steps per followed frame (pose and expression; the identity is held at its running mean). Default 4. */
  landmarkSteps?: number;
  /** Landmark steps on a frame where the face is found anew (no previous pose to start from). Default 40. */
  acquireSteps?: number;
  /** The identity is the mean of at most this many frames' encoder estimates (then a moving mean of that length). Default 100. */
  identityFrames?: number;
  /** Adam learning rate of a followed frame's landmark steps (a face found anew gets the landmark stage's, 0.03). Default 0.01. */
  learningRate?: number;
  /**
   * The encoder runs on a face found anew and then on every this-many-th followed frame. A followed
   * frame takes its pose from the last one, so the encoder adds only to the identity's mean there,
   * and it is half of a frame's time (`bench/tracker.ts`). 1: every frame. Default 4.
   */
  encoderInterval?: number;
}

export const DEFAULT_FACE_TRACKER_CONFIG: Readonly<Required<FaceTrackerConfig>> = Object.freeze({
  landmarkSteps: 4,
  acquireSteps: 40,
  identityFrames: 100,
  learningRate: 0.01,
  encoderInterval: 4,
});

/**
 * One frame's face, in the fields of a photo's fit: `identity` is the running mean over frames,
 * `vertices` [V*3] (model space, mm) that identity with this frame's `expressionWeights`, and the
 * pose and camera this frame's (p_cam = R p + t).
 */
export interface TrackedFace extends Pick<
  FaceFit,
  | 'identity'
  | 'expressionWeights'
  | 'rotation'
  | 'anglesDeg'
  | 'translationMm'
  | 'focalPx'
  | 'principalPointPx'
  | 'vertices'
  | 'landmarks2d'
  | 'landmarkErrorPx'
> {
  /** [68*2] the detector's landmarks (px). */
  detectedLandmarks2d: Float32Array;
  interOcularPx: number;
  /** Frames in the identity's mean. */
  identityFrames: number;
  /** False when the face was searched for with BlazeFace this frame (first frame, or lost). */
  followed: boolean;
  /** Whether the encoder ran on this frame (see `encoderInterval`). */
  encoded: boolean;
  timingsMs: { detect: number; encode: number; landmarks: number; total: number };
}

/** The tracker's jaw weight relative to the inner points (the graphics fit's former weight). */
const TRACKER_CONTOUR_LANDMARK_WEIGHT = 0.6;

/**
 * Follows one face through video frames (the largest when it is first found). Create with
 * `Reconstructor.createTracker()` (it needs the encoder of the GAR path); call `track(frame)` per
 * frame, `reset()` for a new person, `dispose()` at the end. Leaves no tensors behind per frame.
 */
export class FaceTracker {
  private readonly config: Required<FaceTrackerConfig>;
  private readonly fitConfig: FitConfig;
  private readonly correspondence: LandmarkCorrespondence;
  private readonly weights: tf.Tensor1D;
  private previous: DetectedFace | undefined;
  private state: { variables: FitVariables; frame: FitFrame; imageWidth: number; imageHeight: number } | undefined;
  private identityMean: Float32Array;
  private identityCount = 0;
  private followedSinceEncoder = 0;
  /** Neutral plus the identity modes at the current mean (mm); only the expression is added per frame. */
  private identityShape: Float32Array | undefined;

  constructor(
    private readonly models: ModelTensors,
    private readonly detector: FaceDetector,
    private readonly encoder: FaceEncoder,
    config: FaceTrackerConfig = {},
  ) {
    this.config = validateTrackerConfig(config);
    // The live overlay follows the detected jaw as before: the single-photo fits' lower jaw weight
    // was chosen for 3D error, which a tracker's frames have no truth to measure.
    this.fitConfig = validateFitConfig({ contourLandmarkWeight: TRACKER_CONTOUR_LANDMARK_WEIGHT, identityPriorWeight: UNCENTRED_IDENTITY_PRIOR_WEIGHT });
    this.correspondence = new LandmarkCorrespondence(models.model);
    this.weights = tf.tensor1d(landmarkWeights(this.fitConfig.contourLandmarkWeight));
    this.identityMean = new Float32Array(models.identityCount);
  }

  /** Frames averaged into the identity so far. */
  get identityFrames(): number {
    return this.identityCount;
  }

  /** Follow the face into `frame`; undefined when no face is found (the next frame searches again). */
  async track(frame: RgbaImage): Promise<TrackedFace | undefined> {
    const started = performance.now();
    let face = this.previous && this.detector.track ? await this.detector.track(frame, this.previous) : undefined;
    const followed = face !== undefined && this.state !== undefined && this.state.imageWidth === frame.width && this.state.imageHeight === frame.height;
    face ??= (await this.detector.detect(frame))[0];
    this.previous = face;
    if (!face) {
      this.dropPose();
      return undefined;
    }
    const detectMs = performance.now() - started;

    // The encoder's identity joins the running mean; the fit below holds the identity at the mean.
    const encoded = !followed || ++this.followedSinceEncoder >= this.config.encoderInterval;
    if (encoded) {
      this.followedSinceEncoder = 0;
      const { estimate, cropFromImage } = this.encode(frame, face.landmarks68);
      this.identityCount = Math.min(this.identityCount + 1, this.config.identityFrames);
      for (let k = 0; k < this.identityMean.length; k++) this.identityMean[k] += (estimate.identity[k] - this.identityMean[k]) / this.identityCount;
      this.identityShape = undefined;
      if (!followed) this.acquire(frame, face.landmarks68, estimate, cropFromImage);
    }
    const encodeMs = performance.now() - started - detectMs;

    const { variables, frame: fitFrame } = this.state!;
    fitFrame.faceSizePx = landmarkBoxSizePx(face.landmarks68);
    if (followed) {
      this.recentre(face.landmarks68);
      this.landmarkSteps(face.landmarks68, this.config.landmarkSteps, this.config.learningRate, false);
    } else {
      this.landmarkSteps(face.landmarks68, this.config.acquireSteps, this.fitConfig.learningRate, true);
    }
    const landmarks2d = tf.tidy(() => projectLandmarks(this.correspondence, variables, fitFrame).dataSync() as Float32Array);
    const expressionWeights = (variables.coefficients.dataSync() as Float32Array).slice(this.models.identityCount);
    const landmarksMs = performance.now() - started - detectMs - encodeMs;

    const { rotation, translationMm, focalPx } = currentPose(variables, fitFrame);
    let errorSum = 0;
    for (let k = 0; k < 68; k++) errorSum += Math.hypot(landmarks2d[2 * k] - face.landmarks68[2 * k], landmarks2d[2 * k + 1] - face.landmarks68[2 * k + 1]);
    const toDegrees = 180 / Math.PI;
    const [pitch, yaw, roll] = eulerFromRotation(rotation);
    const identity = this.identityMean.slice();
    this.identityShape ??= evaluateMorphableModel(this.models.model, identity, []);
    const vertices = this.identityShape.slice();
    addModes(vertices, this.models.model.expressionBasis, expressionWeights);
    return {
      vertices,
      identity,
      expressionWeights,
      rotation,
      translationMm,
      focalPx,
      anglesDeg: [pitch * toDegrees, yaw * toDegrees, roll * toDegrees],
      principalPointPx: fitFrame.principalPointPx,
      landmarks2d,
      detectedLandmarks2d: face.landmarks68,
      landmarkErrorPx: errorSum / 68,
      interOcularPx: interOcularDistance(face.landmarks68),
      identityFrames: this.identityCount,
      followed,
      encoded,
      timingsMs: { detect: detectMs, encode: encodeMs, landmarks: landmarksMs, total: performance.now() - started },
    };
  }

  /** Forget the face and its accumulated identity (a new person). */
  reset(): void {
    this.previous = undefined;
    this.dropPose();
    this.identityMean.fill(0);
    this.identityCount = 0;
    this.identityShape = undefined;
  }

  dispose(): void {
    this.dropPose();
    this.correspondence.dispose();
    this.weights.dispose();
  }

  private dropPose(): void {
    this.state?.variables.dispose();
    this.state = undefined;
  }

  private encode(frame: RgbaImage, landmarks68: Float32Array): { estimate: EncoderEstimate; cropFromImage: Affine2D } {
    const { crop, cropFromImage } = alignFaceCrop(frame, landmarks68, this.encoder.config.resolution);
    for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255; // outside the frame: opaque black, as in training
    const crops = imageToGarTensor(crop);
    try {
      return { estimate: this.encoder.estimate(crops)[0], cropFromImage };
    } finally {
      crops.dispose();
    }
  }

  /**
   * A face found anew: pose and expression start from the encoder's estimate, the pose moved
   * from the crop's camera to the frame's (turned about the optical axis by the crop's in-plane
   * angle); the focal length stays the frame's prior, with the depth scaled so the face keeps
   * its size.
   */
  private acquire(frame: RgbaImage, landmarks68: Float32Array, estimate: EncoderEstimate, cropFromImage: Affine2D): void {
    this.dropPose();
    const model = this.models.model;
    const { frame: fitFrame, direction } = createFitFrame(model, landmarks68, frame, this.fitConfig.focalPriorPerImageSide);
    const variables = new FitVariables({ modeCount: this.models.identityCount + this.models.expressionCount, yaw: 0, direction });
    const cropFrame = createCropFrame(model, this.encoder.config.resolution, applyAffine2D(cropFromImage, frame.width / 2, frame.height / 2));
    const crop = cropPoseToCamera(estimate.pose, cropFrame);
    const { turnRad, scale } = similarityTurnAndScale(cropFromImage);
    const { rotation, translationMm } = turnAboutOpticalAxis(crop.rotation, crop.translationMm, turnRad);
    const pivot = fitFrame.pivotMm;
    const pivotCamera = [0, 1, 2].map((r) => rotation[3 * r] * pivot[0] + rotation[3 * r + 1] * pivot[1] + rotation[3 * r + 2] * pivot[2] + translationMm[r]);
    const depthMm = -pivotCamera[2];
    const coefficients = new Float32Array(this.models.identityCount + this.models.expressionCount);
    coefficients.set(estimate.expression, this.models.identityCount);
    tf.tidy(() => {
      variables.coefficients.assign(tf.tensor1d(coefficients));
      if (depthMm > 0) {
        variables.angles.assign(tf.tensor1d(eulerFromRotation(rotation)));
        variables.direction.assign(tf.tensor1d([pivotCamera[0] / depthMm, pivotCamera[1] / depthMm]));
        variables.logDepth.assign(tf.scalar(Math.log((depthMm * (fitFrame.focalPriorPx / (crop.focalPx / scale))) / fitFrame.initialDepthMm)));
      }
    });
    this.state = { variables, frame: fitFrame, imageWidth: frame.width, imageHeight: frame.height };
  }

  /**
   * Move the previous frame's pose to this frame's landmarks in closed form: shift it so the
   * projected landmarks' centroid lands on the detected one, and change the depth by the ratio
   * of their spreads. A face moves tens of pixels between frames at a few frames per second;
   * the Adam steps after it are left the turn and the expression (`node --import tsx
   * bench/tracker.ts --stride 7`: median landmark error 3.35 % of the eye distance with 4 steps at
   * rate 0.01; one optimiser for the whole pose kept across frames did worse, its momentum overshot).
   */
  private recentre(landmarks68: Float32Array): void {
    const { variables, frame } = this.state!;
    const projected = tf.tidy(() => projectLandmarks(this.correspondence, variables, frame).dataSync() as Float32Array);
    const [projectedCentre, projectedSpread] = centroidAndSpread(projected);
    const [detectedCentre, detectedSpread] = centroidAndSpread(landmarks68);
    const { focalPx } = currentPose(variables, frame);
    const [dx, dy] = Array.from(variables.direction.dataSync());
    tf.tidy(() => {
      // Image y points down, the camera's y up.
      variables.direction.assign(
        tf.tensor1d([dx + (detectedCentre[0] - projectedCentre[0]) / focalPx, dy - (detectedCentre[1] - projectedCentre[1]) / focalPx]),
      );
      if (projectedSpread > 0 && detectedSpread > 0) variables.logDepth.assign(tf.add(variables.logDepth, Math.log(projectedSpread / detectedSpread)));
    });
  }

  /**
   * Adam steps (a fresh optimiser each frame) on the turn and the expression, or on the whole pose
   * when the face is found anew; focal fixed, identity held at the running mean, expressions in [0, 1].
   */
  private landmarkSteps(landmarks68: Float32Array, steps: number, learningRate: number, wholePose: boolean): void {
    const { variables, frame } = this.state!;
    const K = this.models.identityCount;
    const detected = tf.tensor2d(landmarks68, [68, 2]);
    const identity = tf.tensor1d(this.identityMean);
    const optimizer = tf.train.adam(learningRate);
    const free = wholePose ? [variables.coefficients, variables.angles, variables.direction, variables.logDepth] : [variables.coefficients, variables.angles];
    const holdIdentity = () =>
      tf.tidy(() => {
        const expression = tf.clipByValue(tf.slice(variables.coefficients, [K], [this.models.expressionCount]), 0, 1);
        variables.coefficients.assign(tf.concat([identity, expression]));
      });
    try {
      holdIdentity();
      for (let step = 0; step < steps; step++) {
        optimizer.minimize(() => landmarkLoss(this.models, this.correspondence, variables, frame, detected, this.weights, this.fitConfig), false, free);
        holdIdentity();
      }
    } finally {
      optimizer.dispose();
      tf.dispose([detected, identity]);
    }
  }
}

/** Centroid (px) and RMS distance from it of [N*2] points. */
function centroidAndSpread(points: Float32Array): [[number, number], number] {
  const n = points.length / 2;
  let cx = 0,
    cy = 0;
  for (let k = 0; k < n; k++) {
    cx += points[2 * k] / n;
    cy += points[2 * k + 1] / n;
  }
  let sum = 0;
  for (let k = 0; k < n; k++) sum += (points[2 * k] - cx) ** 2 + (points[2 * k + 1] - cy) ** 2;
  return [[cx, cy], Math.sqrt(sum / n)];
}

function validateTrackerConfig(config: FaceTrackerConfig): Required<FaceTrackerConfig> {
  const out = { ...DEFAULT_FACE_TRACKER_CONFIG };
  for (const [key, value] of Object.entries(config) as [keyof FaceTrackerConfig, number | undefined][]) {
    if (value == null) continue;
    if (!(key in DEFAULT_FACE_TRACKER_CONFIG)) throw invalidParameterError(`tracker option ${key}`, 'a known option', key);
    out[key] = value;
  }
  for (const key of ['landmarkSteps', 'acquireSteps', 'identityFrames', 'encoderInterval'] as const) {
    if (!Number.isInteger(out[key]) || out[key] < (key === 'identityFrames' || key === 'encoderInterval' ? 1 : 0))
      throw invalidParameterError(key, 'a non-negative integer', out[key]);
  }
  if (!(out.learningRate > 0 && Number.isFinite(out.learningRate))) throw invalidParameterError('learningRate', 'a positive number', out.learningRate);
  return out;
}
