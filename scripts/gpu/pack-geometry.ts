// The mesh the GPU trainer renders: ICT-FaceKit's full face area (vertices 0–9408, first, in the
// model's order, so its triangles come first too), head and neck, mouth socket, eyeballs and the
// front teeth, with every identity and expression shape, per-triangle UVs and materials, per-vertex
// ambient occlusion, and skin albedo textures baked in UV space by the studio renderer's own code.
import { parseObjPositions, parseObjTopology } from '../../src/morphable/obj-text.ts';
import { identityFileName, ICT_FACEKIT } from '../../src/morphable/ict-face-kit.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';
import type { ModelTextReader } from '../../src/morphable/ict-face-kit.ts';
import { computeVertexNormalsArray } from '../../src/geometry/vertex-normals.ts';
import { computeAmbientOcclusion } from '../../src/shading/studio-shadow-map.ts';
import { computeFaceRegions } from '../../src/shading/studio-regions.ts';
import { skinAlbedo, type SkinTexture } from '../../src/shading/studio-texture.ts';
import { rasterize } from '../../src/raster/rasterize.ts';

/** Vertex ranges of the ICT-FaceKit full model (its README), [first, end). */
const RANGES = { faceAndHeadAndMouth: [0, 13294], eyeballs: [21451, 24591], teeth: [17039, 21451] } as const;
const IRIS_RANGES = [
  [22221, 23021],
  [23791, 24591],
] as const;
const EYEBALL_RANGES = [
  [21451, 23021],
  [23021, 24591],
] as const;
/** Teeth further back than this (model z, mm) never show between the lips. */
const FRONT_TEETH_MIN_Z_MM = 80;

/** Per-triangle material of the render mesh. */
export const MATERIALS = { skin: 0, mouthInterior: 1, eyeball: 2, teeth: 3 } as const;

export interface RenderMesh {
  /** Source vertex of each render vertex (render vertex v < 9409 is model vertex v). */
  sourceVertices: Int32Array;
  neutral: Float32Array; // [V*3] mm
  identityBasis: Float32Array; // [100*V*3]
  expressionBasis: Float32Array; // [E*V*3]
  triangles: Int32Array; // [F*3]
  faceTriangleCount: number;
  triangleUvs: Float32Array; // [F*3*2], OBJ convention (v up); (−1, −1) where untextured
  triangleMaterial: Uint8Array; // [F]
  /** [V] mm from the iris axis on the front of an eyeball; 99 elsewhere. */
  eyeRadiusMm: Float32Array;
  irisRadiusMm: number;
  ambientOcclusion: Float32Array; // [V] 0..1 on the neutral shape
}

/** Parse the full OBJ files (all 26,719 vertices) and cut the render mesh. */
export async function loadRenderMesh(
  readText: ModelTextReader,
  expressionNames: string[],
  onProgress: (done: number, total: number) => void,
): Promise<RenderMesh> {
  const neutralText = (await readText('generic_neutral_mesh'))!;
  const all = parseObjPositions(neutralText, ICT_FACEKIT.millimetresPerUnit);
  const topology = parseObjTopology(neutralText);
  const keep = new Int32Array(all.length / 3).fill(-1);
  const source: number[] = [];
  const take = (v: number) => {
    if (keep[v] < 0) {
      keep[v] = source.length;
      source.push(v);
    }
  };
  for (let v = RANGES.faceAndHeadAndMouth[0]; v < RANGES.faceAndHeadAndMouth[1]; v++) take(v);
  for (let v = RANGES.eyeballs[0]; v < RANGES.eyeballs[1]; v++) take(v);
  for (let v = RANGES.teeth[0]; v < RANGES.teeth[1]; v++) if (all[3 * v + 2] > FRONT_TEETH_MIN_Z_MM) take(v);
  const sourceVertices = Int32Array.from(source);
  const V = sourceVertices.length;
  const triangles: number[] = [],
    uvs: number[] = [],
    material: number[] = [];
  for (let t = 0; t < topology.triangles.length / 3; t++) {
    const corners = [0, 1, 2].map((k) => topology.triangles[3 * t + k]);
    if (corners.some((v) => keep[v] < 0)) continue;
    triangles.push(...corners.map((v) => keep[v]));
    const first = corners[0];
    const kind =
      first < 11248 ? MATERIALS.skin : first < 13294 ? MATERIALS.mouthInterior : first < 24591 && first >= 21451 ? MATERIALS.eyeball : MATERIALS.teeth;
    material.push(kind);
    for (let k = 0; k < 3; k++) {
      const uv = topology.triangleUvIndices[3 * t + k];
      if (kind === MATERIALS.skin) uvs.push(topology.uvs[2 * uv], topology.uvs[2 * uv + 1]);
      else uvs.push(-1, -1);
    }
  }
  const faceTriangleCount = topology.polygonFirstTriangle[ICT_FACEKIT.fullFacePolygonCount];
  const pick = (positions: Float32Array, target: Float32Array, offset: number) => {
    for (let i = 0; i < V; i++) for (let a = 0; a < 3; a++) target[offset + 3 * i + a] = positions[3 * sourceVertices[i] + a];
  };
  const neutral = new Float32Array(V * 3);
  pick(all, neutral, 0);
  const names = [...Array.from({ length: ICT_FACEKIT.identityCount }, (_, m) => identityFileName(m)), ...expressionNames];
  const bases = new Float32Array(names.length * V * 3);
  for (let i = 0; i < names.length; i++) {
    const positions = parseObjPositions((await readText(names[i]))!, ICT_FACEKIT.millimetresPerUnit);
    pick(positions, bases, i * V * 3);
    for (let j = 0; j < V * 3; j++) bases[i * V * 3 + j] -= neutral[j];
    onProgress(i + 1, names.length);
  }
  const triangleArray = Int32Array.from(triangles);
  const { eyeRadiusMm, irisRadiusMm } = eyeRadii(all, keep, V);
  const normals = computeVertexNormalsArray(neutral, Uint32Array.from(triangleArray));
  return {
    sourceVertices,
    neutral,
    identityBasis: bases.subarray(0, ICT_FACEKIT.identityCount * V * 3),
    expressionBasis: bases.subarray(ICT_FACEKIT.identityCount * V * 3),
    triangles: triangleArray,
    faceTriangleCount,
    triangleUvs: Float32Array.from(uvs),
    triangleMaterial: Uint8Array.from(material),
    eyeRadiusMm,
    irisRadiusMm,
    ambientOcclusion: computeAmbientOcclusion(neutral, normals, Uint32Array.from(triangleArray)),
  };
}

/** Distance of each eyeball vertex from its iris axis (eyeball centre → iris centroid), front half only. */
function eyeRadii(all: Float32Array, keep: Int32Array, V: number): { eyeRadiusMm: Float32Array; irisRadiusMm: number } {
  const eyeRadiusMm = new Float32Array(V).fill(99);
  const irisRadiiMm = [0, 0];
  EYEBALL_RANGES.forEach(([first, end], eye) => {
    const mean = (a: number, b: number) =>
      [0, 1, 2].map((k) => {
        let s = 0;
        for (let v = a; v < b; v++) s += all[3 * v + k];
        return s / (b - a);
      });
    const centre = mean(first, end);
    const iris = mean(IRIS_RANGES[eye][0], IRIS_RANGES[eye][1]);
    const axis = iris.map((c, k) => c - centre[k]);
    const length = Math.hypot(...axis);
    const unit = axis.map((c) => c / length);
    for (let v = first; v < end; v++) {
      const d = [0, 1, 2].map((k) => all[3 * v + k] - centre[k]);
      const along = d[0] * unit[0] + d[1] * unit[1] + d[2] * unit[2];
      if (along <= 0) continue;
      const radius = Math.hypot(d[0] - along * unit[0], d[1] - along * unit[1], d[2] - along * unit[2]);
      eyeRadiusMm[keep[v]] = radius;
      if (v >= IRIS_RANGES[eye][0] && v < IRIS_RANGES[eye][1]) irisRadiiMm[eye] = Math.max(irisRadiiMm[eye], radius);
    }
  });
  return { eyeRadiusMm, irisRadiusMm: (irisRadiiMm[0] + irisRadiiMm[1]) / 2 };
}

/** Texels of the skin texture: UV tiles 0 and 1 (face, head and neck) side by side, u ∈ [0, 2). */
export interface SkinTexelMap {
  widthPx: number;
  heightPx: number;
  /** [T*3] model-space neutral position (mm) under each texel; NaN where no skin triangle covers it. */
  positionMm: Float32Array;
  region: Uint8Array;
  lowerFaceWeight: Float32Array;
}

/** Where each texel of the skin texture lies on the neutral face (UV-space rasterisation of the skin triangles). */
export function skinTexelMap(mesh: RenderMesh, model: MorphableModel, tileSizePx: number): SkinTexelMap {
  const widthPx = 2 * tileSizePx,
    heightPx = tileSizePx;
  const skin: number[] = [];
  for (let t = 0; t < mesh.triangleMaterial.length; t++) if (mesh.triangleMaterial[t] === MATERIALS.skin) skin.push(t);
  // One clip-space point per triangle corner (UV seams make corners, not vertices, the unit).
  const clip = new Float32Array(skin.length * 3 * 4);
  skin.forEach((t, i) => {
    for (let k = 0; k < 3; k++) {
      const u = mesh.triangleUvs[6 * t + 2 * k],
        v = mesh.triangleUvs[6 * t + 2 * k + 1];
      clip.set([u - 1, 2 * v - 1, 0, 1], 4 * (3 * i + k)); // u ∈ [0, 2) → x ∈ [−1, 1); v up = row 0 at the top
    }
  });
  const raster = rasterize(
    clip,
    Uint32Array.from({ length: skin.length * 3 }, (_, i) => i),
    { width: widthPx, height: heightPx },
  );
  const regions = computeFaceRegions(model);
  const positionMm = new Float32Array(widthPx * heightPx * 3).fill(NaN);
  const region = new Uint8Array(widthPx * heightPx),
    lowerFaceWeight = new Float32Array(widthPx * heightPx);
  for (let p = 0; p < widthPx * heightPx; p++) {
    const id = raster.triangleIdPlusOne[p];
    if (id === 0) continue;
    const t = skin[id - 1];
    const b1 = raster.barycentrics[2 * p],
      b2 = raster.barycentrics[2 * p + 1],
      weights = [1 - b1 - b2, b1, b2];
    const corners = [0, 1, 2].map((k) => mesh.triangles[3 * t + k]);
    for (let a = 0; a < 3; a++) positionMm[3 * p + a] = corners.reduce((s, v, k) => s + weights[k] * mesh.neutral[3 * v + a], 0);
    const largest = weights.indexOf(Math.max(...weights));
    const inFace = (v: number) => v < model.vertexCount;
    region[p] = inFace(corners[largest]) ? regions.region[corners[largest]] : 0;
    lowerFaceWeight[p] = corners.reduce((s, v, k) => s + weights[k] * (inFace(v) ? regions.lowerFaceWeight[v] : 0), 0);
  }
  return { widthPx, heightPx, positionMm, region, lowerFaceWeight };
}

/**
 * One skin's albedo over the texel map as 8-bit sRGB RGB [T*3] (the studio's skinAlbedo, linear,
 * then the sRGB curve so dark skin keeps its precision). Empty texels take their nearest filled
 * neighbour's colour (a few passes), so bilinear lookups at UV seams do not pull in black.
 */
export function bakeSkinTexture(map: SkinTexelMap, skin: SkinTexture): Uint8Array {
  const { widthPx: W, heightPx: H } = map;
  const rgb = new Float32Array(W * H * 3).fill(NaN);
  const out = new Float64Array(3);
  for (let p = 0; p < W * H; p++) {
    const x = map.positionMm[3 * p];
    if (Number.isNaN(x)) continue;
    skinAlbedo(skin, x, map.positionMm[3 * p + 1], map.positionMm[3 * p + 2], map.region[p], map.lowerFaceWeight[p], out);
    rgb.set(out, 3 * p);
  }
  for (let pass = 0; pass < 8; pass++) {
    const previous = rgb.slice();
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const p = y * W + x;
        if (!Number.isNaN(previous[3 * p])) continue;
        for (const [dx, dy] of [
          [1, 0],
          [-1, 0],
          [0, 1],
          [0, -1],
        ]) {
          const nx = x + dx,
            ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= W || ny >= H) continue;
          const q = ny * W + nx;
          if (!Number.isNaN(previous[3 * q])) {
            rgb.set(previous.subarray(3 * q, 3 * q + 3), 3 * p);
            break;
          }
        }
      }
  }
  const bytes = new Uint8Array(W * H * 3);
  for (let i = 0; i < bytes.length; i++) {
    const v = Number.isNaN(rgb[i]) ? 0.3 : Math.min(1, Math.max(0, rgb[i]));
    bytes[i] = Math.round(255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055));
  }
  return bytes;
}
