import * as tf from '@tensorflow/tfjs-core';
import type { RgbaImage } from '../common/image.ts';
import { FitFailedError } from '../common/errors.ts';
import { evaluateMorphableModel } from '../morphable/morphable-model.ts';
import { validateFitConfig, type FitConfig } from './fit-config.ts';
import { createFitFrame, estimateYaw } from './fit-frame.ts';
import { FitVariables } from './fit-variables.ts';
import { poseVariableValues, type FixedPose } from './fixed-pose.ts';
import { currentPose, projectLandmarks, runLandmarkStage, updateContour } from './landmark-stage.ts';
import { LandmarkCorrespondence } from './contour-landmarks.ts';
import { DenseLandmarkTerm, denseTermOfPoints, type DensePoints } from './dense-landmarks.ts';
import { createFaceCrop, runPhotometricStage } from './photometric-stage.ts';
import type { ModelTensors } from './model-tensors.ts';

/** The fitted model and camera for one face. Pose maps model space to camera space: p_cam = R p + t. */
export interface FaceFit {
  /** [K] identity coefficients (~N(0, 1)). */
  identity: Float32Array;
  /** [E] expression weights in [0, 1], in the model's expression order. */
  expressionWeights: Float32Array;
  /** Row-major 3×3. */
  rotation: Float64Array;
  /** [pitch, yaw, roll] in degrees (R = Rz(roll)·Ry(yaw)·Rx(pitch)). */
  anglesDeg: [number, number, number];
  translationMm: [number, number, number];
  focalPx: number;
  principalPointPx: [number, number];
  /** [9*3] SH light coefficients, band-major then RGB. */
  light: Float32Array;
  /** [3] linear albedo 0..1. */
  albedo: Float32Array;
  /** [V*3] fitted vertices in model space (mm). */
  vertices: Float32Array;
  /** [68*2] model landmarks projected into the original image (px). */
  landmarks2d: Float32Array;
  /** Mean distance between projected and detected landmarks (px). */
  landmarkErrorPx: number;
  lossHistory: { landmark: number[]; photometric: number[] };
  timingsMs: { landmarkFit: number; photometricFit: number };
}

export type FitProgress = (stage: 'landmarks' | 'photometric', step: number, total: number) => void;

/** What the landmarks stand for (a landmark regressor's vertices), and diagnostics hooks (the benchmark's oracle-landmarks and true-pose rows). */
export interface FitConstraints {
  /** The model vertex under each of the 68 landmarks (default: LandmarkCorrespondence's choice). */
  landmarkVertices?: ArrayLike<number>;
  /** Hold the head pose and focal length at these (the photo's camera); only shape, expression and appearance are fitted. */
  fixedPose?: FixedPose;
  /**
   * Dense points (a landmark regressor's beyond iBUG-68): [N*2] photo px and the model vertex of
   * each. They replace the detector's 468-point mesh as the dense term (weight
   * `config.denseLandmarkWeight`).
   */
  densePoints?: DensePoints;
  /** Hold the identity coefficients at these (one person's joint estimate from several photos); expression, pose and camera stay free. */
  fixedIdentity?: Float32Array;
  /** Centre and per-mode precision of the identity prior (FitFrame.identityPrior; default N(0, 1)); the fit starts at its centre. */
  identityPrior?: { mean: Float32Array; precision: Float32Array };
}

/**
 * Fit the morphable model to one face: a landmark-only stage (rigid pose first), then landmark
 * + photometric analysis-by-synthesis through the graphics renderer. Deterministic: the same
 * inputs give the same result. Leaves no tensors behind.
 *
 * @param image the whole photo.
 * @param landmarks68 [68*2] detected iBUG-68 landmarks in the photo's pixels.
 * @param mesh468 optional [468*3] the detector's FaceMesh points (px) for the dense landmark term.
 * @param constraints other landmark vertices (a landmark regressor's, the oracle's), or a pose held fixed.
 */
export function fitFace(
  models: ModelTensors,
  image: RgbaImage,
  landmarks68: Float32Array,
  configOverrides: Partial<FitConfig> = {},
  onProgress?: FitProgress,
  mesh468?: Float32Array,
  constraints: FitConstraints = {},
): FaceFit {
  if (landmarks68.length !== 136) throw new RangeError(`landmarks68 must have 136 numbers, got ${landmarks68.length}`);
  const config = validateFitConfig(configOverrides);
  const model = models.model;
  const { frame, direction } = createFitFrame(model, landmarks68, image, config.focalPriorPerImageSide);
  const variables = new FitVariables({ modeCount: models.identityCount + models.expressionCount, yaw: estimateYaw(landmarks68), direction });
  if (constraints.fixedPose) variables.lockPose(poseVariableValues(constraints.fixedPose, frame));
  if (constraints.identityPrior) {
    const { mean, precision } = constraints.identityPrior;
    if (mean.length !== models.identityCount || precision.length !== models.identityCount || !precision.every((p) => p > 0 && Number.isFinite(p)))
      throw new RangeError(`identityPrior: expected ${models.identityCount} means and positive precisions, got ${mean.length} and ${precision.length}`);
    frame.identityPrior = constraints.identityPrior;
    variables.setIdentity(constraints.identityPrior.mean);
  }
  if (constraints.fixedIdentity) variables.lockIdentity(constraints.fixedIdentity);
  const correspondence = new LandmarkCorrespondence(model, constraints.landmarkVertices, { slidingContour: config.slidingContour === 1 ? true : undefined });
  const dense =
    config.denseLandmarkWeight > 0
      ? constraints.densePoints
        ? denseTermOfPoints(model, constraints.densePoints)
        : mesh468
          ? new DenseLandmarkTerm(model, mesh468)
          : undefined
      : undefined;
  let crop: ReturnType<typeof createFaceCrop> | undefined;
  try {
    let started = performance.now();
    const landmarkHistory = runLandmarkStage(models, correspondence, variables, frame, landmarks68, config, (s, n) => onProgress?.('landmarks', s, n), dense);
    const landmarkFitMs = performance.now() - started;
    checkFinite(landmarkHistory, 'landmark');

    started = performance.now();
    let photometricHistory: number[] = [];
    if (config.photometricSteps > 0) {
      crop = createFaceCrop(image, landmarks68, config.renderSizePx);
      photometricHistory = runPhotometricStage(
        models,
        correspondence,
        variables,
        frame,
        crop,
        landmarks68,
        config,
        (s, n) => onProgress?.('photometric', s, n),
        dense,
      );
      checkFinite(photometricHistory, 'photometric');
    }
    const photometricFitMs = performance.now() - started;

    const coefficients = variables.coefficients.dataSync() as Float32Array;
    const identity = coefficients.slice(0, models.identityCount);
    const expressionWeights = coefficients.slice(models.identityCount);
    const [pitch, yaw, roll] = Array.from(variables.angles.dataSync());
    const { rotation, translationMm, focalPx } = currentPose(variables, frame);
    // A sliding contour was last re-picked a few steps ago: report it for the final pose.
    updateContour(correspondence, variables, frame);
    const projected = tf.tidy(() => projectLandmarks(correspondence, variables, frame).dataSync() as Float32Array);
    let errorSum = 0;
    for (let k = 0; k < 68; k++) errorSum += Math.hypot(projected[2 * k] - landmarks68[2 * k], projected[2 * k + 1] - landmarks68[2 * k + 1]);
    const toDegrees = 180 / Math.PI;
    return {
      identity,
      expressionWeights,
      rotation,
      anglesDeg: [pitch * toDegrees, yaw * toDegrees, roll * toDegrees],
      translationMm,
      focalPx,
      principalPointPx: frame.principalPointPx,
      light: variables.light.dataSync() as Float32Array,
      albedo: variables.albedo.dataSync() as Float32Array,
      vertices: evaluateMorphableModel(model, identity, expressionWeights),
      landmarks2d: projected,
      landmarkErrorPx: errorSum / 68,
      lossHistory: { landmark: landmarkHistory, photometric: photometricHistory },
      timingsMs: { landmarkFit: landmarkFitMs, photometricFit: photometricFitMs },
    };
  } finally {
    variables.dispose();
    correspondence.dispose();
    dense?.dispose();
    crop?.target.dispose();
  }
}

function checkFinite(history: number[], stage: string): void {
  const bad = history.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) throw new FitFailedError(`the ${stage} fit diverged (loss ${history[bad]} at step ${bad + 1})`);
}
