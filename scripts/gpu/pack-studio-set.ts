// Studio scenes for the GPU training pack: the encoder's targets in the crop frame (as the TS
// trainer builds them), the framing inference uses (detector landmarks → ALIGNED_CROP_TEMPLATE
// similarity → crop), and the validation crops: real studio renders, detected and cut exactly as
// `facegar reconstruct` cuts them, with their true parameters.
import { alignFaceCrop, faceCropTransform } from '../../src/detect/align-face-crop.ts';
import type { FaceDetector } from '../../src/detect/index.ts';
import { applyAffine2D, type Affine2D } from '../../src/common/image.ts';
import { projectPointsArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { cropPoseOfPhotoFit } from '../../src/invert/crop-frame.ts';
import { DETECTOR_LANDMARK_VERTICES } from '../../src/morphable/detector-landmark-vertices.ts';
import { evaluateMorphableModel, type MorphableModel } from '../../src/morphable/morphable-model.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene, type StudioSceneConfig } from '../../src/shading/studio-scene.ts';
import type { StudioScene } from '../../src/shading/studio-renderer.ts';

/** Target row: identity K | expression weights E | euler 3 (rad) | pivotPx 2 | logFocal | logDepth. */
export function targetSize(model: MorphableModel): number {
  return model.identityCount + model.expressionNames.length + 7;
}

/** The 68 points where the detector puts them on this face: the calibrated vertices, projected (image px). */
export function detectorLikeLandmarks(model: MorphableModel, scene: StudioScene): Float32Array {
  const vertices = evaluateMorphableModel(model, scene.identity, scene.expression);
  const points = new Float32Array(68 * 3);
  DETECTOR_LANDMARK_VERTICES.forEach((v, k) => points.set(vertices.subarray(3 * v, 3 * v + 3), 3 * k));
  const camera = transformPointsArray(points, sceneRotation(scene), scene.translationMm);
  return projectPointsArray(camera, { focalPx: scene.focalPx, principalPointPx: scene.principalPointPx, width: scene.width, height: scene.height });
}

export function sceneRotation(scene: Pick<StudioScene, 'anglesDeg'>): Float64Array {
  return rotationFromEuler(...(scene.anglesDeg.map((a) => (a * Math.PI) / 180) as [number, number, number]));
}

/** The encoder's target row for a scene cut with `cropFromImage` into a `sizePx` crop. */
export function cropTargets(model: MorphableModel, scene: StudioScene, cropFromImage: Affine2D, sizePx: number): Float32Array {
  const { pose } = cropPoseOfPhotoFit(
    model,
    { rotation: sceneRotation(scene), translationMm: scene.translationMm, focalPx: scene.focalPx, principalPointPx: scene.principalPointPx },
    cropFromImage,
    sizePx,
  );
  const row = new Float32Array(targetSize(model));
  const K = model.identityCount,
    E = model.expressionNames.length;
  row.set(scene.identity, 0);
  row.set(scene.expression, K);
  row.set([...pose.eulerRad, ...pose.pivotPx, pose.logFocal, pose.logDepth], K + E);
  return row;
}

/** Alignment points of faceCropTransform: the two eye centres and the two mouth corners, [4*2] image px. */
export function alignmentPoints(landmarks68: Float32Array): Float32Array {
  const mean = (first: number, axis: number) => {
    let s = 0;
    for (let k = first; k < first + 6; k++) s += landmarks68[2 * k + axis];
    return s / 6;
  };
  return Float32Array.of(mean(36, 0), mean(36, 1), mean(42, 0), mean(42, 1), landmarks68[96], landmarks68[97], landmarks68[108], landmarks68[109]);
}

/** The training distribution's wider ranges (studio benchmark's shapes, every pose up to profile). */
export const WIDE_SCENE_CONFIG: Partial<StudioSceneConfig> = {
  maxYawDeg: 90,
  maxPitchDeg: 20,
  maxRollDeg: 15,
  focalPerWidth: [1, 4],
  faceFraction: [0.3, 0.65],
};

export interface ValidationSet {
  /** [N*S*S*3] 8-bit RGB crops, as the encoder sees them (outside the photo: black). */
  crops: Uint8Array;
  /** [N*targetSize] */
  targets: Float32Array;
  /** [N*4*2] detected − detector-like alignment points, in crop px of the true framing; NaN when nothing was detected. */
  alignmentOffsetsPx: Float32Array;
  records: { seed: number; yawDeg: number; detected: boolean; focalPx: number; widthPx: number }[];
}

/**
 * Render `count` studio photos (the benchmark's distribution), detect the face as `facegar
 * reconstruct` does and cut the crop from the detected landmarks (from the detector-like
 * projected ones when nothing is found: profiles); targets in that crop's frame.
 */
export async function renderValidationSet(
  model: MorphableModel,
  detector: FaceDetector,
  count: number,
  sizePx: number,
  seedOf: (i: number) => number,
  onProgress: (done: number) => void,
): Promise<ValidationSet> {
  const crops = new Uint8Array(count * sizePx * sizePx * 3);
  const targets = new Float32Array(count * targetSize(model));
  const alignmentOffsetsPx = new Float32Array(count * 8).fill(NaN);
  const records: ValidationSet['records'] = [];
  for (let i = 0; i < count; i++) {
    const seed = seedOf(i);
    const render = renderStudioPhoto(model, sampleStudioScene(model, seed));
    const scene = render.scene;
    const detected = (await detector.detect(render.image))[0];
    const likely = detectorLikeLandmarks(model, scene);
    const landmarks = detected?.landmarks68 ?? likely;
    const { crop, cropFromImage } = alignFaceCrop(render.image, landmarks, sizePx);
    for (let p = 0; p < sizePx * sizePx; p++) for (let c = 0; c < 3; c++) crops[(i * sizePx * sizePx + p) * 3 + c] = crop.data[4 * p + c];
    targets.set(cropTargets(model, scene, cropFromImage, sizePx), i * targetSize(model));
    if (detected) {
      const framing = faceCropTransform(likely, sizePx);
      const found = alignmentPoints(detected.landmarks68),
        expected = alignmentPoints(likely);
      for (let k = 0; k < 4; k++) {
        const [fx, fy] = applyAffine2D(framing, found[2 * k], found[2 * k + 1]);
        const [ex, ey] = applyAffine2D(framing, expected[2 * k], expected[2 * k + 1]);
        alignmentOffsetsPx.set([fx - ex, fy - ey], i * 8 + 2 * k);
      }
    }
    records.push({ seed, yawDeg: scene.anglesDeg[1], detected: Boolean(detected), focalPx: scene.focalPx, widthPx: scene.width });
    onProgress(i + 1);
  }
  return { crops, targets, alignmentOffsetsPx, records };
}
