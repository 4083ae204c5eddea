// Test folders in AFLW2000-3D's layout (imageNNNNN.jpg + imageNNNNN.mat with pt3d_68 and
// Pose_Para) made from renders with exact geometry, so `facegar eval aflw2000` measures turned
// faces where the truth is known: studio renders here, and any set that gives a posed mesh and
// its camera (Blender Cycles renders, see aflwAnnotation).
import type { RgbaImage } from '../common/image.ts';
import { projectPointsArray, transformPointsArray, type PinholeCamera } from '../geometry/camera.ts';
import type { MatVariableToWrite } from '../io/mat-file.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { renderStudioPhoto } from '../shading/studio-renderer.ts';
import { hashSeed } from '../common/seeded-random.ts';
import { StudioRandom } from '../shading/studio-random.ts';
import { sampleStudioScene, studioSceneRecord, type StudioSceneConfig } from '../shading/studio-scene.ts';
import { AFLW_PIXEL_OFFSET } from './aflw2000-protocol.ts';

/** AFLW2000-3D's photos are 450×450. */
export const AFLW_IMAGE_SIZE_PX = 450;

/**
 * `count` yaws (degrees) whose |yaw| is spread evenly over [0, maxDeg): the golden-ratio sequence
 * from a seeded start, so the whole list and every prefix of it (`--limit`) cover the range with
 * gaps of at most three sizes; each sign is drawn from the seed.
 */
export function spreadYawsDeg(count: number, seed: number, maxDeg = 90): number[] {
  // The studio scenes' stream, so the sets made before the PRNGs were merged stay the same.
  const random = new StudioRandom(hashSeed('aflw-synthetic-yaw', seed));
  const start = random.next();
  const step = (Math.sqrt(5) - 1) / 2;
  return Array.from({ length: count }, (_, i) => {
    const magnitude = maxDeg * ((start + i * step) % 1);
    return random.next() < 0.5 ? -magnitude : magnitude;
  });
}

/** One image's annotation in AFLW2000-3D's terms. */
export interface AflwAnnotation {
  /** [3*68] column-major 3×68 (MATLAB order: x, y, z of point 1, then point 2, …). */
  pt3d68: Float64Array;
  /** [7] pitch, yaw, roll (radians), tx, ty, tz, scale. */
  poseParams: Float64Array;
}

/**
 * AFLW2000-3D's annotation of a posed face: `pt3d_68` holds the 68 landmark vertices, visible or
 * not, projected into the image: x, y in the dataset's 1-based pixel coordinates (MATLAB: the
 * top-left pixel's centre is (1, 1), i.e. facegar pixels + AFLW_PIXEL_OFFSET), z the depth in
 * pixels at the face's distance, larger = nearer the camera, zero at the landmarks' mean depth
 * (the dataset's scaled-orthographic z up to an offset). `Pose_Para` = [pitch, yaw, roll] in
 * radians (facegar's convention, R = Rz(roll)·Ry(yaw)·Rx(pitch), camera +y up; only |yaw| is read
 * by the protocol), then tx, ty (the model origin's image position, same pixels), tz = 0 and the
 * scale f / depth (px per mm).
 * `landmarksModel` [68*3] mm, model space; p_camera = R p + t; u = cx + f·x/(−z), v = cy − f·y/(−z).
 */
export function aflwAnnotation(
  landmarksModel: ArrayLike<number>,
  rotation: ArrayLike<number>,
  translationMm: ArrayLike<number>,
  camera: PinholeCamera,
  anglesDeg: readonly number[],
): AflwAnnotation {
  const cameraPoints = transformPointsArray(landmarksModel, rotation, translationMm);
  const projected = projectPointsArray(cameraPoints, camera);
  let meanZ = 0;
  for (let k = 0; k < 68; k++) meanZ += cameraPoints[3 * k + 2] / 68;
  const pxPerMm = camera.focalPx / -meanZ;
  const pt3d68 = new Float64Array(3 * 68);
  for (let k = 0; k < 68; k++) {
    pt3d68[3 * k] = projected[2 * k] + AFLW_PIXEL_OFFSET;
    pt3d68[3 * k + 1] = projected[2 * k + 1] + AFLW_PIXEL_OFFSET;
    pt3d68[3 * k + 2] = (cameraPoints[3 * k + 2] - meanZ) * pxPerMm;
  }
  const origin = projectPointsArray(translationMm, camera);
  const radians = anglesDeg.map((a) => (a * Math.PI) / 180);
  const poseParams = Float64Array.from([radians[0], radians[1], radians[2], origin[0] + AFLW_PIXEL_OFFSET, origin[1] + AFLW_PIXEL_OFFSET, 0, pxPerMm]);
  return { pt3d68, poseParams };
}

/** The `.mat` variables of an annotation (`pt3d_68` 3×68 and `Pose_Para` 1×7, doubles, as in the dataset). */
export function aflwMatVariables(annotation: AflwAnnotation): MatVariableToWrite[] {
  return [
    { name: 'pt3d_68', className: 'double', dims: [3, 68], data: annotation.pt3d68 },
    { name: 'Pose_Para', className: 'double', dims: [1, 7], data: annotation.poseParams },
  ];
}

/** One synthetic image of the set. */
export interface SyntheticAflwImage {
  /** `image00001` … (AFLW2000-3D's naming), without extension. */
  name: string;
  image: RgbaImage;
  annotation: AflwAnnotation;
  yawDeg: number;
  /** Every parameter of the render (studioSceneRecord), for reports and re-rendering. */
  scene: Record<string, unknown>;
}

export interface SyntheticAflwOptions {
  /** Images in the set (the yaws are spread over all of them). */
  count: number;
  seed: number;
  /** Square image side (default AFLW_IMAGE_SIZE_PX). */
  sizePx?: number;
  /** Largest |yaw| (default 90). */
  maxYawDeg?: number;
  /** Other studio scene ranges (pitch, roll, face size, occluders). */
  scene?: Partial<StudioSceneConfig>;
}

/**
 * Render image `index` of a synthetic AFLW set: a studio scene from its own seed stream
 * (hash("aflw-synthetic", seed, index), shared with no training data), yaw from spreadYawsDeg.
 * Deterministic for (seed, index, count, options).
 */
export function renderSyntheticAflwImage(model: MorphableModel, index: number, options: SyntheticAflwOptions): SyntheticAflwImage {
  const size = options.sizePx ?? AFLW_IMAGE_SIZE_PX;
  const maxYawDeg = options.maxYawDeg ?? 90;
  const yawDeg = spreadYawsDeg(options.count, options.seed, maxYawDeg)[index];
  const scene = sampleStudioScene(model, hashSeed('aflw-synthetic', options.seed, index), { ...options.scene, width: size, height: size, maxYawDeg, yawDeg });
  const { image, truth } = renderStudioPhoto(model, scene);
  const landmarksModel = new Float32Array(68 * 3);
  model.landmarkVertexIndices.forEach((v, k) => landmarksModel.set(truth.verticesModel.subarray(3 * v, 3 * v + 3), 3 * k));
  return {
    name: `image${String(index + 1).padStart(5, '0')}`,
    image,
    annotation: aflwAnnotation(landmarksModel, truth.rotation, truth.translationMm, truth.camera, truth.anglesDeg),
    yawDeg,
    scene: studioSceneRecord(scene),
  };
}
