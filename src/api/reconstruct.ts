import type { Affine2D, RgbaImage } from '../common/image.ts';
import { ModelUnavailableError, NoFaceError, UsageError } from '../common/errors.ts';
import { initBackend, type BackendName } from '../engine/backend.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { createFaceDetector, type DetectedFace, type DetectorModelFiles, type FaceDetector, type FaceDetectorConfig } from '../detect/index.ts';
import { ModelTensors } from '../fit/model-tensors.ts';
import { fitFace, type FaceFit } from '../fit/fit-face.ts';
import type { DensePoints } from '../fit/dense-landmarks.ts';
import type { FitConfig } from '../fit/fit-config.ts';
import { landmarkBounds } from '../fit/fit-frame.ts';
import type { FixedPose } from '../fit/fixed-pose.ts';
import type { GarRefineConfig, GarRefinePresetName } from '../fit/gar-refine-config.ts';
import { decodeLandmarkRegressor, type LoadedLandmarkRegressor } from '../invert/landmark-regressor-checkpoint.ts';
import { regressLandmarks } from '../invert/regress-landmarks.ts';
import { decodeGarModels, type CheckpointBytes, type GarModelFiles, type GarModels } from './gar-models.ts';
import { KNOWN_FOCAL_PRIOR_WEIGHT, reconstructFaceWithGar, type GarFaceDetails } from './gar-face.ts';
import { DEFAULT_MAX_FACES, type RendererName } from './default-renderer.ts';
import { FaceTracker, type FaceTrackerConfig } from './face-tracker.ts';
import { interOcularDistance } from './inter-ocular-distance.ts';
import { mappedLandmarks, type LandmarkGateOptions } from './landmark-source.ts';
import { assessDetectorLandmarks, type LandmarkAssessment, type LandmarkSource } from '../fit/landmark-reliability.ts';

export type { RendererName } from './default-renderer.ts';
export { interOcularDistance } from './inter-ocular-distance.ts';

/** What a reconstructor needs: the morphable model and the detector's model files (or a ready detector). */
export interface ReconstructorResources {
  model: MorphableModel;
  detector: FaceDetector | DetectorModelFiles;
  /** GAR (and encoder) checkpoints for the GAR path; without them only the graphics path runs. */
  gar?: GarModelFiles;
  /** A landmark regressor's checkpoint (`source` names it in messages): both paths fit its points. */
  landmarkRegressor?: CheckpointBytes & { source?: string };
}

/** Where the 68 landmarks a fit matches come from: the detector (FaceMesh), a landmark regressor, or the caller (`landmarks68`). */
export type LandmarkSourceName = 'facemesh' | 'regressor' | 'given';
export const LANDMARK_SOURCE_NAMES: readonly LandmarkSourceName[] = ['facemesh', 'regressor', 'given'];

export interface ReconstructorConfig {
  /** Tensor backend; default chosen by the engine (wasm in Node). */
  backend?: BackendName;
  detector?: FaceDetectorConfig;
}

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
  /** Whether the detector's landmarks looked reliable, and why not. */
  landmarkAssessment: LandmarkAssessment;
}

export interface Reconstruction {
  imageSize: { width: number; height: number };
  faces: FaceReconstruction[];
  /** GAR path: also `align`, `encode`, `landmarks`, `refine`; with a landmark regressor, `regress`; summed over faces (parts of `fit`). */
  timingsMs: { detect: number; fit: number; total: number; align?: number; encode?: number; landmarks?: number; refine?: number; regress?: number };
}

/**
 * Photo → 3D faces, through the GAR (when its checkpoints are given) or the graphics renderer.
 * Create once, reconstruct many images, dispose. Runs in Node and in browsers (no file access:
 * give it an RgbaImage and loaded models).
 */
export class Reconstructor {
  readonly model: MorphableModel;
  private readonly modelTensors: ModelTensors;
  private readonly detector: FaceDetector;
  private readonly ownsDetector: boolean;
  private readonly garModels: GarModels | undefined;
  private readonly landmarkRegressor: LoadedLandmarkRegressor | undefined;

  private constructor(
    model: MorphableModel,
    modelTensors: ModelTensors,
    detector: FaceDetector,
    ownsDetector: boolean,
    garModels: GarModels | undefined,
    landmarkRegressor: LoadedLandmarkRegressor | undefined,
  ) {
    this.model = model;
    this.modelTensors = modelTensors;
    this.detector = detector;
    this.ownsDetector = ownsDetector;
    this.garModels = garModels;
    this.landmarkRegressor = landmarkRegressor;
  }

  /** Throws ModelUnavailableError when the GAR, encoder or landmark regressor checkpoints cannot be decoded or do not fit together. */
  static async create(resources: ReconstructorResources, config: ReconstructorConfig = {}): Promise<Reconstructor> {
    await initBackend({ backend: config.backend });
    const garModels = resources.gar ? decodeGarModels(resources.gar, resources.model) : undefined;
    let landmarkRegressor: LoadedLandmarkRegressor | undefined;
    const ready = 'detect' in resources.detector;
    let detector: FaceDetector;
    try {
      landmarkRegressor = resources.landmarkRegressor && decodeRegressor(resources.landmarkRegressor, resources.model);
      detector = ready ? (resources.detector as FaceDetector) : await createFaceDetector(resources.detector as DetectorModelFiles, config.detector);
    } catch (error) {
      garModels?.dispose();
      landmarkRegressor?.regressor.dispose();
      throw error;
    }
    return new Reconstructor(resources.model, new ModelTensors(resources.model), detector, !ready, garModels, landmarkRegressor);
  }

  /** Whether a landmark regressor is loaded (then the default landmark source). */
  get landmarkRegressorAvailable(): boolean {
    return Boolean(this.landmarkRegressor);
  }

  /** Whether the GAR path is available, and with an encoder. */
  get garAvailable(): { gar: boolean; encoder: boolean; resolution?: number; garStep?: number } {
    const m = this.garModels;
    return m ? { gar: true, encoder: Boolean(m.encoder), resolution: m.generator.config.resolution, garStep: m.garStep } : { gar: false, encoder: false };
  }

  /** Detect faces (largest first) and fit each. Throws NoFaceError when none is found. */
  async reconstruct(image: RgbaImage, options: ReconstructOptions = {}): Promise<Reconstruction> {
    const maxFaces = options.maxFaces ?? DEFAULT_MAX_FACES;
    if (!Number.isInteger(maxFaces) || maxFaces < 1) throw new UsageError(`Expected positive integer for maxFaces but received ${maxFaces}`);
    const renderer = options.renderer ?? (this.garModels ? 'gar' : 'graphics');
    if (renderer !== 'gar' && renderer !== 'graphics') throw new UsageError(`Expected gar or graphics for renderer but received ${String(renderer)}`);
    const garModels = this.garModels;
    const knownFocalPx = options.knownFocalPx;
    if (knownFocalPx !== undefined && !(knownFocalPx > 0 && Number.isFinite(knownFocalPx)))
      throw new UsageError(`Expected a positive number for knownFocalPx but received ${knownFocalPx}`);
    if (renderer === 'gar' && !garModels)
      throw new ModelUnavailableError('the GAR renderer was asked for, but this reconstructor was created without a GAR (resources.gar)');
    const landmarkSource = options.landmarks ?? (options.landmarks68 ? 'given' : this.landmarkRegressor ? 'regressor' : 'facemesh');
    if (!LANDMARK_SOURCE_NAMES.includes(landmarkSource))
      throw new UsageError(`Expected one of ${LANDMARK_SOURCE_NAMES.join(', ')} for landmarks but received ${String(landmarkSource)}`);
    if (landmarkSource === 'given' && !options.landmarks68) throw new UsageError('landmarks given needs landmarks68');
    if (landmarkSource === 'facemesh' && options.landmarks68)
      throw new UsageError('landmarks68 replace the detector: landmarks facemesh cannot be used with them');
    if (landmarkSource === 'regressor' && !this.landmarkRegressor)
      throw new ModelUnavailableError(
        'regressor landmarks were asked for, but this reconstructor was created without a landmark regressor (resources.landmarkRegressor)',
      );
    const passes = options.landmarkPasses ?? this.landmarkRegressor?.manifest.passes ?? 1;
    const started = performance.now();
    options.onProgress?.({ stage: 'detect', face: 0, faceCount: 0, fraction: 0 });
    if (options.landmarks68 && options.landmarks68.length !== 136)
      throw new UsageError(`Expected 136 numbers for landmarks68 but received ${options.landmarks68.length}`);
    if (options.fixedIdentity && (options.fixedIdentity.length !== this.modelTensors.identityCount || !options.fixedIdentity.every(Number.isFinite))) {
      throw new UsageError(`Expected ${this.modelTensors.identityCount} finite numbers for fixedIdentity but received ${options.fixedIdentity.length}`);
    }
    const detected = options.landmarks68 ? [faceFromLandmarks(options.landmarks68)] : (await this.detector.detect(image, { maxFaces })).slice(0, maxFaces);
    const detectMs = performance.now() - started;
    if (detected.length === 0) throw new NoFaceError('no face found');
    const faces: FaceReconstruction[] = [];
    const garTimings = { align: 0, encode: 0, landmarks: 0, refine: 0 };
    let regressMs = 0;
    detected.forEach((face, index) => {
      const report = (stage: ReconstructStage, part: number, stageFraction: number) => {
        options.onProgress?.({ stage, face: index + 1, faceCount: detected.length, fraction: 0.05 + (0.95 * (index + part)) / detected.length, stageFraction });
      };
      // The regressor's crop is cut from the detector's points; its points, with its vertices, are what the fit matches.
      const regressStarted = performance.now();
      const regressed =
        landmarkSource === 'regressor' ? regressLandmarks(this.landmarkRegressor!.regressor, image, face.landmarks68, passes).landmarks : undefined;
      regressMs += performance.now() - regressStarted;
      // Caller-given vertices (diagnostics) pair with the detector's own points: no map then.
      const mapped = landmarkSource === 'facemesh' && options.landmarkMap !== false && !options.landmarkVertices ? mappedLandmarks(face) : undefined;
      const modelVertices = this.modelTensors.model.landmarkVertexIndices;
      const fitLandmarks: FitLandmarks | undefined = regressed
        ? splitRegressedPoints(regressed, this.landmarkRegressor!.landmarkVertices)
        : options.landmarkVertices
          ? { landmarks68: face.landmarks68, vertices: options.landmarkVertices }
          : undefined;
      const source = {
        landmarkSource,
        ...(fitLandmarks && regressed ? { regressedLandmarks2d: fitLandmarks.landmarks68 } : {}),
        ...(mapped ? { landmarkMap: true, mappedLandmarks2d: mapped } : {}),
      };
      if (renderer === 'gar') {
        // The landmark stage takes about a tenth of a default-preset face (4.4 of 39 s in bench/web.ts's runs).
        // With the map, its points frame the crops (as the shape encoder's training crops were framed, by the model's own landmarks) and are fitted.
        const fit = reconstructFaceWithGar(garModels!, this.modelTensors, image, mapped ?? face.landmarks68, {
          preset: options.garPreset,
          refine: options.garRefine,
          start: options.garStart,
          fixedPose: options.fixedPose,
          fixedIdentity: options.fixedIdentity,
          knownFocalPx,
          fitLandmarks,
          ...(mapped ? { landmarkVertices: modelVertices } : {}),
          onLandmarkStep: (step, total) => report('landmarks', (0.1 * step) / total, step / total),
          onStep: (step, total) => report('gar', 0.1 + (0.9 * step) / total, step / total),
          // The gate judges the detector's own points: not given ones (diagnostics), not a regressor's.
          ...(landmarkSource === 'facemesh' ? { detection: { meshScore: face.meshScore, mesh468: face.mesh468 }, landmarkGate: options.landmarkGate } : {}),
        });
        for (const key of ['align', 'encode', 'landmarks', 'refine'] as const) garTimings[key] += fit.gar.timingsMs[key];
        faces.push({
          ...this.describe(fit, face, index + 1, knownFocalPx ? 'known' : 'fit'),
          ...source,
          renderer: 'gar',
          gar: fit.gar,
          ...(fit.landmarkSource !== 'facemesh' ? { landmarkSource: fit.landmarkSource } : {}),
          ...(fit.landmarkAssessment ? { landmarkAssessment: fit.landmarkAssessment } : {}),
        });
      } else {
        const known = knownFocalPx
          ? { focalPriorPerImageSide: knownFocalPx / Math.max(image.width, image.height), focalPriorWeight: KNOWN_FOCAL_PRIOR_WEIGHT }
          : {};
        // A regressor's dense points are the dense term, at its own weight unless the options give one.
        const denseWeight =
          fitLandmarks?.dense && options.fit?.denseLandmarkWeight === undefined ? { denseLandmarkWeight: REGRESSED_DENSE_LANDMARK_WEIGHT } : {};
        const fit = fitFace(
          this.modelTensors,
          image,
          fitLandmarks?.landmarks68 ?? mapped ?? face.landmarks68,
          { ...options.fit, ...known, ...denseWeight },
          (stage, step, total) => {
            report(stage, stage === 'landmarks' ? (0.4 * step) / total : 0.4 + (0.6 * step) / total, step / total);
          },
          face.mesh468.length ? face.mesh468 : undefined,
          {
            landmarkVertices: fitLandmarks?.vertices ?? (mapped ? modelVertices : undefined),
            fixedPose: options.fixedPose,
            densePoints: fitLandmarks?.dense,
            fixedIdentity: options.fixedIdentity,
          },
        );
        faces.push({ ...this.describe(fit, face, index + 1, knownFocalPx ? 'known' : 'fit'), ...source });
      }
    });
    const total = performance.now() - started;
    const timingsMs = {
      detect: detectMs,
      fit: total - detectMs,
      total,
      ...(renderer === 'gar' ? garTimings : {}),
      ...(landmarkSource === 'regressor' ? { regress: regressMs } : {}),
    };
    return { imageSize: { width: image.width, height: image.height }, faces, timingsMs };
  }

  /**
   * A tracker for video frames that shares this reconstructor's model, detector and encoder
   * (dispose it before this reconstructor). Throws ModelUnavailableError without an encoder.
   */
  createTracker(config: FaceTrackerConfig = {}): FaceTracker {
    const encoder = this.garModels?.encoder;
    if (!encoder) throw new ModelUnavailableError("face tracking needs the GAR path's encoder (resources.gar with an encoder)");
    return new FaceTracker(this.modelTensors, this.detector, encoder, config);
  }

  private describe(fit: FaceFit, face: DetectedFace, faceNumber: number, focalSource: 'known' | 'fit'): FaceReconstruction {
    const expression: Record<string, number> = {};
    this.model.expressionNames.forEach((name, i) => {
      expression[name] = fit.expressionWeights[i];
    });
    return {
      ...fit,
      faceNumber,
      box: face.box,
      detectionScore: face.detectionScore,
      meshScore: face.meshScore,
      detectedLandmarks2d: face.landmarks68,
      interOcularPx: interOcularDistance(face.landmarks68),
      expression,
      renderer: 'graphics',
      focalSource,
      // The graphics path has no pose-robust source: it follows the detector, and says how far to trust it.
      landmarkSource: 'facemesh',
      landmarkAssessment: assessDetectorLandmarks({ landmarks68: face.landmarks68, meshScore: face.meshScore, mesh468: face.mesh468 }),
    };
  }

  dispose(): void {
    this.modelTensors.dispose();
    this.garModels?.dispose();
    this.landmarkRegressor?.regressor.dispose();
    if (this.ownsDetector) this.detector.dispose();
  }
}

/**
 * Weight of a landmark regressor's dense points (the mean of their squared errors over the face
 * size, as the 68 points' term): on studio renders with exact 2D truth plus 2 % noise, 68 points
 * alone gave 0.73× the mean face's 3D error and 68 + 300 points at weight 1 0.63×.
 */
export const REGRESSED_DENSE_LANDMARK_WEIGHT = 1;

/** The points a fit matches instead of the detector's, with the model vertex each one is. */
interface FitLandmarks {
  landmarks68: Float32Array;
  vertices: ArrayLike<number>;
  dense?: DensePoints;
}

/** A regressor's points: iBUG-68 with their vertices, then any dense points with theirs. */
function splitRegressedPoints(points: Float32Array, vertices: Uint32Array): FitLandmarks {
  const landmarks68 = points.slice(0, 136);
  if (vertices.length === 68) return { landmarks68, vertices };
  return { landmarks68, vertices: vertices.slice(0, 68), dense: { points: points.slice(136), vertices: vertices.slice(68) } };
}

/** A face given by its landmarks alone (no detector ran): box = the landmarks' extent, scores 1, no mesh. */
function faceFromLandmarks(landmarks68: Float32Array): DetectedFace {
  const { minU, maxU, minV, maxV } = landmarkBounds(landmarks68);
  return { box: { x: minU, y: minV, width: maxU - minU, height: maxV - minV }, detectionScore: 1, meshScore: 1, mesh468: new Float32Array(0), landmarks68 };
}

function decodeRegressor(files: CheckpointBytes & { source?: string }, model: MorphableModel): LoadedLandmarkRegressor {
  try {
    return decodeLandmarkRegressor(files.manifest, files.weights, model);
  } catch (error) {
    throw new ModelUnavailableError(
      `${files.source ?? 'the landmark regressor checkpoint'}: cannot load the landmark regressor (${String((error as Error)?.message ?? error)
        .split('\n')[0]
        .slice(0, 300)})`,
      { cause: error },
    );
  }
}

/** One-shot convenience: create a reconstructor, reconstruct one image, dispose. */
export async function reconstruct(
  image: RgbaImage,
  resources: ReconstructorResources,
  options: ReconstructOptions & ReconstructorConfig = {},
): Promise<Reconstruction> {
  const reconstructor = await Reconstructor.create(resources, options);
  try {
    return await reconstructor.reconstruct(image, options);
  } finally {
    reconstructor.dispose();
  }
}

/**
 * Express a reconstruction made on a resized copy of a photo in the original photo's pixels:
 * `factor` = original size / resized size. The 3D pose is unchanged (same rays); 2D
 * quantities and the camera intrinsics scale.
 */
export function rescaleReconstruction(reconstruction: Reconstruction, factor: number, originalSize: { width: number; height: number }): Reconstruction {
  if (factor === 1) return reconstruction;
  const scalePoints = (points: Float32Array) => points.map((value) => value * factor);
  return {
    ...reconstruction,
    imageSize: { ...originalSize },
    faces: reconstruction.faces.map((face) => ({
      ...face,
      landmarks2d: scalePoints(face.landmarks2d),
      detectedLandmarks2d: scalePoints(face.detectedLandmarks2d),
      ...(face.regressedLandmarks2d ? { regressedLandmarks2d: scalePoints(face.regressedLandmarks2d) } : {}),
      landmarkErrorPx: face.landmarkErrorPx * factor,
      interOcularPx: face.interOcularPx * factor,
      box: { x: face.box.x * factor, y: face.box.y * factor, width: face.box.width * factor, height: face.box.height * factor },
      focalPx: face.focalPx * factor,
      principalPointPx: [face.principalPointPx[0] * factor, face.principalPointPx[1] * factor],
      ...(face.gar ? { gar: { ...face.gar, cropFromImage: scaleAffineInput(face.gar.cropFromImage, 1 / factor) } } : {}),
    })),
  };
}

/** m ∘ (x ↦ k·x): the same map for input points given in pixels k times smaller. */
function scaleAffineInput(m: Affine2D, k: number): Affine2D {
  return { a: m.a * k, b: m.b * k, c: m.c * k, d: m.d * k, tx: m.tx, ty: m.ty };
}
