/**
 * Bake a texture map for the fitted mesh from the photo: every texel of the model's UV layout
 * is traced to its 3D point on the fitted mesh, projected through the fitted camera, and the
 * photo is sampled there when the point is visible and faces the camera. Texels hidden in the
 * photo take the colour of the mirrored point (the face is left/right symmetric), and a few
 * dilation passes spread colour over the UV seams so that filtering never shows the background.
 * Plain JS, no tensors; runs in Node and browsers.
 */
import { createRgbaImage, type RgbaImage } from '../common/image.ts';
import { invalidParameterError } from '../common/errors.ts';
import { cameraToClipArray, cropCamera, DEPTH_RANGE_MM, transformPointsArray, type PinholeCamera } from '../geometry/camera.ts';
import { computeVertexNormalsArray } from '../geometry/vertex-normals.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { rasterize } from '../raster/rasterize.ts';
import type { FaceFit } from './fit-face.ts';

export interface FaceTextureConfig {
  /** Texture width and height in pixels. */
  sizePx: number;
  /** A texel is sampled only where the surface normal's cosine with the view ray exceeds this (grazing angles smear). */
  minFacingCosine: number;
  /** How far (mm) a point may lie behind the nearest surface seen by the camera and still count as visible. */
  depthToleranceMm: number;
  /** Longer side (px) of the camera-side depth raster; the face region of the photo is resampled to it. */
  visibilityRasterPx: number;
  /** Fill hidden texels from the mirrored side of the face. */
  mirrorFill: boolean;
  /** Passes of 8-neighbour dilation that spread colour outwards across UV seams and holes. */
  dilationPasses: number;
}

export const DEFAULT_FACE_TEXTURE_CONFIG: Readonly<FaceTextureConfig> = Object.freeze({
  sizePx: 512,
  minFacingCosine: 0.2,
  depthToleranceMm: 3,
  visibilityRasterPx: 512,
  mirrorFill: true,
  dilationPasses: 8,
});

export function validateFaceTextureConfig(overrides: Partial<FaceTextureConfig> = {}): FaceTextureConfig {
  const config = { ...DEFAULT_FACE_TEXTURE_CONFIG, ...overrides };
  if (!Number.isInteger(config.sizePx) || config.sizePx < 8 || config.sizePx > 8192)
    throw invalidParameterError('sizePx', 'an integer in [8, 8192]', config.sizePx);
  if (!(config.minFacingCosine >= -1 && config.minFacingCosine < 1))
    throw invalidParameterError('minFacingCosine', 'a number in [-1, 1)', config.minFacingCosine);
  if (!(config.depthToleranceMm >= 0) || !Number.isFinite(config.depthToleranceMm))
    throw invalidParameterError('depthToleranceMm', 'a finite number >= 0', config.depthToleranceMm);
  if (!Number.isInteger(config.visibilityRasterPx) || config.visibilityRasterPx < 16 || config.visibilityRasterPx > 4096)
    throw invalidParameterError('visibilityRasterPx', 'an integer in [16, 4096]', config.visibilityRasterPx);
  if (typeof config.mirrorFill !== 'boolean') throw invalidParameterError('mirrorFill', 'a boolean', config.mirrorFill);
  if (!Number.isInteger(config.dilationPasses) || config.dilationPasses < 0 || config.dilationPasses > 256)
    throw invalidParameterError('dilationPasses', 'an integer in [0, 256]', config.dilationPasses);
  return config;
}

/** Where each texel's colour came from. */
export const TexelSource = { empty: 0, photo: 1, mirror: 2, filled: 3 } as const;

export interface FaceTexture {
  /** sizePx × sizePx RGBA, row 0 = top = v 1 (OBJ v points up; glTF's v = 1 − v_obj points down the rows). */
  image: RgbaImage;
  /** [sizePx²] uint8 TexelSource per texel. */
  source: Uint8Array;
  /** Fractions of the texels inside the UV layout: seen in the photo, taken from the mirrored side, filled by dilation or the mean colour. */
  coverage: { photo: number; mirror: number; filled: number };
}

/** The fitted mesh and camera, as in FaceFit. */
export type TextureFit = Pick<FaceFit, 'vertices' | 'rotation' | 'translationMm' | 'focalPx' | 'principalPointPx'>;
export type TextureModel = Pick<MorphableModel, 'vertexCount' | 'neutral' | 'triangles' | 'uvs' | 'triangleUvIndices'>;

/**
 * Bake the face texture for one fitted face.
 * @param photo the photo the fit was made on (same pixels as `fit.principalPointPx`).
 * @param fit fitted vertices [V*3] mm (model space) and camera.
 * @param model the morphable model (UV layout, triangles; `neutral` for the mirror map).
 * @param mirrorVertices optional precomputed {@link findMirrorVertices} of the model (saves ~50 ms per call).
 */
export function bakeFaceTexture(
  photo: RgbaImage,
  fit: TextureFit,
  model: TextureModel,
  overrides: Partial<FaceTextureConfig> = {},
  mirrorVertices?: Int32Array,
): FaceTexture {
  const config = validateFaceTextureConfig(overrides);
  if (fit.vertices.length !== model.vertexCount * 3)
    throw invalidParameterError('fit.vertices', `a Float32Array of length ${model.vertexCount * 3}`, fit.vertices.length);
  const size = config.sizePx;
  const { triangles, uvTriangles } = faceTriangles(model);

  // 1. Which triangle and where on it, for every texel: rasterise the UV layout (z = 0, w = 1).
  const uvCount = model.uvs.length / 2;
  const uvClip = new Float32Array(uvCount * 4);
  for (let i = 0; i < uvCount; i++) {
    uvClip[4 * i] = 2 * model.uvs[2 * i] - 1;
    uvClip[4 * i + 1] = 2 * model.uvs[2 * i + 1] - 1;
    uvClip[4 * i + 3] = 1;
  }
  const uvRaster = rasterize(uvClip, uvTriangles, { width: size, height: size });

  // 2. The fitted mesh in camera space, its normals, and a depth raster of the face region.
  const cameraPoints = transformPointsArray(fit.vertices, fit.rotation, fit.translationMm);
  const normals = computeVertexNormalsArray(cameraPoints, triangles);
  const visibility = new VisibilityTest(cameraPoints, triangles, fit, photo, config);
  const mirror = config.mirrorFill ? (mirrorVertices ?? findMirrorVertices(model.neutral, model.vertexCount)) : undefined;

  const image = createRgbaImage(size, size);
  const source = new Uint8Array(size * size);
  const colour = [0, 0, 0];
  const corners = [0, 0, 0];
  let inside = 0;
  for (let p = 0; p < size * size; p++) {
    const id = uvRaster.triangleIdPlusOne[p];
    if (id === 0) continue;
    inside++;
    const t = 3 * (id - 1);
    const b1 = uvRaster.barycentrics[2 * p],
      b2 = uvRaster.barycentrics[2 * p + 1];
    const weights = [1 - b1 - b2, b1, b2];
    corners[0] = triangles[t];
    corners[1] = triangles[t + 1];
    corners[2] = triangles[t + 2];
    if (visibility.sample(corners, weights, cameraPoints, normals, colour)) {
      source[p] = TexelSource.photo;
    } else if (mirror) {
      for (let k = 0; k < 3; k++) corners[k] = mirror[corners[k]];
      if (visibility.sample(corners, weights, cameraPoints, normals, colour)) source[p] = TexelSource.mirror;
    }
    if (source[p] !== TexelSource.empty) {
      image.data[4 * p] = colour[0];
      image.data[4 * p + 1] = colour[1];
      image.data[4 * p + 2] = colour[2];
      image.data[4 * p + 3] = 255;
    }
  }
  const counts = countSources(source);
  fillInsideTexels(image, source, uvRaster.triangleIdPlusOne, config.dilationPasses);
  const filled = inside - counts.photo - counts.mirror;
  const fraction = (n: number) => (inside === 0 ? 0 : n / inside);
  return { image, source, coverage: { photo: fraction(counts.photo), mirror: fraction(counts.mirror), filled: fraction(filled) } };
}

/**
 * For each vertex, the vertex nearest to its mirror image (x → −x) on the neutral mesh.
 * @param neutral [V*3] mm, model space with the face's symmetry plane at x = 0.
 * @returns [V] int32 vertex indices.
 */
export function findMirrorVertices(neutral: Float32Array, vertexCount: number): Int32Array {
  const cellMm = 4;
  const key = (x: number, y: number, z: number) => `${Math.floor(x / cellMm)},${Math.floor(y / cellMm)},${Math.floor(z / cellMm)}`;
  const grid = new Map<string, number[]>();
  for (let v = 0; v < vertexCount; v++) {
    const k = key(neutral[3 * v], neutral[3 * v + 1], neutral[3 * v + 2]);
    const cell = grid.get(k);
    if (cell) cell.push(v);
    else grid.set(k, [v]);
  }
  const mirror = new Int32Array(vertexCount);
  for (let v = 0; v < vertexCount; v++) {
    const x = -neutral[3 * v],
      y = neutral[3 * v + 1],
      z = neutral[3 * v + 2];
    let best = -1,
      bestDistance = Infinity;
    // Search growing shells of cells until one with a candidate closer than the shell's inner radius.
    for (let radius = 0; radius < 64 && (best < 0 || bestDistance > ((radius - 1) * cellMm) ** 2); radius++) {
      const cx = Math.floor(x / cellMm),
        cy = Math.floor(y / cellMm),
        cz = Math.floor(z / cellMm);
      for (let dx = -radius; dx <= radius; dx++) {
        for (let dy = -radius; dy <= radius; dy++) {
          for (let dz = -radius; dz <= radius; dz++) {
            if (Math.max(Math.abs(dx), Math.abs(dy), Math.abs(dz)) !== radius) continue;
            const cell = grid.get(`${cx + dx},${cy + dy},${cz + dz}`);
            if (!cell) continue;
            for (const u of cell) {
              const d = (neutral[3 * u] - x) ** 2 + (neutral[3 * u + 1] - y) ** 2 + (neutral[3 * u + 2] - z) ** 2;
              if (d < bestDistance) {
                bestDistance = d;
                best = u;
              }
            }
          }
        }
      }
    }
    mirror[v] = best < 0 ? v : best;
  }
  return mirror;
}

/** The model's triangles that lie within its vertex range, with their UV triangles (kept parallel). */
function faceTriangles(model: TextureModel): { triangles: Uint32Array; uvTriangles: Uint32Array } {
  const keep: number[] = [];
  for (let t = 0; t < model.triangles.length; t += 3) {
    if (model.triangles[t] < model.vertexCount && model.triangles[t + 1] < model.vertexCount && model.triangles[t + 2] < model.vertexCount) keep.push(t);
  }
  const triangles = new Uint32Array(keep.length * 3);
  const uvTriangles = new Uint32Array(keep.length * 3);
  keep.forEach((t, i) => {
    for (let k = 0; k < 3; k++) {
      triangles[3 * i + k] = model.triangles[t + k];
      uvTriangles[3 * i + k] = model.triangleUvIndices[t + k];
    }
  });
  return { triangles, uvTriangles };
}

/**
 * Samples the photo at a point of the fitted surface when the camera sees it: the point must face
 * the camera and lie no further than the tolerance behind the nearest surface in a depth raster
 * of the face region (a crop of the photo resampled to `visibilityRasterPx`, so huge photos stay cheap).
 */
class VisibilityTest {
  private readonly crop: PinholeCamera;
  private readonly surfaceDepthMm: Float32Array;
  private readonly camera: PinholeCamera;

  constructor(
    cameraPoints: Float32Array,
    triangles: Uint32Array,
    fit: TextureFit,
    private readonly photo: RgbaImage,
    private readonly config: FaceTextureConfig,
  ) {
    this.camera = { focalPx: fit.focalPx, principalPointPx: [fit.principalPointPx[0], fit.principalPointPx[1]], width: photo.width, height: photo.height };
    // Bounding box of the projected mesh, clamped to the photo, with a margin.
    let minU = Infinity,
      minV = Infinity,
      maxU = -Infinity,
      maxV = -Infinity;
    for (let i = 0; i < cameraPoints.length; i += 3) {
      const depth = -cameraPoints[i + 2];
      if (!(depth > 0)) continue;
      const u = this.camera.principalPointPx[0] + (fit.focalPx * cameraPoints[i]) / depth;
      const v = this.camera.principalPointPx[1] - (fit.focalPx * cameraPoints[i + 1]) / depth;
      minU = Math.min(minU, u);
      maxU = Math.max(maxU, u);
      minV = Math.min(minV, v);
      maxV = Math.max(maxV, v);
    }
    minU = Math.max(0, minU - 2);
    minV = Math.max(0, minV - 2);
    maxU = Math.min(photo.width, maxU + 2);
    maxV = Math.min(photo.height, maxV + 2);
    const spanPx = Math.max(1, maxU - minU, maxV - minV);
    const scale = Math.min(1, config.visibilityRasterPx / spanPx);
    const width = Math.max(1, Math.ceil((maxU - minU) * scale));
    const height = Math.max(1, Math.ceil((maxV - minV) * scale));
    this.crop = cropCamera(this.camera, [minU, minV], scale, width, height);
    const raster = rasterize(cameraToClipArray(cameraPoints, this.crop), triangles, { width, height });
    // z/w = a − b/w (cameraToClip's OpenGL depth) → w = b / (a − z/w): the surface depth in mm.
    const { near, far } = DEPTH_RANGE_MM;
    const a = (far + near) / (far - near),
      b = (2 * far * near) / (far - near);
    this.surfaceDepthMm = new Float32Array(width * height);
    for (let p = 0; p < width * height; p++) {
      const zw = raster.depth[p];
      this.surfaceDepthMm[p] = Number.isFinite(zw) ? b / (a - zw) : Infinity;
    }
  }

  /** Colour (0..255 into `out`) of the surface point Σ weights·vertex over `corners`, or false when hidden. */
  sample(corners: number[], weights: number[], cameraPoints: Float32Array, normals: Float32Array, out: number[]): boolean {
    let x = 0,
      y = 0,
      z = 0,
      nx = 0,
      ny = 0,
      nz = 0;
    for (let k = 0; k < 3; k++) {
      const v = 3 * corners[k],
        w = weights[k];
      x += w * cameraPoints[v];
      y += w * cameraPoints[v + 1];
      z += w * cameraPoints[v + 2];
      nx += w * normals[v];
      ny += w * normals[v + 1];
      nz += w * normals[v + 2];
    }
    const depth = -z;
    if (!(depth > 0)) return false;
    // Facing: cosine between the normal and the ray from the point to the eye (−p).
    const facing = -(nx * x + ny * y + nz * z) / ((Math.hypot(nx, ny, nz) || 1) * Math.hypot(x, y, z));
    if (!(facing > this.config.minFacingCosine)) return false;
    const crop = this.crop;
    const cu = crop.principalPointPx[0] + (crop.focalPx * x) / depth;
    const cv = crop.principalPointPx[1] - (crop.focalPx * y) / depth;
    const ci = Math.floor(cu),
      cj = Math.floor(cv);
    if (ci >= 0 && cj >= 0 && ci < crop.width && cj < crop.height) {
      if (depth > this.surfaceDepthMm[cj * crop.width + ci] + this.config.depthToleranceMm) return false;
    }
    const u = this.camera.principalPointPx[0] + (this.camera.focalPx * x) / depth;
    const v = this.camera.principalPointPx[1] - (this.camera.focalPx * y) / depth;
    if (u < 0 || v < 0 || u > this.photo.width || v > this.photo.height) return false;
    sampleBilinear(this.photo, u - 0.5, v - 0.5, out);
    return true;
  }
}

/** Bilinear RGB at continuous pixel coordinates (pixel centres at integers here), clamped at the edges. */
function sampleBilinear(image: RgbaImage, x: number, y: number, out: number[]): void {
  const { width, height, data } = image;
  const x0 = Math.max(0, Math.min(width - 1, Math.floor(x))),
    y0 = Math.max(0, Math.min(height - 1, Math.floor(y)));
  const x1 = Math.min(width - 1, x0 + 1),
    y1 = Math.min(height - 1, y0 + 1);
  const fx = Math.max(0, Math.min(1, x - x0)),
    fy = Math.max(0, Math.min(1, y - y0));
  for (let c = 0; c < 3; c++) {
    const top = data[4 * (y0 * width + x0) + c] * (1 - fx) + data[4 * (y0 * width + x1) + c] * fx;
    const bottom = data[4 * (y1 * width + x0) + c] * (1 - fx) + data[4 * (y1 * width + x1) + c] * fx;
    out[c] = top * (1 - fy) + bottom * fy;
  }
}

function countSources(source: Uint8Array): { photo: number; mirror: number } {
  let photo = 0,
    mirror = 0;
  for (const s of source) {
    if (s === TexelSource.photo) photo++;
    else if (s === TexelSource.mirror) mirror++;
  }
  return { photo, mirror };
}

/**
 * Dilate coloured texels into empty ones (mean of coloured 8-neighbours) for `passes` passes, then
 * give texels inside the UV layout still empty the mean colour of all coloured texels.
 */
function fillInsideTexels(image: RgbaImage, source: Uint8Array, insideIdPlusOne: Int32Array, passes: number): void {
  const { width, height, data } = image;
  for (let pass = 0; pass < passes; pass++) {
    const grown: number[] = [];
    for (let j = 0; j < height; j++) {
      for (let i = 0; i < width; i++) {
        const p = j * width + i;
        if (source[p] !== TexelSource.empty) continue;
        let r = 0,
          g = 0,
          b = 0,
          n = 0;
        for (let dj = -1; dj <= 1; dj++) {
          for (let di = -1; di <= 1; di++) {
            const x = i + di,
              y = j + dj;
            if (x < 0 || y < 0 || x >= width || y >= height) continue;
            const q = y * width + x;
            if (source[q] === TexelSource.empty) continue;
            r += data[4 * q];
            g += data[4 * q + 1];
            b += data[4 * q + 2];
            n++;
          }
        }
        if (n > 0) grown.push(p, r / n, g / n, b / n);
      }
    }
    if (grown.length === 0) break;
    for (let k = 0; k < grown.length; k += 4) {
      const p = grown[k];
      data[4 * p] = grown[k + 1];
      data[4 * p + 1] = grown[k + 2];
      data[4 * p + 2] = grown[k + 3];
      data[4 * p + 3] = 255;
      source[p] = TexelSource.filled;
    }
  }
  let r = 0,
    g = 0,
    b = 0,
    n = 0;
  for (let p = 0; p < source.length; p++) {
    if (source[p] === TexelSource.empty) continue;
    r += data[4 * p];
    g += data[4 * p + 1];
    b += data[4 * p + 2];
    n++;
  }
  const mean = n > 0 ? [r / n, g / n, b / n] : [128, 128, 128];
  for (let p = 0; p < source.length; p++) {
    if (source[p] !== TexelSource.empty || insideIdPlusOne[p] === 0) continue;
    data[4 * p] = mean[0];
    data[4 * p + 1] = mean[1];
    data[4 * p + 2] = mean[2];
    data[4 * p + 3] = 255;
    source[p] = TexelSource.filled;
  }
}
