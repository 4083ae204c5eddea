import { rasterize } from '../raster/rasterize.ts';

/** A depth map of a mesh seen orthographically from a direction, and a visibility test against it. */
export interface ShadowMap {
  /** 0..1: how much of a camera-space point (mm) the direction reaches; `filterRadius` 1 = 3×3 percentage-closer filtering. */
  visibility(x: number, y: number, z: number, filterRadius?: number): number;
}

/**
 * Orthographic depth map of `cameraPoints` [V*3] (mm) / `triangles` [F*3] seen from the unit
 * direction `towards` (pointing from the mesh to the light), `size`×`size` texels framing the mesh.
 */
export function buildShadowMap(cameraPoints: Float32Array, triangles: Uint32Array, towards: readonly number[], size: number, biasMm: number): ShadowMap {
  const [lx, ly, lz] = towards;
  // u, v span the plane orthogonal to the light.
  const helper = Math.abs(ly) < 0.9 ? [0, 1, 0] : [1, 0, 0];
  let ux = helper[1] * lz - helper[2] * ly,
    uy = helper[2] * lx - helper[0] * lz,
    uz = helper[0] * ly - helper[1] * lx;
  const uLength = Math.hypot(ux, uy, uz);
  ux /= uLength;
  uy /= uLength;
  uz /= uLength;
  const vx = ly * uz - lz * uy,
    vy = lz * ux - lx * uz,
    vz = lx * uy - ly * ux;
  const n = cameraPoints.length / 3;
  const su = new Float64Array(n),
    sv = new Float64Array(n),
    sd = new Float64Array(n);
  let minU = Infinity,
    maxU = -Infinity,
    minV = Infinity,
    maxV = -Infinity,
    minD = Infinity,
    maxD = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = cameraPoints[3 * i],
      y = cameraPoints[3 * i + 1],
      z = cameraPoints[3 * i + 2];
    su[i] = x * ux + y * uy + z * uz;
    sv[i] = x * vx + y * vy + z * vz;
    sd[i] = -(x * lx + y * ly + z * lz);
    minU = Math.min(minU, su[i]);
    maxU = Math.max(maxU, su[i]);
    minV = Math.min(minV, sv[i]);
    maxV = Math.max(maxV, sv[i]);
    minD = Math.min(minD, sd[i]);
    maxD = Math.max(maxD, sd[i]);
  }
  const centreU = (minU + maxU) / 2,
    centreV = (minV + maxV) / 2;
  const half = (Math.max(maxU - minU, maxV - minV) / 2) * 1.05 + 1;
  const depthRange = Math.max(maxD - minD, 1);
  const clip = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    clip[4 * i] = (su[i] - centreU) / half;
    clip[4 * i + 1] = (sv[i] - centreV) / half;
    clip[4 * i + 2] = (2 * (sd[i] - minD)) / depthRange - 1;
    clip[4 * i + 3] = 1;
  }
  const map = rasterize(clip, triangles, { width: size, height: size });
  return {
    visibility(x: number, y: number, z: number, filterRadius = 1): number {
      const u = x * ux + y * uy + z * uz,
        v = x * vx + y * vy + z * vz,
        d = -(x * lx + y * ly + z * lz);
      const column = Math.round(((u - centreU) / half + 1) * 0.5 * size - 0.5);
      const row = Math.round((1 - (v - centreV) / half) * 0.5 * size - 0.5);
      let lit = 0,
        total = 0;
      for (let dy = -filterRadius; dy <= filterRadius; dy++)
        for (let dx = -filterRadius; dx <= filterRadius; dx++) {
          const c = column + dx,
            r = row + dy;
          total++;
          if (c < 0 || r < 0 || c >= size || r >= size) {
            lit++;
            continue;
          }
          const stored = map.depth[r * size + c];
          const storedMm = stored === Infinity ? Infinity : minD + ((stored + 1) / 2) * depthRange;
          if (d <= storedMm + biasMm) lit++;
        }
      return lit / total;
    },
  };
}

/** Settings of the per-vertex ambient occlusion. */
export interface AmbientOcclusionConfig {
  /** Directions over the sphere (Fibonacci spiral); only those in a vertex's hemisphere count for it. */
  directionCount: number;
  /** Side of each direction's depth map (texels). */
  mapSizePx: number;
  biasMm: number;
}

export const DEFAULT_AMBIENT_OCCLUSION_CONFIG: Readonly<AmbientOcclusionConfig> = Object.freeze({ directionCount: 32, mapSizePx: 160, biasMm: 2.5 });

/**
 * Per-vertex ambient occlusion [V] in 0..1 (1 = open sky): the cosine-weighted fraction of
 * directions in the hemisphere around each vertex normal along which the mesh does not block
 * the view, tested against one orthographic depth map per direction. Eye sockets, the sides
 * of the nose, nostrils, the lip line and the mouth corners come out darker.
 * `cameraPoints`, `normals` [V*3] (normals unit length), `triangles` [F*3].
 */
export function computeAmbientOcclusion(
  cameraPoints: Float32Array,
  normals: Float32Array,
  triangles: Uint32Array,
  configOverrides: Partial<AmbientOcclusionConfig> = {},
): Float32Array {
  const config = { ...DEFAULT_AMBIENT_OCCLUSION_CONFIG, ...configOverrides };
  const n = cameraPoints.length / 3;
  const open = new Float64Array(n),
    weights = new Float64Array(n);
  const golden = Math.PI * (3 - Math.sqrt(5));
  for (let k = 0; k < config.directionCount; k++) {
    const y = 1 - (2 * (k + 0.5)) / config.directionCount,
      radius = Math.sqrt(1 - y * y);
    const direction = [radius * Math.cos(golden * k), y, radius * Math.sin(golden * k)];
    const map = buildShadowMap(cameraPoints, triangles, direction, config.mapSizePx, config.biasMm);
    for (let i = 0; i < n; i++) {
      const cosine = normals[3 * i] * direction[0] + normals[3 * i + 1] * direction[1] + normals[3 * i + 2] * direction[2];
      if (cosine <= 0) continue;
      weights[i] += cosine;
      // Start the ray a little off the surface so the vertex does not shadow itself.
      open[i] +=
        cosine *
        map.visibility(cameraPoints[3 * i] + normals[3 * i], cameraPoints[3 * i + 1] + normals[3 * i + 1], cameraPoints[3 * i + 2] + normals[3 * i + 2], 0);
    }
  }
  return Float32Array.from(open, (o, i) => (weights[i] > 0 ? o / weights[i] : 1));
}
