// One face through the GAR path: align the crop at the GAR's resolution (as `facegar prepare`
// does for training), the encoder's estimate (from a crop at its own resolution), refinement through the GAR, and the result moved
// from the crop's camera back to the photo's, so it reads like the graphics path's FaceFit.
import { applyAffine2D, invertAffine2D, type Affine2D, type RgbaImage } from '../common/image.ts';
import { UsageError } from '../common/errors.ts';
import { alignFaceCrop } from '../detect/align-face-crop.ts';
import type { FaceFit } from '../fit/fit-face.ts';
import type { FixedPose } from '../fit/fixed-pose.ts';
import { refineWithGar, type GarRefineTerms } from '../fit/gar-refine.ts';
import { validateGarRefineConfig, type GarRefineConfig, type GarRefinePresetName } from '../fit/gar-refine-config.ts';
import type { ModelTensors } from '../fit/model-tensors.ts';
import { eulerFromRotation } from '../geometry/rotation.ts';
import { createCropFrame, cropCameraToPhoto, similarityTurnAndScale, turnAboutOpticalAxis } from '../invert/crop-frame.ts';
import type { EncoderEstimate, FaceEncoder } from '../invert/face-encoder.ts';
import { joinRegressedIdentity } from '../invert/identity-regressor.ts';
import type { DensePoints } from '../fit/dense-landmarks.ts';
import { imageToGarTensor } from '../invert/render-through-gar.ts';
import { assessDetectorLandmarks, type LandmarkAssessment, type LandmarkSource } from '../fit/landmark-reliability.ts';
import type { GarModels } from './gar-models.ts';
import { chooseFitLandmarks, estimateFromLandmarks, type LandmarkGateOptions } from './landmark-source.ts';

export interface GarFaceOptions {
  /** Refinement preset; `instant` = the encoder's estimate, no refinement. Default `default`. */
  preset?: GarRefinePresetName;
  /** Overrides of the preset's refinement config. */
  refine?: Partial<GarRefineConfig>;
  /** Where refinement starts: the encoder's estimate (needs an encoder) or the mean face and w̄. Default: encoder when there is one. */
  start?: 'encoder' | 'mean';
  /** Diagnostics: hold the head pose and focal length at these (the photo's camera, principal point at its centre). */
  fixedPose?: FixedPose;
  /** Hold the identity coefficients at these (see ReconstructOptions.fixedIdentity). */
  fixedIdentity?: Float32Array;
  /**
   * Another estimate of the identity with its per-mode error (the identity regressor's): it joins
   * the identity prior, weighted against the shape encoder's estimate (or the model's N(0, 1) prior
   * without one) by precision.
   */
  identityEstimate?: { mean: Float32Array; errorStd: Float32Array };
  onStep?: (step: number, total: number) => void;
  /** The camera's focal length in photo pixels when known (EXIF, calibration): the fit keeps it. */
  knownFocalPx?: number;
  /** After each step of the landmark stage that runs before the GAR steps. */
  onLandmarkStep?: (step: number, total: number) => void;
  /**
   * The landmarks the fit matches, when not the framing ones: [68*2] photo pixels and the model
   * vertex under each (a landmark regressor's points and vertices). The crops are still cut from
   * `landmarks68`, as the encoders were trained.
   */
  fitLandmarks?: { landmarks68: Float32Array; vertices: ArrayLike<number>; dense?: DensePoints };
  /**
   * The model vertex under each of `landmarks68` when they are not FaceMesh's points on the
   * calibrated vertices (the landmark map's: the model's own); where the gate replaces such points,
   * the encoder's are averaged with them (LandmarkGateOptions.averageReplaced).
   */
  landmarkVertices?: ArrayLike<number>;
  /** What the detector said of this face besides its landmarks; with a shape encoder, decides whether they are followed (api/landmark-source.ts). */
  detection?: { meshScore: number; mesh468?: Float32Array };
  /** Thresholds of that decision. */
  landmarkGate?: LandmarkGateOptions;
}

/** What the GAR path adds to a face's fit. */
export interface GarFaceDetails {
  preset: GarRefinePresetName;
  start: 'encoder' | 'mean';
  steps: number;
  /** Steps of the shading stage that ran (0: off, or no landmarks). */
  shadingSteps: number;
  /** Steps of the settle stage that ran (identity held; 0: off, or no landmarks). */
  settleSteps: number;
  /** Whether an identity regressor's estimate joined the identity prior (and the start). */
  identityRegressor: boolean;
  /** The aligned crop (GAR resolution², opaque) and the final GAR render of the fit in it. */
  crop: RgbaImage;
  render: RgbaImage;
  /** Photo pixels → crop pixels. */
  cropFromImage: Affine2D;
  /** [wDim] the refined latent. */
  w: Float32Array;
  /** Weighted loss terms after the last step. */
  finalTerms: GarRefineTerms;
  /** Total loss before each step, then after the last. */
  lossHistory: number[];
  /** `landmarks`: the landmark stage before the GAR steps (`refine`). */
  timingsMs: { align: number; encode: number; landmarks: number; refine: number };
}

export type GarFaceFit = FaceFit & {
  gar: GarFaceDetails;
  /** Where the landmarks the fit followed came from (the detector's unless a shape encoder replaced unreliable ones). */
  landmarkSource: LandmarkSource;
  /** Why the detector's landmarks were (not) trusted, when `options.detection` was given. */
  landmarkAssessment?: LandmarkAssessment;
};

/**
 * Reconstruct one face through the GAR. `landmarks68` [68*2] are the detector's iBUG-68 points in
 * photo pixels; the photo's principal point is its centre (as the graphics fit assumes). Returns
 * the pose and camera in photo pixels: p_cam = R p + t, u = cx + f·x/(−z), v = cy − f·y/(−z).
 * Deterministic; leaves no tensors behind; FitFailedError on a diverging refinement.
 */
export function reconstructFaceWithGar(
  models: GarModels,
  modelTensors: ModelTensors,
  image: RgbaImage,
  landmarks68: Float32Array,
  options: GarFaceOptions = {},
): GarFaceFit {
  const preset = options.preset ?? 'default';
  const config = validateGarRefineConfig(options.refine, preset);
  const start = options.start ?? (models.encoder ? 'encoder' : 'mean');
  if (start === 'encoder' && !models.encoder) throw new UsageError('the GAR path was asked to start from the encoder, but no encoder is loaded');
  if (preset === 'instant' && start !== 'encoder') throw new UsageError('the instant preset (no refinement) needs an encoder');
  const size = models.generator.config.resolution;

  let mark = performance.now();
  const lap = () => {
    const now = performance.now(),
      ms = now - mark;
    mark = now;
    return ms;
  };
  // With a shape encoder, its estimate (made first) judges the detector's landmarks and replaces unreliable ones.
  const choice =
    start === 'encoder' && models.shapeEncoder && options.detection && !options.fitLandmarks
      ? chooseFitLandmarks(
          modelTensors.model,
          models.shapeEncoder,
          image,
          { landmarks68, ...options.detection },
          {
            ...options.landmarkGate,
            ...(options.landmarkVertices ? { landmarkVertices: options.landmarkVertices, averageReplaced: true } : {}),
          },
        )
      : undefined;
  landmarks68 = choice?.landmarks68 ?? landmarks68;
  const shapeMs = lap();
  const aligned = alignFaceCrop(image, landmarks68, size);
  const { cropFromImage } = aligned;
  const crop = opaque(aligned.crop);
  const matched = options.fitLandmarks?.landmarks68 ?? landmarks68;
  const cropLandmarks = new Float32Array(136);
  for (let k = 0; k < 68; k++) cropLandmarks.set(applyAffine2D(cropFromImage, matched[2 * k], matched[2 * k + 1]), 2 * k);
  const frame = createCropFrame(modelTensors.model, size, applyAffine2D(cropFromImage, image.width / 2, image.height / 2));
  const alignMs = lap();

  let estimate: EncoderEstimate | undefined;
  if (start === 'encoder') {
    // An encoder of another resolution than the GAR gets its own crop, as the shape encoder does below.
    const encoderSize = models.encoder!.config.resolution;
    estimate = encodeCrop(models.encoder!, encoderSize === size ? crop : opaque(alignFaceCrop(image, landmarks68, encoderSize).crop));
    // The shape encoder's crop is the same similarity of the photo at its own resolution, so its
    // crop-frame pose (normalised pivot, focal and depth relative to the frame) carries over.
    if (models.shapeEncoder) {
      const shape = choice?.estimate ?? estimateFromLandmarks(models.shapeEncoder, image, landmarks68).estimate;
      estimate = { ...shape, w: estimate.w };
    }
  }
  const encodeMs = lap() + shapeMs;
  const refineConfig = choice && choice.source !== 'facemesh' ? { ...config, pixelWeight: config.pixelWeight * config.replacedLandmarkPixelFactor } : config;
  const fixedPose = options.fixedPose && cropFixedPose(options.fixedPose, cropFromImage);
  const shapeEncoder = start === 'encoder' ? models.shapeEncoder : undefined;
  const encoderPrior =
    shapeEncoder && estimate
      ? { mean: estimate.identity, precision: (shapeEncoder.identityErrorStd ?? new Float32Array(estimate.identity.length).fill(1)).map((e) => 1 / (e * e)) }
      : undefined;
  const regressed = options.identityEstimate;
  const identityPrior = regressed ? joinRegressedIdentity(regressed, encoderPrior) : encoderPrior;
  // The fit starts where its prior is centred.
  if (regressed && estimate) estimate = { ...estimate, identity: identityPrior!.mean };
  // A known focal length, in crop pixels, replaces the estimate: start there and hold it.
  const knownLogFocal = options.knownFocalPx ? Math.log((options.knownFocalPx * similarityTurnAndScale(cropFromImage).scale) / frame.focalRefPx) : undefined;
  if (knownLogFocal !== undefined && estimate) estimate = { ...estimate, pose: { ...estimate.pose, logFocal: knownLogFocal } };
  const logFocalPriorMean = knownLogFocal ?? (encoderPrior ? estimate!.pose.logFocal : undefined);
  const dense = options.fitLandmarks?.dense;
  const densePoints = dense && {
    vertices: dense.vertices,
    points: Float32Array.from(dense.points, (_, i) => applyAffine2D(cropFromImage, dense.points[i - (i % 2)], dense.points[i - (i % 2) + 1])[i % 2]),
  };
  const refined = refineWithGar(
    models.generator,
    modelTensors,
    {
      crop,
      frame,
      landmarks68: cropLandmarks,
      start: estimate,
      fixedPose,
      ...(options.fixedIdentity ? { fixedIdentity: options.fixedIdentity } : {}),
      ...(options.fitLandmarks || options.landmarkVertices ? { landmarkVertices: options.fitLandmarks?.vertices ?? options.landmarkVertices } : {}),
      ...(densePoints ? { densePoints } : {}),
      ...(config.shadingSteps ? { shadingCrop: opaque(alignFaceCrop(image, landmarks68, config.shadingSizePx).crop) } : {}),
      ...(identityPrior ? { identityPrior } : {}),
      ...(logFocalPriorMean !== undefined ? { logFocalPriorMean } : {}),
    },
    knownLogFocal !== undefined ? { ...refineConfig, focalPriorWeight: KNOWN_FOCAL_PRIOR_WEIGHT } : refineConfig,
    options.onStep && ((step, total) => options.onStep!(step, total)),
    options.onLandmarkStep,
  );
  const refineMs = lap();

  // The crop is a similarity of the photo (scale s, in-plane turn θ): the photo's camera is the
  // crop's turned by θ about the optical axis, with focal length f / s.
  const { rotation, translationMm, focalPx } = cropCameraToPhoto(refined, cropFromImage);
  const imageFromCrop = invertAffine2D(cropFromImage);
  const landmarks2d = new Float32Array(136);
  let errorSum = 0;
  for (let k = 0; k < 68; k++) {
    const [x, y] = applyAffine2D(imageFromCrop, refined.landmarks2d[2 * k], refined.landmarks2d[2 * k + 1]);
    landmarks2d[2 * k] = x;
    landmarks2d[2 * k + 1] = y;
    errorSum += Math.hypot(x - matched[2 * k], y - matched[2 * k + 1]);
  }
  const toDegrees = 180 / Math.PI;
  const [pitch, yaw, roll] = eulerFromRotation(rotation);
  return {
    identity: refined.identity,
    expressionWeights: refined.expressionWeights,
    rotation,
    anglesDeg: [pitch * toDegrees, yaw * toDegrees, roll * toDegrees],
    translationMm,
    focalPx,
    principalPointPx: [image.width / 2, image.height / 2],
    // The GAR has no explicit light or albedo: appearance lives in w.
    light: new Float32Array(0),
    albedo: new Float32Array(0),
    vertices: refined.vertices,
    landmarks2d,
    landmarkErrorPx: errorSum / 68,
    lossHistory: { landmark: [], photometric: [] },
    timingsMs: { landmarkFit: 0, photometricFit: 0 },
    gar: {
      preset,
      start,
      steps: config.steps,
      shadingSteps: refined.shadingStageSteps,
      settleSteps: refined.settleStageSteps,
      identityRegressor: Boolean(regressed),
      crop,
      render: refined.render,
      cropFromImage,
      w: refined.w,
      finalTerms: refined.finalTerms,
      lossHistory: refined.lossHistory,
      timingsMs: { align: alignMs, encode: encodeMs, landmarks: refined.timingsMs.landmarks, refine: refineMs - refined.timingsMs.landmarks },
    },
    landmarkSource: choice?.source ?? 'facemesh',
    ...(options.detection
      ? {
          landmarkAssessment:
            choice?.assessment ?? assessDetectorLandmarks({ landmarks68, ...options.detection }, undefined, options.landmarkGate?.reliability),
        }
      : {}),
  };
}

/** A photo camera's pose as the crop's camera sees it: turned about the optical axis, focal length scaled like the pixels. */
function cropFixedPose(pose: FixedPose, cropFromImage: Affine2D): FixedPose {
  const { turnRad, scale } = similarityTurnAndScale(cropFromImage);
  const { rotation, translationMm } = turnAboutOpticalAxis(pose.rotation, pose.translationMm, -turnRad);
  return { rotation, translationMm, focalPx: pose.focalPx * scale };
}

/**
 * Weight of the log-focal prior when the focal length is known: strong enough that landmarks
 * cannot move it (1 % off costs as much as a 3 % landmark error over the whole face).
 */
export const KNOWN_FOCAL_PRIOR_WEIGHT = 10;

/** Outside the photo: opaque black, as in training. Changes `crop` in place and returns it. */
function opaque(crop: RgbaImage): RgbaImage {
  for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255;
  return crop;
}

function encodeCrop(encoder: FaceEncoder, crop: RgbaImage): EncoderEstimate {
  const crops = imageToGarTensor(crop);
  try {
    return encoder.estimate(crops)[0];
  } finally {
    crops.dispose();
  }
}

/**
 * The crop and the GAR's render of the fit side by side, each enlarged (nearest neighbour) to
 * about `panelPx` so a person can see them: what `<stem>.gar.png` holds.
 */
export function renderGarComparison(details: Pick<GarFaceDetails, 'crop' | 'render'>, panelPx = 256): RgbaImage {
  const size = details.crop.width;
  const factor = Math.max(1, Math.round(panelPx / size));
  const side = size * factor,
    gap = factor;
  const width = 2 * side + gap;
  const data = new Uint8ClampedArray(width * side * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  [details.crop, details.render].forEach((panel, index) => {
    const left = index * (side + gap);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const source = 4 * (Math.floor(y / factor) * panel.width + Math.floor(x / factor));
        const target = 4 * (y * width + left + x);
        data[target] = panel.data[source];
        data[target + 1] = panel.data[source + 1];
        data[target + 2] = panel.data[source + 2];
      }
    }
  });
  return { width, height: side, data };
}
