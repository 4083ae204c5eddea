import type { MorphableModel } from '../morphable/morphable-model.ts';
import { pointInPolygon } from './studio-post.ts';

/** Per-vertex material labels of the studio renderer. */
export interface FaceRegions {
  /** [V] 0 skin, 1 lips, 2 eyebrows. */
  region: Uint8Array;
  /** [V] 0..1, where stubble may grow (below the nose, above the neck, outside the lips). */
  lowerFaceWeight: Float32Array;
}

const cache = new WeakMap<MorphableModel, FaceRegions>();

/**
 * Label the neutral mesh's vertices from its 68 landmarks, seen frontally (x, y in model
 * space): lips inside the outer lip contour (48–59), brows within 4 mm of the brow polylines
 * (17–21, 22–26, drawn 2 mm above the landmarks), front-facing vertices only.
 */
export function computeFaceRegions(model: MorphableModel): FaceRegions {
  const cached = cache.get(model);
  if (cached) return cached;
  const v = model.neutral;
  const lm = (k: number) => {
    const i = model.landmarkVertexIndices[k];
    return [v[3 * i], v[3 * i + 1], v[3 * i + 2]];
  };
  const lips: number[] = [];
  let lipZ = 0;
  for (let k = 48; k < 60; k++) {
    const p = lm(k);
    lips.push(p[0], p[1]);
    lipZ += p[2] / 12;
  }
  const brows = [
    [17, 18, 19, 20, 21],
    [22, 23, 24, 25, 26],
  ].map((ids) => ids.map(lm));
  const browZ = brows.flat().reduce((s, p) => s + p[2], 0) / 10;
  const noseBottomY = lm(33)[1],
    chinY = lm(8)[1];
  const region = new Uint8Array(model.vertexCount);
  const lowerFaceWeight = new Float32Array(model.vertexCount);
  for (let i = 0; i < model.vertexCount; i++) {
    const x = v[3 * i],
      y = v[3 * i + 1],
      z = v[3 * i + 2];
    if (z > lipZ - 12 && pointInPolygon(lips, x, y)) {
      region[i] = 1;
      continue;
    }
    if (z > browZ - 15) {
      for (const brow of brows) {
        for (let s = 0; s + 1 < brow.length; s++) {
          const [ax, ay] = brow[s],
            [bx, by] = brow[s + 1];
          const dx = bx - ax,
            dy = by - ay;
          const t = Math.min(1, Math.max(0, ((x - ax) * dx + (y - 2 - ay) * dy) / (dx * dx + dy * dy)));
          if (Math.hypot(x - ax - t * dx, y - 2 - ay - t * dy) < 4) region[i] = 2;
        }
      }
    }
    if (region[i] === 0 && y < noseBottomY - 3 && y > chinY - 25 && z > 40) {
      lowerFaceWeight[i] = Math.min(1, (noseBottomY - 3 - y) / 10);
    }
  }
  const regions = { region, lowerFaceWeight };
  cache.set(model, regions);
  return regions;
}
