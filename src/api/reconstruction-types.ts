// What a reconstruction is asked for and what it returns: the public shapes of api/reconstruct.ts
// (kept apart so the per-face code and callers can name them without the Reconstructor).
import type { FaceFit } from '../fit/fit-face.ts';
import type { FitConfig } from '../fit/fit-config.ts';
import type { FixedPose } from '../fit/fixed-pose.ts';
import type { GarRefineConfig, GarRefinePresetName } from '../fit/gar-refine-config.ts';
import type { LandmarkAssessment, LandmarkSource } from '../fit/landmark-reliability.ts';
import type { RendererName } from './default-renderer.ts';
import type { GarFaceDetails } from './gar-face.ts';
import type { LandmarkGateOptions } from './landmark-source.ts';

export type LandmarkSourceName = 'facemesh' | 'regressor' | 'given';
export const LANDMARK_SOURCE_NAMES: readonly LandmarkSourceName[] = ['facemesh', 'regressor', 'given'];

export interface ReconstructOptions {
  /** Most faces to reconstruct, largest first. Default DEFAULT_MAX_FACES (4). */
  maxFaces?: number;
  /** Default: 'gar' when the reconstructor holds a GAR, else 'graphics'. */
  renderer?: RendererName;
  /** Overrides of DEFAULT_FIT_CONFIG (graphics path). */
  fit?: Partial<FitConfig>;
  /** GAR path: refinement preset (`instant` = encoder only). Default `default`. */
  garPreset?: GarRefinePresetName;
  /** GAR path: overrides of the preset's refinement config. */
  garRefine?: Partial<GarRefineConfig>;
  /** GAR path: start from the encoder's estimate (default when there is an encoder) or the mean face and w̄. */
  garStart?: 'encoder' | 'mean';
  /**
   * The camera's focal length in pixels of `image`, when known (EXIF, calibration): both paths
   * hold the fit to it instead of estimating it. Default: estimated.
   */
  knownFocalPx?: number;
  /**
   * Diagnostics: fit one face to these [68*2] iBUG-68 points (px) instead of running the detector
   * (no FaceMesh points, so no dense landmark term). The benchmark's oracle-landmarks row passes
   * the true projected landmarks.
   */
  landmarks68?: Float32Array;
  /** The model vertex under each of the 68 landmarks the fit matches (default: calibrated for the detector); a landmark regressor brings its own. */
  landmarkVertices?: ArrayLike<number>;
  /** Diagnostics: hold the head pose and focal length at these (the photo's camera, principal point at its centre). */
  fixedPose?: FixedPose;
  /**
   * Hold every face's identity coefficients at these (100 for ICT-FaceKit): one person's shape,
   * known from other photos (Reconstructor.reconstructPerson); expression, pose and camera are
   * fitted as usual.
   */
  fixedIdentity?: Float32Array;
  /**
   * The landmarks both paths fit: 'regressor' (default when the reconstructor holds one) cuts a
   * crop from the detector's points (or `landmarks68`) and fits the regressor's 68 points with its
   * model vertices, occluded ones included (no detector calibration, no sliding contour);
   * 'facemesh' fits the detector's points; 'given' (the default with `landmarks68`) fits those.
   */
  landmarks?: LandmarkSourceName;
  /** Regressor passes: 2 re-cuts the crop around the first pass's points. Default: the regressor's checkpoint says (else 1). */
  landmarkPasses?: number;
  /**
   * With landmarks 'facemesh' and a detector that has a landmark map (DetectorModelFiles.landmarkMap),
   * on a face turned LANDMARK_MAP_FROM_YAW_DEG or more: fit the map's points, the model's own 68 landmarks read from the whole FaceMesh mesh (occluded
   * ones included, on the model's own vertices), and cut the crops from them. false: FaceMesh's 68
   * points on the calibrated vertices, as before the map. Default true.
   */
  landmarkMap?: boolean;
  /** GAR path with a shape encoder: when the detector's landmarks count as unreliable (api/landmark-source.ts). */
  landmarkGate?: LandmarkGateOptions;
  /** Called as work advances; `fraction` of the whole image's work in [0, 1], `stageFraction` of this stage for this face. */
  onProgress?: (event: { stage: ReconstructStage; face: number; faceCount: number; fraction: number; stageFraction?: number }) => void;
}

export type ReconstructStage = 'detect' | 'landmarks' | 'photometric' | 'gar';

/** One reconstructed face: the fit plus what the detector saw. */
export interface FaceReconstruction extends FaceFit {
  /** 1 = largest face in the photo. */
  faceNumber: number;
  box: { x: number; y: number; width: number; height: number };
  detectionScore: number;
  meshScore: number;
  /** [68*2] detector landmarks (px), iBUG-68 order. */
  detectedLandmarks2d: Float32Array;
  /**
   * Which landmarks the fit matched (landmarkErrorPx is measured against them): 'facemesh' (the
   * detector), 'regressor', 'given', or, on the GAR path with a shape encoder when the detector's
   * points looked unreliable, 'encoder' (the landmarks the shape encoder's estimate implies) or
   * 'facemesh+encoder' (the detector's eyes, nose and mouth, the encoder's jaw line and brows).
   */
  landmarkSource: LandmarkSourceName | Exclude<LandmarkSource, 'facemesh'>;
  /** [68*2] the landmark regressor's points (px), iBUG-68 order, when it ran. */
  regressedLandmarks2d?: Float32Array;
  /** The detector's points came through the landmark map (the model's own 68 landmarks read from FaceMesh's mesh; see ReconstructOptions.landmarkMap). */
  landmarkMap?: boolean;
  /** [68*2] the landmark map's points (px), iBUG-68 order, when the fit followed them. */
  mappedLandmarks2d?: Float32Array;
  /** Distance between the detected eye centres (px); landmark errors are often quoted relative to it. */
  interOcularPx: number;
  /** Expression name → weight. */
  expression: Record<string, number>;
  /** The renderer the fit ran through. */
  renderer: RendererName;
  /** GAR path only: crop, render, latent, loss terms, per-stage timings. */
  gar?: GarFaceDetails;
  /** Where focalPx comes from: 'known' (given, e.g. from EXIF) or 'fit' (estimated from the photo). */
  focalSource: 'known' | 'fit';
  /** Whether the identity regressor's estimate centred the fit's identity prior (either renderer). */
  identityRegressor: boolean;
  /** Whether the detector's landmarks looked reliable, and why not. */
  landmarkAssessment: LandmarkAssessment;
}

export interface Reconstruction {
  imageSize: { width: number; height: number };
  faces: FaceReconstruction[];
  /**
   * GAR path: also `align`, `encode` (the identity regressor's time included), `landmarks`, `refine`; graphics path with
   * the identity regressor: `identity`; with a landmark regressor, `regress`; summed over faces (parts of `fit`).
   */
  timingsMs: {
    detect: number;
    fit: number;
    total: number;
    align?: number;
    encode?: number;
    landmarks?: number;
    refine?: number;
    regress?: number;
    identity?: number;
  };
}
