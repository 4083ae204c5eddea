import { initBackend } from '../engine/backend.ts';
import { invalidParameterError } from '../common/errors.ts';
import { applyAffine2D, padImageMirror, type Affine2D, type RgbaImage } from '../common/image.ts';
import { BlazeFace, boxIoU, type FaceBox } from './blazeface.ts';
import { FaceMesh, MESH_POINT_COUNT } from './facemesh.ts';
import { loadGraphModelFromBytes, type ModelBytes } from './graph-model.ts';
import { meshToIbug68 } from './ibug68.ts';
import { IBUG68_MIRROR, applyMeshLandmarkMap, applyMeshLandmarkMapMirrored, decodeMeshLandmarkMap, type MeshLandmarkMap } from './mesh-landmark-map.ts';
import { ImagePyramid } from './image-pyramid.ts';

export interface FaceDetectorConfig {
  /** Most faces returned (largest first). */
  maxFaces?: number;
  /** BlazeFace score (0..1) a candidate needs. */
  minDetectionScore?: number;
  /** FaceMesh face flag (0..1) a fitted mesh needs; below it the candidate is dropped. */
  minMeshScore?: number;
  /**
   * When no candidate passes minMeshScore, the best one whose BlazeFace score is at least this is
   * kept anyway, with its low mesh score (a turned face: FaceMesh's flag falls past ~60° of yaw
   * while BlazeFace still finds the face; the fit then treats its landmarks as unreliable).
   * 1 turns the fallback off.
   */
  fallbackMinDetectionScore?: number;
  /**
   * When nothing is found at minDetectionScore, BlazeFace's candidates down to this score are
   * tried, each needing FaceMesh's face flag (minMeshScore): a second search for faces BlazeFace
   * is unsure of (turned, odd skin), checked by the mesh. 1 or above minDetectionScore turns it off.
   */
  retryMinDetectionScore?: number;
  /**
   * When both searches found nothing, one more in the photo padded on every side by this fraction
   * of its longer side (mirrored about its edges, padImageMirror): BlazeFace misses faces that fill
   * the frame or run off its edge (on two Blender Cycles sets it found 20 of the 22 faces missed;
   * README, "Turned faces and profiles"). 0 turns it off.
   */
  paddedSearchFraction?: number;
  /** Images with a longer side above this many pixels are downscaled for detection; results are in original pixels. */
  maxDetectionSide?: number;
  /** Re-crops around the previous mesh after the first FaceMesh pass. */
  refineIterations?: number;
  /** Side of the FaceMesh crop relative to the face's extent. */
  cropEnlarge?: number;
  /**
   * With a landmark map: also fit FaceMesh in the mirror image of each face's crop, read the map
   * there, and average the two readings (one more FaceMesh pass per face). FaceMesh is not
   * mirror-symmetric, so the two errors are partly independent: on two Blender Cycles tuning sets
   * the map's NME (% of the box, mean of the yaw bins) went 5.24 → 5.06 and 4.21 → 4.03 %
   * (docs/tuning.md).
   */
  mirrorLandmarkMap?: boolean;
  /**
   * Where that mirrored FaceMesh pass ran (mirrorLandmarkMap), also average FaceMesh's own 68 points
   * with the mirrored fit's, each to its own name (no extra pass). The fits follow these points on
   * near-frontal faces: on the two Cycles tuning sets the default fit's 3D error went 3.05 → 3.03
   * and 3.17 → 3.16 mm, p90 3.81 → 3.80 and 3.87 → 3.80 (docs/tuning.md).
   */
  mirrorFaceMeshLandmarks?: boolean;
}

export const DEFAULT_FACE_DETECTOR_CONFIG: Readonly<Required<FaceDetectorConfig>> = Object.freeze({
  maxFaces: 4,
  minDetectionScore: 0.5,
  minMeshScore: 0.25,
  fallbackMinDetectionScore: 0.6,
  retryMinDetectionScore: 0.2,
  paddedSearchFraction: 0.25,
  maxDetectionSide: 1024,
  refineIterations: 2,
  cropEnlarge: 1.5,
  mirrorLandmarkMap: true,
  mirrorFaceMeshLandmarks: true,
});

/** The model files a detector needs, as bytes (Node: `loadDetectorModelFiles`). */
export interface DetectorModelFiles {
  /** BlazeFace short-range detector (`blazeface.json`, 256 px, or `blazeface-front.json`, 128 px). */
  blazeface: ModelBytes;
  /** MediaPipe FaceMesh (`facemesh.json`, 192 px crop, 468 points). */
  facemesh: ModelBytes;
  /**
   * The map from FaceMesh's mesh to the model's own 68 landmarks (`facemesh-landmark-map.bin`, see
   * mesh-landmark-map.ts); with it each face also gets `modelLandmarks68`.
   */
  landmarkMap?: Uint8Array;
}

export interface DetectedFace {
  /** Extent of the mesh's x, y (a fallback face: BlazeFace's box), original image pixels. */
  box: FaceBox;
  /** BlazeFace score, 0..1. */
  detectionScore: number;
  /** FaceMesh face flag, 0..1 (below minMeshScore only for a fallback face, see fallbackMinDetectionScore). */
  meshScore: number;
  /** [468 * 3] MediaPipe mesh: x, y in original image pixels, z relative depth in the same scale (smaller = nearer). */
  mesh468: Float32Array;
  /**
   * [68 * 2] iBUG-68 x, y in original image pixels (jaw = visible silhouette); from detect() with a
   * landmark map, the mean of FaceMesh's direct and mirrored passes (mirrorFaceMeshLandmarks).
   */
  landmarks68: Float32Array;
  /**
   * [68 * 2] where the morphable model's own 68 landmark vertices project (occluded ones included,
   * the jaw on the model's fixed vertices), read from the whole mesh by the landmark map; only
   * when the detector has one, and from detect() (track() follows FaceMesh's own points).
   */
  modelLandmarks68?: Float32Array;
}

export interface FaceDetector {
  /** Faces in `image`, sorted by box area, largest first; [] when none. `options.maxFaces` overrides the config's for this call. */
  detect(image: RgbaImage, options?: { maxFaces?: number }): Promise<DetectedFace[]>;
  /**
   * Video frames: the face found in the previous frame, followed into `image` by FaceMesh in a
   * crop around its previous mesh, re-cropped `refineIterations` times (no BlazeFace search).
   * Undefined when the mesh score falls below `minMeshScore` (the face left): detect again.
   */
  track?(image: RgbaImage, previous: DetectedFace): Promise<DetectedFace | undefined>;
  /** Frees the models' weights; the detector is unusable afterwards. */
  dispose(): void;
}

/** Load BlazeFace and FaceMesh from bytes and return a detector (initialises the tensor backend). */
export async function createFaceDetector(files: DetectorModelFiles, config: FaceDetectorConfig = {}): Promise<FaceDetector> {
  const settings = checkConfig(config);
  const landmarkMap = files.landmarkMap ? decodeMeshLandmarkMap(files.landmarkMap, 'facemesh-landmark-map.bin') : undefined;
  await initBackend();
  const blazeface = new BlazeFace(await loadGraphModelFromBytes(files.blazeface, 'blazeface'));
  let facemesh: FaceMesh;
  try {
    facemesh = new FaceMesh(await loadGraphModelFromBytes(files.facemesh, 'facemesh'));
  } catch (error) {
    blazeface.dispose();
    throw error;
  }
  let disposed = false;
  return {
    async detect(image: RgbaImage, options: { maxFaces?: number } = {}): Promise<DetectedFace[]> {
      if (disposed) throw new Error('FaceDetector.detect called after dispose()');
      checkImage(image);
      const callSettings = options.maxFaces === undefined ? settings : checkConfig({ ...settings, maxFaces: options.maxFaces });
      if (image.width === 0 || image.height === 0) return [];
      const detection = imageForDetection(image, callSettings.maxDetectionSide);
      let pyramid = new ImagePyramid(detection.detectionImage);
      let faces = await detectFaces(pyramid, detection.scaleX, detection.scaleY, blazeface, facemesh, callSettings);
      // The padded search works in the padded photo throughout (its mirrored readings too), then shifts back.
      let padPx = 0;
      if (faces.length === 0 && callSettings.paddedSearchFraction > 0) {
        const { width, height } = detection.detectionImage;
        padPx = Math.round(callSettings.paddedSearchFraction * Math.max(width, height));
        pyramid = new ImagePyramid(padImageMirror(detection.detectionImage, padPx));
        faces = await detectFaces(pyramid, detection.scaleX, detection.scaleY, blazeface, facemesh, callSettings);
      }
      const withModelLandmarks: DetectedFace[] = [];
      for (const face of faces) {
        const read = landmarkMap
          ? await mapAndMirrorReadings(
              landmarkMap,
              face,
              callSettings.mirrorLandmarkMap ? { facemesh, pyramid, ...detection, settings: callSettings } : undefined,
            )
          : undefined;
        const found = read ? { ...face, ...read } : face;
        withModelLandmarks.push(padPx ? shiftFace(found, padPx / detection.scaleX, padPx / detection.scaleY) : found);
      }
      return withModelLandmarks;
    },
    async track(image: RgbaImage, previous: DetectedFace): Promise<DetectedFace | undefined> {
      if (disposed) throw new Error('FaceDetector.track called after dispose()');
      checkImage(image);
      if (image.width === 0 || image.height === 0) return undefined;
      const { detectionImage, scaleX, scaleY } = imageForDetection(image, settings.maxDetectionSide);
      const pyramid = new ImagePyramid(detectionImage);
      let crop = facemesh.cropAroundMesh(unscaleMesh(previous.mesh468, 1 / scaleX, 1 / scaleY), settings.cropEnlarge);
      let fit = await facemesh.fitInCrop(pyramid, crop);
      // A face that moved far since the last frame sits off-centre in that crop, and FaceMesh then
      // leaves its points near the old place (with a full score): re-crop around the new mesh,
      // unless that crop is the same one within a small fraction of its side (a face that hardly
      // moved; another pass would cost a FaceMesh run for the same points).
      for (let i = 0; i < settings.refineIterations; i++) {
        const next = facemesh.cropAroundMesh(fit.mesh, settings.cropEnlarge);
        if (cropCornersMoveFraction(crop, next, facemesh.inputSize) < SAME_CROP_FRACTION) break;
        crop = next;
        fit = await facemesh.fitInCrop(pyramid, crop);
      }
      if (fit.score < settings.minMeshScore) return undefined;
      // No landmark map here: the live tracker follows FaceMesh's own points every frame.
      return faceFromMesh(unscaleMesh(fit.mesh, scaleX, scaleY), previous.detectionScore, fit.score);
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      blazeface.dispose();
      facemesh.dispose();
    },
  };
}

/**
 * The landmark map's reading of `face` ([136], `modelLandmarks68`; undefined without a full mesh);
 * with `mirror`, the mean of it and the reading from FaceMesh fitted in the mirror image of the
 * face's crop (when that fit passes minMeshScore), and with `mirrorFaceMeshLandmarks` FaceMesh's
 * own 68 points averaged the same way (`landmarks68`).
 */
async function mapAndMirrorReadings(
  map: MeshLandmarkMap,
  face: DetectedFace,
  mirror?: { facemesh: FaceMesh; pyramid: ImagePyramid; scaleX: number; scaleY: number; settings: Required<FaceDetectorConfig> },
): Promise<{ modelLandmarks68: Float32Array; landmarks68?: Float32Array } | undefined> {
  if (face.mesh468.length !== MESH_POINT_COUNT * 3) return undefined;
  const direct = applyMeshLandmarkMap(map, face.mesh468, face.landmarks68);
  if (!mirror) return { modelLandmarks68: direct };
  const { facemesh, pyramid, scaleX, scaleY, settings } = mirror;
  const crop = facemesh.cropAroundMesh(unscaleMesh(face.mesh468, 1 / scaleX, 1 / scaleY), settings.cropEnlarge);
  const fit = await facemesh.fitInCrop(pyramid, facemesh.mirroredCrop(crop));
  if (fit.score < settings.minMeshScore) return { modelLandmarks68: direct };
  const mirroredMesh = unscaleMesh(fit.mesh, scaleX, scaleY);
  const mirrored = applyMeshLandmarkMapMirrored(map, mirroredMesh);
  for (let i = 0; i < direct.length; i++) direct[i] = (direct[i] + mirrored[i]) / 2;
  if (!settings.mirrorFaceMeshLandmarks) return { modelLandmarks68: direct };
  return { modelLandmarks68: direct, landmarks68: averageMirroredIbug68(face.landmarks68, meshToIbug68(mirroredMesh)) };
}

/**
 * [136] the mean of FaceMesh's 68 points and those of its fit in the mirrored crop. That fit's
 * points lie in photo pixels with left and right swapped (its "left eye corner" sits on the
 * right one), so each point is averaged with its mirror partner's.
 */
export function averageMirroredIbug68(direct: ArrayLike<number>, mirroredFit: ArrayLike<number>): Float32Array {
  if (direct.length !== 136 || mirroredFit.length !== 136)
    throw invalidParameterError('landmarks', '136 numbers each', `${direct.length} and ${mirroredFit.length}`);
  const out = new Float32Array(136);
  for (let k = 0; k < 68; k++) for (let axis = 0; axis < 2; axis++) out[2 * k + axis] = (direct[2 * k + axis] + mirroredFit[2 * IBUG68_MIRROR[k] + axis]) / 2;
  return out;
}

async function detectFaces(
  pyramid: ImagePyramid,
  scaleX: number,
  scaleY: number,
  blazeface: BlazeFace,
  facemesh: FaceMesh,
  settings: Required<FaceDetectorConfig>,
): Promise<DetectedFace[]> {
  // Room for candidates the mesh rejects or that turn out to be the same face.
  const detections = await blazeface.detect(pyramid, { minScore: settings.minDetectionScore, maxDetections: 2 * settings.maxFaces + 2, iouThreshold: 0.3 });
  const faces: DetectedFace[] = [];
  let fallback: DetectedFace | undefined;
  const fitEach = async (candidates: typeof detections) => {
    for (const detection of candidates) {
      const fit = await facemesh.fitFromDetection(pyramid, detection, settings.refineIterations, settings.cropEnlarge);
      const face = faceFromMesh(unscaleMesh(fit.mesh, scaleX, scaleY), detection.score, fit.score);
      if (fit.score < settings.minMeshScore) {
        // Detections come best first: the first one that qualifies is the fallback. A mesh
        // FaceMesh itself doubts may sit off the face: it keeps BlazeFace's box.
        const { x, y, width, height } = detection.box;
        if (!fallback && detection.score >= settings.fallbackMinDetectionScore)
          fallback = { ...face, box: { x: x / scaleX, y: y / scaleY, width: width / scaleX, height: height / scaleY } };
        continue;
      }
      // Two detections can converge on one face: keep the first (higher detection score).
      if (faces.some((kept) => boxIoU(kept.box, face.box) > 0.5)) continue;
      faces.push(face);
    }
  };
  await fitEach(detections);
  if (faces.length === 0 && !fallback && settings.retryMinDetectionScore < settings.minDetectionScore) {
    // A second BlazeFace pass (only when the first found nothing, so found faces keep their boxes exactly).
    const unsure = await blazeface.detect(pyramid, { minScore: settings.retryMinDetectionScore, maxDetections: 2 * settings.maxFaces + 2, iouThreshold: 0.3 });
    await fitEach(unsure.filter((d) => d.score < settings.minDetectionScore));
  }
  if (faces.length === 0 && fallback) faces.push(fallback);
  faces.sort((p, q) => q.box.width * q.box.height - p.box.width * p.box.height);
  return faces.slice(0, settings.maxFaces);
}

/**
 * The image detection runs on: `image` itself, or a copy whose longer side is `maxSide`
 * (2×2-averaged halvings, then bilinear). Detection pixel = original pixel × scale, per axis, exactly.
 */
function imageForDetection(image: RgbaImage, maxSide: number): { detectionImage: RgbaImage; scaleX: number; scaleY: number } {
  const longer = Math.max(image.width, image.height);
  if (longer <= maxSide) return { detectionImage: image, scaleX: 1, scaleY: 1 };
  const width = Math.max(1, Math.round((image.width * maxSide) / longer));
  const height = Math.max(1, Math.round((image.height * maxSide) / longer));
  const detectionToImage = { a: image.width / width, b: 0, c: 0, d: image.height / height, tx: 0, ty: 0 };
  return { detectionImage: new ImagePyramid(image).sampleCrop(detectionToImage, width, height), scaleX: width / image.width, scaleY: height / image.height };
}

/** A face found in a padded photo, moved into the photo's own pixels (x − dx, y − dy; z kept). */
function shiftFace(face: DetectedFace, dx: number, dy: number): DetectedFace {
  const shiftPoints = (points: Float32Array, stride: number) => {
    const out = new Float32Array(points);
    for (let i = 0; i < out.length; i += stride) {
      out[i] -= dx;
      out[i + 1] -= dy;
    }
    return out;
  };
  return {
    ...face,
    box: { ...face.box, x: face.box.x - dx, y: face.box.y - dy },
    mesh468: shiftPoints(face.mesh468, 3),
    landmarks68: shiftPoints(face.landmarks68, 2),
    ...(face.modelLandmarks68 ? { modelLandmarks68: shiftPoints(face.modelLandmarks68, 2) } : {}),
  };
}

function faceFromMesh(mesh468: Float32Array, detectionScore: number, meshScore: number): DetectedFace {
  return { box: meshBox(mesh468), detectionScore, meshScore, mesh468, landmarks68: meshToIbug68(mesh468) };
}

/** [468*3] mesh with x, y divided per axis and z by their geometric mean (a copy): detection pixels → image pixels. */
function unscaleMesh(mesh: Float32Array, scaleX: number, scaleY: number): Float32Array {
  const out = new Float32Array(mesh);
  if (scaleX === 1 && scaleY === 1) return out;
  const scaleZ = Math.sqrt(scaleX * scaleY);
  for (let i = 0; i < out.length; i += 3) {
    out[i] /= scaleX;
    out[i + 1] /= scaleY;
    out[i + 2] /= scaleZ;
  }
  return out;
}

function meshBox(mesh: Float32Array): FaceBox {
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  for (let i = 0; i < MESH_POINT_COUNT; i++) {
    const x = mesh[3 * i],
      y = mesh[3 * i + 1];
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  return { x: minX, y: minY, width: maxX - minX, height: maxY - minY };
}

function checkConfig(config: FaceDetectorConfig): Required<FaceDetectorConfig> {
  const settings = { ...DEFAULT_FACE_DETECTOR_CONFIG, ...stripUndefined(config) };
  const integer = (name: keyof FaceDetectorConfig, min: number) => {
    const v = settings[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalidParameterError(name, `an integer >= ${min}`, v);
  };
  const fraction = (name: keyof FaceDetectorConfig) => {
    const v = settings[name];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw invalidParameterError(name, 'a number between 0 and 1', v);
  };
  integer('maxFaces', 1);
  integer('maxDetectionSide', 64);
  integer('refineIterations', 0);
  fraction('minDetectionScore');
  fraction('minMeshScore');
  fraction('fallbackMinDetectionScore');
  fraction('retryMinDetectionScore');
  fraction('paddedSearchFraction');
  if (typeof settings.cropEnlarge !== 'number' || !(settings.cropEnlarge >= 1 && settings.cropEnlarge <= 4)) {
    throw invalidParameterError('cropEnlarge', 'a number between 1 and 4', settings.cropEnlarge);
  }
  for (const key of ['mirrorLandmarkMap', 'mirrorFaceMeshLandmarks'] as const)
    if (typeof settings[key] !== 'boolean') throw invalidParameterError(key, 'true or false', settings[key]);
  return settings;
}

function stripUndefined(config: FaceDetectorConfig): FaceDetectorConfig {
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
}

function checkImage(image: RgbaImage): void {
  const ok =
    image !== null &&
    typeof image === 'object' &&
    Number.isInteger(image.width) &&
    Number.isInteger(image.height) &&
    image.width >= 0 &&
    image.height >= 0 &&
    image.data instanceof Uint8ClampedArray &&
    image.data.length === image.width * image.height * 4;
  if (!ok) throw invalidParameterError('image', 'an RgbaImage {width, height, data: Uint8ClampedArray of width*height*4}', describe(image));
}

function describe(image: RgbaImage): string {
  if (image === null || typeof image !== 'object') return String(image);
  return `{width: ${image.width}, height: ${image.height}, data length ${image.data?.length}}`;
}

/** Crops whose corners move less than this fraction of the side are taken as the same crop when tracking. */
const SAME_CROP_FRACTION = 0.02;

/** The largest distance a corner of a square crop (crop px → image px) moves from `from` to `to`, as a fraction of `from`'s side. */
export function cropCornersMoveFraction(from: Affine2D, to: Affine2D, cropSidePx: number): number {
  let worst = 0;
  for (const [x, y] of [
    [0, 0],
    [cropSidePx, 0],
    [0, cropSidePx],
    [cropSidePx, cropSidePx],
  ]) {
    const [fx, fy] = applyAffine2D(from, x, y);
    const [tx, ty] = applyAffine2D(to, x, y);
    worst = Math.max(worst, Math.hypot(tx - fx, ty - fy));
  }
  return worst / (cropSidePx * Math.hypot(from.a, from.c));
}
