import type { RgbaImage } from '../common/image.ts';
import { NoFaceError, UsageError } from '../common/errors.ts';
import { initBackend, type BackendName } from '../engine/backend.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { createFaceDetector, type DetectedFace, type DetectorModelFiles, type FaceDetector, type FaceDetectorConfig } from '../detect/index.ts';
import { ModelTensors } from '../fit/model-tensors.ts';
import { fitFace, type FaceFit } from '../fit/fit-face.ts';
import type { FitConfig } from '../fit/fit-config.ts';

/** What a reconstructor needs: the morphable model and the detector's model files (or a ready detector). */
export interface ReconstructorResources {
  model: MorphableModel;
  detector: FaceDetector | DetectorModelFiles;
}

export interface ReconstructorConfig {
  /** Tensor backend; default chosen by the engine (wasm in Node). */
  backend?: BackendName;
  detector?: FaceDetectorConfig;
}

export interface ReconstructOptions {
  /** Most faces to reconstruct, largest first. Default 4. */
  maxFaces?: number;
  /** Overrides of DEFAULT_FIT_CONFIG. */
  fit?: Partial<FitConfig>;
  /** Called as work advances; `fraction` of the whole image's work in [0, 1]. */
  onProgress?: (event: { stage: 'detect' | 'landmarks' | 'photometric'; face: number; faceCount: number; fraction: number }) => void;
}

/** One reconstructed face: the fit plus what the detector saw. */
export interface FaceReconstruction extends FaceFit {
  /** 1 = largest face in the photo. */
  faceNumber: number;
  box: { x: number; y: number; width: number; height: number };
  detectionScore: number;
  meshScore: number;
  /** [68*2] detector landmarks (px), iBUG-68 order. */
  detectedLandmarks2d: Float32Array;
  /** Distance between the detected eye centres (px); landmark errors are often quoted relative to it. */
  interOcularPx: number;
  /** Expression name → weight. */
  expression: Record<string, number>;
}

export interface Reconstruction {
  imageSize: { width: number; height: number };
  faces: FaceReconstruction[];
  timingsMs: { detect: number; fit: number; total: number };
}

/**
 * Photo → 3D faces, with the graphics renderer. Create once, reconstruct many images, dispose.
 * Runs in Node and in browsers (no file access: give it an RgbaImage and loaded models).
 */
export class Reconstructor {
  readonly model: MorphableModel;
  private readonly modelTensors: ModelTensors;
  private readonly detector: FaceDetector;
  private readonly ownsDetector: boolean;

  private constructor(model: MorphableModel, modelTensors: ModelTensors, detector: FaceDetector, ownsDetector: boolean) {
    this.model = model;
    this.modelTensors = modelTensors;
    this.detector = detector;
    this.ownsDetector = ownsDetector;
  }

  static async create(resources: ReconstructorResources, config: ReconstructorConfig = {}): Promise<Reconstructor> {
    await initBackend({ backend: config.backend });
    const ready = 'detect' in resources.detector;
    const detector = ready ? resources.detector as FaceDetector : await createFaceDetector(resources.detector as DetectorModelFiles, config.detector);
    return new Reconstructor(resources.model, new ModelTensors(resources.model), detector, !ready);
  }

  /** Detect faces (largest first) and fit each. Throws NoFaceError when none is found. */
  async reconstruct(image: RgbaImage, options: ReconstructOptions = {}): Promise<Reconstruction> {
    const maxFaces = options.maxFaces ?? 4;
    if (!Number.isInteger(maxFaces) || maxFaces < 1) throw new UsageError(`Expected positive integer for maxFaces but received ${maxFaces}`);
    const started = performance.now();
    options.onProgress?.({ stage: 'detect', face: 0, faceCount: 0, fraction: 0 });
    const detected = (await this.detector.detect(image)).slice(0, maxFaces);
    const detectMs = performance.now() - started;
    if (detected.length === 0) throw new NoFaceError('no face found');
    const faces: FaceReconstruction[] = [];
    detected.forEach((face, index) => {
      const fit = fitFace(this.modelTensors, image, face.landmarks68, options.fit, (stage, step, total) => {
        const fraction = 0.05 + 0.95 * (index + (stage === 'landmarks' ? 0.4 * step / total : 0.4 + 0.6 * step / total)) / detected.length;
        options.onProgress?.({ stage, face: index + 1, faceCount: detected.length, fraction });
      }, face.mesh468);
      faces.push(this.describe(fit, face, index + 1));
    });
    const total = performance.now() - started;
    return { imageSize: { width: image.width, height: image.height }, faces, timingsMs: { detect: detectMs, fit: total - detectMs, total } };
  }

  private describe(fit: FaceFit, face: DetectedFace, faceNumber: number): FaceReconstruction {
    const expression: Record<string, number> = {};
    this.model.expressionNames.forEach((name, i) => { expression[name] = fit.expressionWeights[i]; });
    return {
      ...fit,
      faceNumber,
      box: face.box,
      detectionScore: face.detectionScore,
      meshScore: face.meshScore,
      detectedLandmarks2d: face.landmarks68,
      interOcularPx: interOcularDistance(face.landmarks68),
      expression,
    };
  }

  dispose(): void {
    this.modelTensors.dispose();
    if (this.ownsDetector) this.detector.dispose();
  }
}

/** Distance between the eye centres (mean of iBUG points 36–41 and 42–47), px. */
export function interOcularDistance(landmarks68: Float32Array): number {
  const centre = (first: number) => {
    let x = 0, y = 0;
    for (let k = first; k < first + 6; k++) { x += landmarks68[2 * k] / 6; y += landmarks68[2 * k + 1] / 6; }
    return [x, y];
  };
  const [lx, ly] = centre(36), [rx, ry] = centre(42);
  return Math.hypot(rx - lx, ry - ly);
}

/** One-shot convenience: create a reconstructor, reconstruct one image, dispose. */
export async function reconstruct(image: RgbaImage, resources: ReconstructorResources, options: ReconstructOptions & ReconstructorConfig = {}): Promise<Reconstruction> {
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
      landmarkErrorPx: face.landmarkErrorPx * factor,
      interOcularPx: face.interOcularPx * factor,
      box: { x: face.box.x * factor, y: face.box.y * factor, width: face.box.width * factor, height: face.box.height * factor },
      focalPx: face.focalPx * factor,
      principalPointPx: [face.principalPointPx[0] * factor, face.principalPointPx[1] * factor],
    })),
  };
}
