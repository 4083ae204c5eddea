import { invalidParameterError } from '../common/errors.ts';

/**
 * Weights, steps and learning rates of the GAR refinement (fit/gar-refine.ts). Losses are
 * dimensionless: the pixel loss is the mean colour distance over covered pixels in the GAR's
 * −1…1 range; the landmark loss is the squared landmark error over the face size (as in the
 * graphics fit); priors are sums of squared coefficients; the latent prior is the mean squared
 * distance of w from the GAR's w̄ per dimension.
 */
export interface GarRefineConfig {
  /**
   * Steps of the graphics path's landmark stage (rigid pose, then shape) run before the GAR
   * steps, from the same start; it stops early once converged. 0 = none.
   */
  landmarkStageSteps: number;
  /** Adam steps through the GAR. */
  steps: number;
  /** Adam learning rates: identity + expression coefficients, pose + camera (angles, pivot direction, log depth, log focal), latent w. */
  learningRateShape: number;
  learningRatePose: number;
  learningRateLatent: number;
  pixelWeight: number;
  /**
   * Multiplies `pixelWeight` on a face whose detector landmarks the turned-face gate replaced
   * (landmark source 'encoder' or 'facemesh+encoder', api/landmark-source.ts). 10 places such
   * faces' 2D landmarks better (AFLW2000-3D's NME) but their 3D shape worse, so it stays 1
   * (docs/tuning.md).
   */
  replacedLandmarkPixelFactor: number;
  /**
   * Mean colour distance r (GAR −1…1 units, covered pixels) above which the pixel loss d turns
   * into 2r − r²/d, its pull falling as (r / d)² (robustPixelLoss in robust-pixel-loss.ts). 0 = d as is.
   */
  pixelNoiseReference: number;
  landmarkWeight: number;
  /**
   * Weight of the 17 jaw-contour landmarks relative to the inner ones, as on the graphics path:
   * with the identity regressor centring the prior, the detector's jaw (its least accurate
   * points) bends the shape more than it informs it (docs/tuning.md).
   */
  contourLandmarkWeight: number;
  identityPriorWeight: number;
  expressionPriorWeight: number;
  focalPriorWeight: number;
  latentPriorWeight: number;
  /** Weight of a landmark regressor's dense points (used only when it gives some; see fit-config's denseLandmarkWeight). */
  denseLandmarkWeight: number;
  /**
   * Steps of a shading stage after the GAR steps: the graphics renderer (one albedo × SH light)
   * against the aligned crop at `shadingSizePx`, landmarks and priors kept, the shape free. 0 = none.
   */
  shadingSteps: number;
  /** Weight of the shading stage's colour distance (mean over covered pixels, colours 0…1), beside the landmark term. */
  shadingWeight: number;
  /** Adam rate of the shape coefficients in the shading stage, as a fraction of the graphics fit's learningRate. */
  shadingShapeRateFraction: number;
  /** Side of the crop the shading stage renders (the same alignment as the GAR's crop, resampled). */
  shadingSizePx: number;
  /**
   * Landmark-stage steps at the very end (after the GAR steps and the shading stage) with the
   * identity held where those left it: pose and expression settle onto the detector's points. 0 = none.
   */
  settleSteps: number;
}

export type GarRefinePresetName = 'instant' | 'fast' | 'default' | 'quality' | 'shading';

const BASE: GarRefineConfig = {
  landmarkStageSteps: 200,
  steps: 60,
  learningRateShape: 0.03,
  learningRatePose: 0.002,
  learningRateLatent: 0.02,
  pixelWeight: 0.01,
  replacedLandmarkPixelFactor: 1,
  pixelNoiseReference: 0.2,
  landmarkWeight: 1,
  contourLandmarkWeight: 0.25,
  identityPriorWeight: 6e-6,
  expressionPriorWeight: 3e-5,
  focalPriorWeight: 0.1,
  latentPriorWeight: 1e-3,
  denseLandmarkWeight: 1,
  shadingSteps: 0,
  shadingWeight: 0.05,
  shadingShapeRateFraction: 0.3,
  shadingSizePx: 128,
  settleSteps: 0,
};

/**
 * Presets: `instant` (no refinement: the encoder's estimate as is, for video-rate use), `fast`
 * (a 100-step landmark stage, 20 GAR steps with larger shape and latent rates), `default` (200
 * landmark steps + 30 GAR steps, then 60 steps of the shading stage, which reads the cheeks and
 * forehead, then 100 settle steps that bring pose and expression back onto the detector's points
 * with the identity held), `quality` (200 + 200 GAR steps, smaller shape and latent rates, no
 * shading stage), `shading` (the default without the settle stage: the fit leaves the detector's
 * points on real photos by about 1 % of the eye distance more).
 * The measurements that chose these numbers: docs/tuning.md.
 */
export const GAR_REFINE_PRESETS: Readonly<Record<GarRefinePresetName, Readonly<GarRefineConfig>>> = Object.freeze({
  instant: { ...BASE, landmarkStageSteps: 0, steps: 0 },
  // fast keeps the weaker identity prior: with 6e-6 its fewer steps leave an example photo above 3 % (docs/tuning.md).
  fast: { ...BASE, landmarkStageSteps: 100, steps: 20, learningRateShape: 0.05, learningRateLatent: 0.03, identityPriorWeight: 1.5e-6 },
  default: { ...BASE, steps: 30, shadingSteps: 60, settleSteps: 100 },
  quality: { ...BASE, steps: 200, learningRateShape: 0.02, learningRateLatent: 0.012 },
  shading: { ...BASE, steps: 30, shadingSteps: 60 },
});

/** A preset (default `default`) with overrides, checked; throws UsageError naming the bad field. */
export function validateGarRefineConfig(overrides: Partial<GarRefineConfig> = {}, preset: string = 'default'): GarRefineConfig {
  if (!(preset in GAR_REFINE_PRESETS)) throw invalidParameterError('preset', `one of ${Object.keys(GAR_REFINE_PRESETS).join(', ')}`, preset);
  const out: GarRefineConfig = { ...GAR_REFINE_PRESETS[preset as GarRefinePresetName] };
  for (const [key, value] of Object.entries(overrides) as [keyof GarRefineConfig, number | undefined][]) {
    if (value == null) continue;
    if (!(key in BASE)) throw invalidParameterError(`GAR refine option ${key}`, 'a known option', key);
    out[key] = value;
  }
  for (const key of ['steps', 'landmarkStageSteps', 'shadingSteps', 'settleSteps'] as const)
    if (!Number.isInteger(out[key]) || out[key] < 0) throw invalidParameterError(key, 'a non-negative integer', out[key]);
  if (!Number.isInteger(out.shadingSizePx) || out.shadingSizePx < 16 || out.shadingSizePx > 512)
    throw invalidParameterError('shadingSizePx', 'an integer from 16 to 512', out.shadingSizePx);
  for (const key of Object.keys(out) as (keyof GarRefineConfig)[]) {
    if (!Number.isFinite(out[key]) || out[key] < 0) throw invalidParameterError(key, 'a finite number ≥ 0', out[key]);
  }
  return out;
}
