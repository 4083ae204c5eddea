import { createRgbaImage, type RgbaImage } from '../common/image.ts';
import { cameraToClipArray, projectPointsArray, transformPointsArray, type PinholeCamera } from '../geometry/camera.ts';
import { rotationFromEuler } from '../geometry/rotation.ts';
import { computeVertexNormalsArray } from '../geometry/vertex-normals.ts';
import { evaluateMorphableModel, type MorphableModel } from '../morphable/morphable-model.ts';
import { rasterize } from '../raster/rasterize.ts';
import { backgroundColor, skinAlbedo, type SkinTexture, type StudioBackground } from './studio-texture.ts';
import { applyStudioPostProcess, pointInPolygon, type StudioPostProcess } from './studio-post.ts';
import { paintOccluders, type StudioOccluders } from './studio-occluders.ts';
import { computeFaceRegions } from './studio-regions.ts';
import { buildShadowMap, computeAmbientOcclusion } from './studio-shadow-map.ts';

/**
 * Everything that defines one synthetic studio photo. Every number is recorded with the
 * image, so a render can be reproduced exactly from its scene.
 */
export interface StudioScene {
  width: number;
  height: number;
  /** [K] identity coefficients, [E] expression weights. */
  identity: Float32Array;
  expression: Float32Array;
  /** [pitch, yaw, roll] degrees; R = Rz(roll)·Ry(yaw)·Rx(pitch), p_cam = R p + t. */
  anglesDeg: [number, number, number];
  translationMm: [number, number, number];
  focalPx: number;
  principalPointPx: [number, number];
  light: {
    /** Unit vector towards the directional light, camera space. */
    directionCamera: [number, number, number];
    colorRgb: [number, number, number];
    intensity: number;
    /** Sky-like ambient fill strength. */
    ambient: number;
  };
  /** Blinn-Phong lobe. */
  specular: { strength: number; shininess: number };
  skin: SkinTexture;
  irisRgb: [number, number, number];
  background: StudioBackground;
  post: StudioPostProcess;
  /** How much per-vertex ambient occlusion darkens the ambient light and the specular (0..1). */
  ambientOcclusion: { strength: number };
  occluders: StudioOccluders;
}

/** Ground truth of one render. */
export interface StudioTruth {
  /** [V*3] mm, model space (the shape before pose). */
  verticesModel: Float32Array;
  rotation: Float64Array;
  translationMm: [number, number, number];
  anglesDeg: [number, number, number];
  camera: PinholeCamera;
  /** [68*2] iBUG-68 model landmarks projected into the image (px). */
  landmarks2d: Float32Array;
}

export interface StudioRender {
  image: RgbaImage;
  truth: StudioTruth;
  /** The scene that made the image (record it with `studioSceneRecord`). */
  scene: StudioScene;
}

const SHADOW_MAP_SIZE = 512;
const SHADOW_BIAS_MM = 1.2;

/**
 * Render a face photo with what the fitting renderer (albedo × SH light) lacks: a directional
 * light with cast shadows (shadow map), Blinn-Phong specular, procedural textured albedo,
 * eyeballs and mouth interior, a procedural background, then blur, sensor noise and 8-bit
 * quantisation. Plain JS; deterministic for a scene.
 */
export function renderStudioPhoto(model: MorphableModel, scene: StudioScene): StudioRender {
  const { width, height } = scene;
  const verticesModel = evaluateMorphableModel(model, scene.identity, scene.expression);
  const rotation = rotationFromEuler(...(scene.anglesDeg.map((a) => (a * Math.PI) / 180) as [number, number, number]));
  const camera: PinholeCamera = { focalPx: scene.focalPx, principalPointPx: scene.principalPointPx, width, height };
  const cameraPoints = transformPointsArray(verticesModel, rotation, scene.translationMm);
  const triangles = model.triangles;
  const raster = rasterize(cameraToClipArray(cameraPoints, camera), triangles, { width, height }, { cullBackFaces: true });
  const normals = computeVertexNormalsArray(cameraPoints, triangles);
  const regions = computeFaceRegions(model);
  const shadow = buildShadowMap(cameraPoints, triangles, scene.light.directionCamera, SHADOW_MAP_SIZE, SHADOW_BIAS_MM);
  const occlusion = computeAmbientOcclusion(cameraPoints, normals, triangles);
  const landmarks3d = new Float32Array(68 * 3);
  model.landmarkVertexIndices.forEach((v, k) => landmarks3d.set(cameraPoints.subarray(3 * v, 3 * v + 3), 3 * k));
  const landmarks2d = projectPointsArray(landmarks3d, camera);

  const linear = new Float32Array(width * height * 3);
  const color = new Float64Array(3);
  const albedo = new Float64Array(3);
  const [lx, ly, lz] = scene.light.directionCamera;
  const depthMm = new Float32Array(width * height).fill(Infinity);
  for (let pixel = 0; pixel < width * height; pixel++) {
    const row = Math.floor(pixel / width),
      column = pixel - row * width;
    const id = raster.triangleIdPlusOne[pixel];
    if (id === 0) {
      backgroundColor(scene.background, column, row, width, height, color);
      linear.set(color, 3 * pixel);
      continue;
    }
    const t = id - 1;
    const b1 = raster.barycentrics[2 * pixel],
      b2 = raster.barycentrics[2 * pixel + 1],
      b0 = 1 - b1 - b2;
    const ia = 3 * triangles[3 * t],
      ib = 3 * triangles[3 * t + 1],
      ic = 3 * triangles[3 * t + 2];
    const at = (array: ArrayLike<number>, k: number) => b0 * array[ia + k] + b1 * array[ib + k] + b2 * array[ic + k];
    const px = at(cameraPoints, 0),
      py = at(cameraPoints, 1),
      pz = at(cameraPoints, 2);
    depthMm[pixel] = -pz;
    let nx = at(normals, 0),
      ny = at(normals, 1),
      nz = at(normals, 2);
    const nLength = Math.hypot(nx, ny, nz) || 1;
    nx /= nLength;
    ny /= nLength;
    nz /= nLength;
    // Texture lives on the neutral shape, so it sticks to the skin under any expression.
    const region = regionAt(regions.region, triangles[3 * t], triangles[3 * t + 1], triangles[3 * t + 2], b0, b1, b2);
    const lowerFace = b0 * regions.lowerFaceWeight[ia / 3] + b1 * regions.lowerFaceWeight[ib / 3] + b2 * regions.lowerFaceWeight[ic / 3];
    skinAlbedo(scene.skin, at(model.neutral, 0), at(model.neutral, 1), at(model.neutral, 2), region, lowerFace, albedo);
    const visibility = shadow.visibility(px, py, pz);
    const ao = 1 - scene.ambientOcclusion.strength * (1 - (b0 * occlusion[ia / 3] + b1 * occlusion[ib / 3] + b2 * occlusion[ic / 3]));
    const nDotL = Math.max(0, nx * lx + ny * ly + nz * lz);
    const viewLength = Math.hypot(px, py, pz) || 1;
    let hx = lx - px / viewLength,
      hy = ly - py / viewLength,
      hz = lz - pz / viewLength;
    const hLength = Math.hypot(hx, hy, hz) || 1;
    hx /= hLength;
    hy /= hLength;
    hz /= hLength;
    const nDotH = Math.max(0, nx * hx + ny * hy + nz * hz);
    const gloss = region === 1 ? 1.6 : region === 2 ? 0.2 : 1;
    const specular = nDotL > 0 ? gloss * scene.specular.strength * nDotH ** scene.specular.shininess * visibility * ao : 0;
    const ambient = scene.light.ambient * (0.75 + 0.25 * ny) * ao;
    for (let k = 0; k < 3; k++) {
      const lightK = scene.light.colorRgb[k] * scene.light.intensity;
      linear[3 * pixel + k] = albedo[k] * (ambient + lightK * nDotL * visibility) + specular * lightK;
    }
  }
  paintEyesAndMouth(linear, depthMm, landmarks2d, landmarks3d, scene);
  paintOccluders(linear, width, height, scene.occluders, faceFrame(landmarks2d), scene.light.ambient + 0.6 * scene.light.intensity);
  const image = createRgbaImage(width, height);
  applyStudioPostProcess(linear, image, scene.post);
  return {
    image,
    truth: { verticesModel, rotation, translationMm: [...scene.translationMm], anglesDeg: [...scene.anglesDeg], camera, landmarks2d },
    scene,
  };
}

/** Face units of the occluders: origin between the eye centres, unit = outer eye corner distance (px). */
function faceFrame(landmarks2d: Float32Array): { originPx: [number, number]; unitPx: number } {
  let x = 0,
    y = 0;
  for (let k = 36; k < 48; k++) {
    x += landmarks2d[2 * k] / 12;
    y += landmarks2d[2 * k + 1] / 12;
  }
  const unitPx = Math.hypot(landmarks2d[2 * 45] - landmarks2d[2 * 36], landmarks2d[2 * 45 + 1] - landmarks2d[2 * 36 + 1]);
  return { originPx: [x, y], unitPx: Math.max(unitPx, 1) };
}

function regionAt(region: Uint8Array, a: number, b: number, c: number, b0: number, b1: number, b2: number): number {
  // The vertex with the largest weight decides (regions are labels, not blendable).
  return b0 >= b1 && b0 >= b2 ? region[a] : b1 >= b2 ? region[b] : region[c];
}

/**
 * The face area mesh has holes at the eyes and the mouth: fill them where they are visible
 * (nothing nearer than the landmark ring) with eyeballs (sclera, iris, pupil) and a dark mouth
 * interior with a hint of teeth.
 */
function paintEyesAndMouth(linear: Float32Array, depthMm: Float32Array, landmarks2d: Float32Array, landmarks3d: Float32Array, scene: StudioScene): void {
  const { width, height } = scene;
  const lightLevel = scene.light.ambient + 0.5 * scene.light.intensity;
  const parts: { first: number; count: number; kind: 'eye' | 'mouth' }[] = [
    { first: 36, count: 6, kind: 'eye' },
    { first: 42, count: 6, kind: 'eye' },
    { first: 60, count: 8, kind: 'mouth' },
  ];
  for (const part of parts) {
    const polygon: number[] = [];
    let depth = 0,
      cx = 0,
      cy = 0;
    for (let k = part.first; k < part.first + part.count; k++) {
      polygon.push(landmarks2d[2 * k], landmarks2d[2 * k + 1]);
      depth += -landmarks3d[3 * k + 2] / part.count;
      cx += landmarks2d[2 * k] / part.count;
      cy += landmarks2d[2 * k + 1] / part.count;
    }
    const xs = polygon.filter((_, i) => i % 2 === 0),
      ys = polygon.filter((_, i) => i % 2 === 1);
    const minX = Math.max(0, Math.floor(Math.min(...xs))),
      maxX = Math.min(width - 1, Math.ceil(Math.max(...xs)));
    const minY = Math.max(0, Math.floor(Math.min(...ys))),
      maxY = Math.min(height - 1, Math.ceil(Math.max(...ys)));
    const partWidth = Math.hypot(xs[0] - xs[part.count / 2], ys[0] - ys[part.count / 2]);
    for (let row = minY; row <= maxY; row++)
      for (let column = minX; column <= maxX; column++) {
        const pixel = row * width + column;
        if (!pointInPolygon(polygon, column + 0.5, row + 0.5)) continue;
        if (depthMm[pixel] < depth + 4) continue; // the mesh in front (eyelid, nose) stays
        let r: number, g: number, b: number;
        if (part.kind === 'eye') {
          const distance = Math.hypot(column + 0.5 - cx, row + 0.5 - cy) / Math.max(partWidth, 1);
          if (distance < 0.09) [r, g, b] = [0.02, 0.02, 0.02];
          else if (distance < 0.22) [r, g, b] = scene.irisRgb;
          else [r, g, b] = [0.7, 0.66, 0.62];
        } else {
          const upper = (row + 0.5 - Math.min(...ys)) / Math.max(1, Math.max(...ys) - Math.min(...ys));
          [r, g, b] = upper < 0.3 ? [0.75, 0.72, 0.62] : [0.18, 0.05, 0.05];
        }
        linear[3 * pixel] = r * lightLevel;
        linear[3 * pixel + 1] = g * lightLevel;
        linear[3 * pixel + 2] = b * lightLevel;
      }
  }
}
