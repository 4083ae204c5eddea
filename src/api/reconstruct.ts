import type { RgbaImage } from '../common/image.ts';
import { ModelUnavailableError, NoFaceError, UsageError } from '../common/errors.ts';
import { initBackend, type BackendName } from '../engine/backend.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { createFaceDetector, type DetectedFace, type DetectorModelFiles, type FaceDetector, type FaceDetectorConfig } from '../detect/index.ts';
import { ModelTensors } from '../fit/model-tensors.ts';
import { fitFace, type FaceFit } from '../fit/fit-face.ts';
import type { DensePoints } from '../fit/dense-landmarks.ts';
import { landmarkBounds } from '../fit/fit-frame.ts';
import type { LoadedLandmarkRegressor } from '../invert/landmark-regressor-checkpoint.ts';
import { regressLandmarks } from '../invert/regress-landmarks.ts';
import { estimateIdentity, joinRegressedIdentity, MESH_VALUE_COUNT, type LoadedIdentityRegressor } from '../invert/identity-regressor.ts';
import { loadIdentityRegressor, loadLandmarkRegressor, type IdentityRegressorFiles } from './regressor-loading.ts';
import { decodeGarModels, type CheckpointBytes, type GarModelFiles, type GarModels } from './gar-models.ts';
import { KNOWN_FOCAL_PRIOR_WEIGHT, reconstructFaceWithGar } from './gar-face.ts';
import { DEFAULT_MAX_FACES, type RendererName } from './default-renderer.ts';
import { FaceTracker, type FaceTrackerConfig } from './face-tracker.ts';
import { interOcularDistance } from './inter-ocular-distance.ts';
import { mappedLandmarks } from './landmark-source.ts';
import { assessDetectorLandmarks } from '../fit/landmark-reliability.ts';
import {
  LANDMARK_SOURCE_NAMES,
  type FaceReconstruction,
  type LandmarkSourceName,
  type Reconstruction,
  type ReconstructOptions,
  type ReconstructStage,
} from './reconstruction-types.ts';

export type { RendererName } from './default-renderer.ts';
export { interOcularDistance } from './inter-ocular-distance.ts';
export { rescaleReconstruction } from './rescale-reconstruction.ts';
export {
  LANDMARK_SOURCE_NAMES,
  type FaceReconstruction,
  type LandmarkSourceName,
  type Reconstruction,
  type ReconstructOptions,
  type ReconstructStage,
} from './reconstruction-types.ts';

/** What a reconstructor needs: the morphable model and the detector's model files (or a ready detector). */
export interface ReconstructorResources {
  model: MorphableModel;
  detector: FaceDetector | DetectorModelFiles;
  /** GAR (and encoder) checkpoints for the GAR path; without them only the graphics path runs. */
  gar?: GarModelFiles;
  /** A landmark regressor's checkpoint (`source` names it in messages): both paths fit its points. */
  landmarkRegressor?: CheckpointBytes & { source?: string };
  /**
   * The identity regressor and its embedding network: on either path, its estimate of the
   * identity centres the fit's identity prior (on the GAR path, joined with the shape encoder's).
   */
  identityRegressor?: IdentityRegressorFiles;
}

/** Where the 68 landmarks a fit matches come from: the detector (FaceMesh), a landmark regressor, or the caller (`landmarks68`). */
export interface ReconstructorConfig {
  /** Tensor backend; default chosen by the engine (wasm in Node). */
  backend?: BackendName;
  detector?: FaceDetectorConfig;
}

/** The options of one reconstruct() call once checked, with their defaults filled. */
interface ReconstructSettings {
  maxFaces: number;
  renderer: RendererName;
  knownFocalPx: number | undefined;
  landmarkSource: LandmarkSourceName;
  /** Landmark regressor passes. */
  passes: number;
}

/** Time spent per stage over the faces of one image, ms. */
interface FaceTimings {
  gar: { align: number; encode: number; landmarks: number; refine: number };
  regressMs: number;
  /** The identity regressor on the graphics path (the GAR path counts it in `encode`). */
  identityMs: number;
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
  private readonly identityRegressor: LoadedIdentityRegressor | undefined;

  private constructor(
    model: MorphableModel,
    modelTensors: ModelTensors,
    detector: FaceDetector,
    ownsDetector: boolean,
    garModels: GarModels | undefined,
    landmarkRegressor: LoadedLandmarkRegressor | undefined,
    identityRegressor: LoadedIdentityRegressor | undefined,
  ) {
    this.model = model;
    this.modelTensors = modelTensors;
    this.detector = detector;
    this.ownsDetector = ownsDetector;
    this.garModels = garModels;
    this.landmarkRegressor = landmarkRegressor;
    this.identityRegressor = identityRegressor;
  }

  /** Throws ModelUnavailableError when the GAR, encoder or landmark regressor checkpoints cannot be decoded or do not fit together. */
  static async create(resources: ReconstructorResources, config: ReconstructorConfig = {}): Promise<Reconstructor> {
    await initBackend({ backend: config.backend });
    const garModels = resources.gar ? decodeGarModels(resources.gar, resources.model) : undefined;
    let landmarkRegressor: LoadedLandmarkRegressor | undefined;
    let identityRegressor: LoadedIdentityRegressor | undefined;
    const ready = 'detect' in resources.detector;
    let detector: FaceDetector;
    try {
      landmarkRegressor = resources.landmarkRegressor && loadLandmarkRegressor(resources.landmarkRegressor, resources.model);
      identityRegressor = resources.identityRegressor && (await loadIdentityRegressor(resources.identityRegressor, resources.model));
      detector = ready ? (resources.detector as FaceDetector) : await createFaceDetector(resources.detector as DetectorModelFiles, config.detector);
    } catch (error) {
      garModels?.dispose();
      landmarkRegressor?.regressor.dispose();
      identityRegressor?.embedder.dispose();
      throw error;
    }
    return new Reconstructor(resources.model, new ModelTensors(resources.model), detector, !ready, garModels, landmarkRegressor, identityRegressor);
  }

  /** Whether a landmark regressor is loaded (then the default landmark source). */
  get landmarkRegressorAvailable(): boolean {
    return Boolean(this.landmarkRegressor);
  }

  /** Whether an identity regressor is loaded (then it informs every fit from the detector's points). */
  get identityRegressorAvailable(): boolean {
    return Boolean(this.identityRegressor);
  }

  /** Whether the GAR path is available, and with an encoder. */
  get garAvailable(): { gar: boolean; encoder: boolean; identityRegressor: boolean; resolution?: number; garStep?: number } {
    const m = this.garModels;
    return m
      ? {
          gar: true,
          encoder: Boolean(m.encoder),
          identityRegressor: Boolean(this.identityRegressor),
          resolution: m.generator.config.resolution,
          garStep: m.garStep,
        }
      : { gar: false, encoder: false, identityRegressor: false };
  }

  /** Detect faces (largest first) and fit each. Throws NoFaceError when none is found. */
  async reconstruct(image: RgbaImage, options: ReconstructOptions = {}): Promise<Reconstruction> {
    const settings = this.checkOptions(options);
    const started = performance.now();
    options.onProgress?.({ stage: 'detect', face: 0, faceCount: 0, fraction: 0 });
    const detected = options.landmarks68
      ? [faceFromLandmarks(options.landmarks68)]
      : (await this.detector.detect(image, { maxFaces: settings.maxFaces })).slice(0, settings.maxFaces);
    const detectMs = performance.now() - started;
    if (detected.length === 0) throw new NoFaceError('no face found');
    const timings: FaceTimings = { gar: { align: 0, encode: 0, landmarks: 0, refine: 0 }, regressMs: 0, identityMs: 0 };
    const faces = detected.map((face, index) => this.reconstructFace(image, face, index, detected.length, options, settings, timings));
    const total = performance.now() - started;
    const timingsMs = {
      detect: detectMs,
      fit: total - detectMs,
      total,
      ...(settings.renderer === 'gar' ? timings.gar : {}),
      ...(settings.landmarkSource === 'regressor' ? { regress: timings.regressMs } : {}),
      ...(settings.renderer === 'graphics' && this.identityRegressor ? { identity: timings.identityMs } : {}),
    };
    return { imageSize: { width: image.width, height: image.height }, faces, timingsMs };
  }

  /** Check the options against each other and this reconstructor's models (UsageError, ModelUnavailableError); the defaults they leave open, filled. */
  private checkOptions(options: ReconstructOptions): ReconstructSettings {
    const maxFaces = options.maxFaces ?? DEFAULT_MAX_FACES;
    if (!Number.isInteger(maxFaces) || maxFaces < 1) throw new UsageError(`Expected positive integer for maxFaces but received ${maxFaces}`);
    const renderer = options.renderer ?? (this.garModels ? 'gar' : 'graphics');
    if (renderer !== 'gar' && renderer !== 'graphics') throw new UsageError(`Expected gar or graphics for renderer but received ${String(renderer)}`);
    const knownFocalPx = options.knownFocalPx;
    if (knownFocalPx !== undefined && !(knownFocalPx > 0 && Number.isFinite(knownFocalPx)))
      throw new UsageError(`Expected a positive number for knownFocalPx but received ${knownFocalPx}`);
    if (renderer === 'gar' && !this.garModels)
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
    if (options.landmarks68 && options.landmarks68.length !== 136)
      throw new UsageError(`Expected 136 numbers for landmarks68 but received ${options.landmarks68.length}`);
    if (options.fixedIdentity && (options.fixedIdentity.length !== this.modelTensors.identityCount || !options.fixedIdentity.every(Number.isFinite))) {
      throw new UsageError(`Expected ${this.modelTensors.identityCount} finite numbers for fixedIdentity but received ${options.fixedIdentity.length}`);
    }
    const passes = options.landmarkPasses ?? this.landmarkRegressor?.manifest.passes ?? 1;
    return { maxFaces, renderer, knownFocalPx, landmarkSource, passes };
  }

  /** Fit one detected face (the `index`-th of `faceCount`) on the path the settings name; adds its time to `timings`. */
  private reconstructFace(
    image: RgbaImage,
    face: DetectedFace,
    index: number,
    faceCount: number,
    options: ReconstructOptions,
    settings: ReconstructSettings,
    timings: FaceTimings,
  ): FaceReconstruction {
    const { renderer, knownFocalPx, landmarkSource } = settings;
    const report = (stage: ReconstructStage, part: number, stageFraction: number) => {
      options.onProgress?.({ stage, face: index + 1, faceCount, fraction: 0.05 + (0.95 * (index + part)) / faceCount, stageFraction });
    };
    // The regressor's crop is cut from the detector's points; its points, with its vertices, are what the fit matches.
    const regressStarted = performance.now();
    const regressed =
      landmarkSource === 'regressor' ? regressLandmarks(this.landmarkRegressor!.regressor, image, face.landmarks68, settings.passes).landmarks : undefined;
    timings.regressMs += performance.now() - regressStarted;
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
    const focalSource = knownFocalPx ? 'known' : 'fit';
    // The identity regressor reads the detector's own points and mesh (not given points: diagnostics), and only informs a fit that moves identity.
    const identityStarted = performance.now();
    const identityEstimate =
      this.identityRegressor && landmarkSource === 'facemesh' && face.mesh468.length === MESH_VALUE_COUNT && !options.fixedIdentity
        ? estimateIdentity(this.identityRegressor, image, face.landmarks68, face.mesh468)
        : undefined;
    const identityMs = performance.now() - identityStarted;
    if (renderer === 'gar') {
      // The landmark stage takes about a tenth of a default-preset face (4.4 of 39 s in bench/web.ts's runs).
      // With the map, its points frame the crops (as the shape encoder's training crops were framed, by the model's own landmarks) and are fitted.
      const fit = reconstructFaceWithGar(this.garModels!, this.modelTensors, image, mapped ?? face.landmarks68, {
        ...(identityEstimate ? { identityEstimate } : {}),
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
      for (const key of ['align', 'encode', 'landmarks', 'refine'] as const) timings.gar[key] += fit.gar.timingsMs[key];
      timings.gar.encode += identityMs;
      return {
        ...this.describe(fit, face, index + 1, focalSource, fit.gar.identityRegressor),
        ...source,
        renderer: 'gar',
        gar: fit.gar,
        ...(fit.landmarkSource !== 'facemesh' ? { landmarkSource: fit.landmarkSource } : {}),
        ...(fit.landmarkAssessment ? { landmarkAssessment: fit.landmarkAssessment } : {}),
      };
    }
    timings.identityMs += identityMs;
    const known = knownFocalPx
      ? { focalPriorPerImageSide: knownFocalPx / Math.max(image.width, image.height), focalPriorWeight: KNOWN_FOCAL_PRIOR_WEIGHT }
      : {};
    // A regressor's dense points are the dense term, at its own weight unless the options give one.
    const denseWeight = fitLandmarks?.dense && options.fit?.denseLandmarkWeight === undefined ? { denseLandmarkWeight: REGRESSED_DENSE_LANDMARK_WEIGHT } : {};
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
        ...(identityEstimate ? { identityPrior: joinRegressedIdentity(identityEstimate) } : {}),
      },
    );
    return { ...this.describe(fit, face, index + 1, focalSource, Boolean(identityEstimate)), ...source };
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

  private describe(fit: FaceFit, face: DetectedFace, faceNumber: number, focalSource: 'known' | 'fit', identityRegressor: boolean): FaceReconstruction {
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
      identityRegressor,
      // The graphics path has no pose-robust source: it follows the detector, and says how far to trust it.
      landmarkSource: 'facemesh',
      landmarkAssessment: assessDetectorLandmarks({ landmarks68: face.landmarks68, meshScore: face.meshScore, mesh468: face.mesh468 }),
    };
  }

  dispose(): void {
    this.modelTensors.dispose();
    this.garModels?.dispose();
    this.landmarkRegressor?.regressor.dispose();
    this.identityRegressor?.embedder.dispose();
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
