import type { RgbaImage } from '../common/image.ts';
import { createRgbaImage, downscaleToMaxSide } from '../common/image.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { trianglesWithinVertexRange } from '../morphable/morphable-model.ts';
import { cameraToClipArray, transformPointsArray } from '../geometry/camera.ts';
import { computeVertexNormalsArray } from '../geometry/vertex-normals.ts';
import { rasterize } from '../raster/rasterize.ts';
import type { FaceFit } from './fit-face.ts';

export interface OverlayOptions {
  /** Longer side of the overlay image; larger photos are downscaled first. Default 2048. */
  maxSidePx?: number;
  /** Opacity of the shaded mesh over the photo, 0..1. Default 0.7. */
  opacity?: number;
  /** Draw detected (green) and projected (red) landmarks. Default true. */
  drawLandmarks?: boolean;
}

/** A pale blue clay: clearly a render, never mistaken for skin. */
const CLAY_COLOUR = [0.78, 0.88, 1.0];

type OverlayFace = Pick<FaceFit, 'vertices' | 'rotation' | 'translationMm' | 'focalPx' | 'principalPointPx' | 'landmarks2d'> & {
  detectedLandmarks2d?: Float32Array;
};

/**
 * The photo with each fitted face drawn over it as a grey, lit surface (plain JS, no tensors):
 * what a person looks at to judge a fit.
 */
export function renderOverlay(image: RgbaImage, faces: OverlayFace[], model: MorphableModel, options: OverlayOptions = {}): RgbaImage {
  const { image: base, scale } = downscaleToMaxSide(image, options.maxSidePx ?? 2048);
  const out = createRgbaImage(base.width, base.height);
  out.data.set(base.data);
  const opacity = options.opacity ?? 0.7;
  const triangles = trianglesWithinVertexRange(model.triangles, model.vertexCount);
  // Light from the upper left, in front of the face (camera space).
  const light = normalise([-0.4, 0.5, 0.75]);
  for (const face of faces) {
    const cameraPoints = transformPointsArray(face.vertices, face.rotation, face.translationMm);
    const normals = computeVertexNormalsArray(cameraPoints, triangles);
    const clip = cameraToClipArray(cameraPoints, {
      focalPx: face.focalPx * scale,
      principalPointPx: [face.principalPointPx[0] * scale, face.principalPointPx[1] * scale],
      width: base.width,
      height: base.height,
    });
    const raster = rasterize(clip, triangles, base, { cullBackFaces: true });
    for (let p = 0; p < base.width * base.height; p++) {
      const id = raster.triangleIdPlusOne[p];
      if (id === 0) continue;
      const t = 3 * (id - 1);
      const b1 = raster.barycentrics[2 * p],
        b2 = raster.barycentrics[2 * p + 1],
        b0 = 1 - b1 - b2;
      let nx = 0,
        ny = 0,
        nz = 0;
      for (const [corner, weight] of [
        [0, b0],
        [1, b1],
        [2, b2],
      ] as const) {
        const v = 3 * triangles[t + corner];
        nx += weight * normals[v];
        ny += weight * normals[v + 1];
        nz += weight * normals[v + 2];
      }
      const length = Math.hypot(nx, ny, nz) || 1;
      const diffuse = Math.max(0, (nx * light[0] + ny * light[1] + nz * light[2]) / length);
      const shade = 255 * (0.2 + 0.8 * diffuse);
      for (let c = 0; c < 3; c++) {
        const i = 4 * p + c;
        out.data[i] = (1 - opacity) * out.data[i] + opacity * shade * CLAY_COLOUR[c];
      }
    }
    if (options.drawLandmarks ?? true) {
      if (face.detectedLandmarks2d) drawPoints(out, face.detectedLandmarks2d, scale, [40, 220, 60]);
      drawPoints(out, face.landmarks2d, scale, [235, 40, 40]);
    }
  }
  return out;
}

function drawPoints(image: RgbaImage, points: Float32Array, scale: number, colour: [number, number, number]): void {
  const radius = Math.max(1, Math.round(Math.max(image.width, image.height) / 400));
  for (let k = 0; k < points.length / 2; k++) {
    const cx = Math.floor(points[2 * k] * scale),
      cy = Math.floor(points[2 * k + 1] * scale);
    for (let dy = -radius; dy <= radius; dy++) {
      for (let dx = -radius; dx <= radius; dx++) {
        const x = cx + dx,
          y = cy + dy;
        if (x < 0 || y < 0 || x >= image.width || y >= image.height || dx * dx + dy * dy > radius * radius) continue;
        const i = 4 * (y * image.width + x);
        image.data[i] = colour[0];
        image.data[i + 1] = colour[1];
        image.data[i + 2] = colour[2];
        image.data[i + 3] = 255;
      }
    }
  }
}

function normalise(v: [number, number, number]): [number, number, number] {
  const length = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / length, v[1] / length, v[2] / length];
}
