import { invalidParameterError } from '../common/errors.ts';
import type { Rasterization } from './rasterize.ts';

/**
 * The part of a mesh that a rasterisation can see, as a small mesh of its own: what
 * differentiable shading needs when only a few of a large mesh's triangles cover pixels.
 */
export interface VisibleSubmesh {
  /** [S] int32: the mesh vertex behind each submesh vertex, ascending. */
  vertexIds: Int32Array;
  /**
   * [F'*3] uint32 submesh vertex indices (into `vertexIds`): first the `visibleTriangleCount`
   * triangles that cover some pixel, then (with `withNeighbourTriangles`) every other triangle
   * that shares a vertex with one of them, in mesh order within each group.
   */
  triangles: Uint32Array;
  visibleTriangleCount: number;
  /** The rasterisation with triangle ids renumbered into `triangles` (barycentrics and depth shared). */
  rasterization: Rasterization;
}

export interface VisibleSubmeshOptions {
  /**
   * Also take every triangle around each visible vertex (and that triangle's vertices), so that
   * area-weighted vertex normals computed on the submesh equal the full mesh's at the visible
   * vertices. Default true.
   */
  withNeighbourTriangles?: boolean;
}

/** Vertex → triangles adjacency (CSR), built once per triangle array. */
interface VertexTriangles {
  vertexCount: number;
  /** [V+1] offsets into `triangleIds`. */
  start: Int32Array;
  triangleIds: Int32Array;
}

const adjacencyCache = new WeakMap<Uint32Array, VertexTriangles>();

/**
 * Cut the visible part out of a mesh: the triangles that won some pixel of `rasterization`,
 * optionally their neighbours, and the vertices these use, renumbered. Plain JavaScript, no
 * tensors; O(pixels + visible neighbourhood) per call once the mesh's vertex → triangle table
 * (cached per `triangles` array) exists.
 *
 * Interpolating attributes of `vertexIds` over the submesh's rasterisation gives the same
 * image as interpolating the full mesh's attributes over the original one.
 *
 * @param rasterization `rasterize` output for `triangles`.
 * @param triangles [F*3] uint32 vertex indices of the rasterised mesh.
 * @param vertexCount V, the mesh's vertex count (every index in `triangles` is below it).
 */
export function visibleSubmesh(rasterization: Rasterization, triangles: Uint32Array, vertexCount: number, options: VisibleSubmeshOptions = {}): VisibleSubmesh {
  if (!(triangles instanceof Uint32Array) || triangles.length % 3 !== 0) {
    throw invalidParameterError('triangles', 'a Uint32Array of length 3·F', triangles?.length);
  }
  if (!Number.isInteger(vertexCount) || vertexCount <= 0) throw invalidParameterError('vertexCount', 'a positive integer', vertexCount);
  const triangleCount = triangles.length / 3;
  const { triangleIdPlusOne } = rasterization;

  // Triangles that won a pixel, flagged 1; their neighbours flagged 2.
  const flag = new Uint8Array(triangleCount);
  let visibleTriangleCount = 0;
  for (let p = 0; p < triangleIdPlusOne.length; p++) {
    const id = triangleIdPlusOne[p];
    if (id === 0) continue;
    if (id > triangleCount) throw invalidParameterError('rasterization.triangleIdPlusOne', `ids up to ${triangleCount}`, id);
    if (flag[id - 1] === 0) {
      flag[id - 1] = 1;
      visibleTriangleCount++;
    }
  }
  const visible = new Int32Array(visibleTriangleCount);
  for (let f = 0, k = 0; f < triangleCount; f++) if (flag[f] === 1) visible[k++] = f;
  let neighbourCount = 0;
  if (options.withNeighbourTriangles ?? true) {
    const adjacency = vertexTriangles(triangles, vertexCount);
    for (const f of visible) {
      for (let c = 0; c < 3; c++) {
        const v = triangles[3 * f + c];
        for (let i = adjacency.start[v]; i < adjacency.start[v + 1]; i++) {
          const g = adjacency.triangleIds[i];
          if (flag[g] === 0) {
            flag[g] = 2;
            neighbourCount++;
          }
        }
      }
    }
  }
  const neighbours = new Int32Array(neighbourCount);
  if (neighbourCount > 0) for (let f = 0, k = 0; f < triangleCount; f++) if (flag[f] === 2) neighbours[k++] = f;

  // Vertices used, ascending, and the renumbering.
  const used = new Uint8Array(vertexCount);
  let usedCount = 0;
  for (const list of [visible, neighbours]) {
    for (const f of list) {
      for (let c = 0; c < 3; c++) {
        const v = triangles[3 * f + c];
        if (v >= vertexCount) throw invalidParameterError(`triangles[${3 * f + c}]`, `a vertex index below ${vertexCount}`, v);
        if (!used[v]) {
          used[v] = 1;
          usedCount++;
        }
      }
    }
  }
  const vertexIds = new Int32Array(usedCount);
  const local = new Int32Array(vertexCount).fill(-1);
  for (let v = 0, k = 0; v < vertexCount; v++)
    if (used[v]) {
      local[v] = k;
      vertexIds[k++] = v;
    }

  const submeshTriangles = new Uint32Array(3 * (visibleTriangleCount + neighbourCount));
  const newIdPlusOne = new Int32Array(triangleCount); // mesh triangle → submesh id + 1 (visible ones only)
  let t = 0;
  for (const list of [visible, neighbours]) {
    for (const f of list) {
      for (let c = 0; c < 3; c++) submeshTriangles[3 * t + c] = local[triangles[3 * f + c]];
      if (list === visible) newIdPlusOne[f] = t + 1;
      t++;
    }
  }
  const renumbered = new Int32Array(triangleIdPlusOne.length);
  for (let p = 0; p < triangleIdPlusOne.length; p++) {
    const id = triangleIdPlusOne[p];
    if (id !== 0) renumbered[p] = newIdPlusOne[id - 1];
  }
  return {
    vertexIds,
    triangles: submeshTriangles,
    visibleTriangleCount,
    rasterization: { ...rasterization, triangleIdPlusOne: renumbered },
  };
}

function vertexTriangles(triangles: Uint32Array, vertexCount: number): VertexTriangles {
  const cached = adjacencyCache.get(triangles);
  if (cached && cached.vertexCount === vertexCount) return cached;
  const start = new Int32Array(vertexCount + 1);
  for (let i = 0; i < triangles.length; i++) {
    if (triangles[i] >= vertexCount) throw invalidParameterError(`triangles[${i}]`, `a vertex index below ${vertexCount}`, triangles[i]);
    start[triangles[i] + 1]++;
  }
  for (let v = 0; v < vertexCount; v++) start[v + 1] += start[v];
  const fill = start.slice(0, vertexCount);
  const triangleIds = new Int32Array(triangles.length);
  for (let i = 0; i < triangles.length; i++) triangleIds[fill[triangles[i]]++] = (i - (i % 3)) / 3;
  const adjacency = { vertexCount, start, triangleIds };
  adjacencyCache.set(triangles, adjacency);
  return adjacency;
}
