import { closestPointOnTriangle } from './point-triangle-distance.ts';

/** Result of a closest-point query; reuse one object across queries to avoid allocation. */
export interface ClosestPointOnMesh {
  /** Euclidean distance, same unit as the mesh. */
  distance: number;
  /** Index of the triangle the closest point lies on (−1 for an empty mesh). */
  triangle: number;
  /** [3] the closest point. */
  point: Float64Array;
}

export interface TriangleMeshIndexConfig {
  /** Target mean number of triangles per grid cell (bigger: fewer cells, more tests per cell). */
  trianglesPerCell: number;
}

export const DEFAULT_TRIANGLE_MESH_INDEX_CONFIG: Readonly<TriangleMeshIndexConfig> = Object.freeze({ trianglesPerCell: 2 });

/**
 * Closest points on a triangle mesh through a uniform grid of cubic cells: each triangle is
 * listed in every cell its bounding box touches; a query visits rings of cells around the
 * point until no unvisited cell can hold anything nearer than the best so far. Exact (the
 * same answer as testing every triangle). Plain JS.
 */
export class TriangleMeshIndex {
  readonly triangleCount: number;
  private readonly vertices: Float64Array;
  private readonly triangles: Uint32Array;
  private readonly origin = new Float64Array(3);
  private readonly gridMax = new Float64Array(3);
  private readonly cellSize: number;
  private readonly dims: [number, number, number];
  private readonly cellStart: Int32Array;
  private readonly cellTriangles: Int32Array;
  private readonly visitedStamp: Int32Array;
  private stamp = 0;
  private readonly a = new Float64Array(3);
  private readonly b = new Float64Array(3);
  private readonly c = new Float64Array(3);
  private readonly candidate = new Float64Array(3);

  /**
   * @param vertices [V*3] positions (any unit; results are in the same unit).
   * @param triangles [F*3] vertex indices.
   */
  constructor(vertices: ArrayLike<number>, triangles: Uint32Array, config: Partial<TriangleMeshIndexConfig> = {}) {
    const { trianglesPerCell } = { ...DEFAULT_TRIANGLE_MESH_INDEX_CONFIG, ...config };
    if (!(trianglesPerCell > 0)) throw new RangeError(`trianglesPerCell must be positive, got ${trianglesPerCell}`);
    if (triangles.length % 3 !== 0) throw new RangeError(`triangles length ${triangles.length} is not a multiple of 3`);
    this.vertices = Float64Array.from(vertices);
    this.triangles = triangles;
    const triangleCount = triangles.length / 3;
    this.triangleCount = triangleCount;
    this.visitedStamp = new Int32Array(triangleCount);
    const lo = [Infinity, Infinity, Infinity],
      hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < triangles.length; i++) {
      const v = triangles[i] * 3;
      for (let axis = 0; axis < 3; axis++) {
        lo[axis] = Math.min(lo[axis], this.vertices[v + axis]);
        hi[axis] = Math.max(hi[axis], this.vertices[v + axis]);
      }
    }
    if (triangleCount === 0) {
      lo.fill(0);
      hi.fill(0);
    }
    const extent = [0, 1, 2].map((axis) => Math.max(hi[axis] - lo[axis], 1e-9));
    const volume = extent[0] * extent[1] * extent[2];
    const cellTarget = Math.max(1, triangleCount / trianglesPerCell);
    // Cubic cells, at least one along each axis; a flat mesh is handled by the max with the 2D estimate.
    const size3d = Math.cbrt(volume / cellTarget);
    const sorted = [...extent].sort((x, y) => y - x);
    const size2d = Math.sqrt((sorted[0] * sorted[1]) / cellTarget);
    this.cellSize = Math.max(size3d, size2d * 0.5, 1e-9);
    this.dims = [0, 1, 2].map((axis) => Math.min(512, Math.max(1, Math.ceil(extent[axis] / this.cellSize)))) as [number, number, number];
    for (let axis = 0; axis < 3; axis++) {
      this.origin[axis] = lo[axis];
      this.gridMax[axis] = lo[axis] + Math.max(extent[axis], this.dims[axis] * this.cellSize);
    }
    // Two passes (count, then fill) into compressed rows.
    const cellCount = this.dims[0] * this.dims[1] * this.dims[2];
    const counts = new Int32Array(cellCount + 1);
    const range = new Int32Array(6);
    for (let t = 0; t < triangleCount; t++) {
      this.triangleCellRange(t, range);
      for (let k = range[2]; k <= range[5]; k++)
        for (let j = range[1]; j <= range[4]; j++) for (let i = range[0]; i <= range[3]; i++) counts[this.cellIndex(i, j, k) + 1]++;
    }
    for (let c = 0; c < cellCount; c++) counts[c + 1] += counts[c];
    this.cellStart = counts;
    this.cellTriangles = new Int32Array(counts[cellCount]);
    const fill = counts.slice(0, cellCount);
    for (let t = 0; t < triangleCount; t++) {
      this.triangleCellRange(t, range);
      for (let k = range[2]; k <= range[5]; k++)
        for (let j = range[1]; j <= range[4]; j++) for (let i = range[0]; i <= range[3]; i++) this.cellTriangles[fill[this.cellIndex(i, j, k)]++] = t;
    }
  }

  /** A reusable result object for {@link closestPoint}. */
  static createResult(): ClosestPointOnMesh {
    return { distance: Infinity, triangle: -1, point: new Float64Array(3) };
  }

  /** Closest point of the mesh to (x, y, z); fills and returns `result`. */
  closestPoint(x: number, y: number, z: number, result: ClosestPointOnMesh = TriangleMeshIndex.createResult()): ClosestPointOnMesh {
    result.distance = Infinity;
    result.triangle = -1;
    if (this.triangleCount === 0) return result;
    this.stamp++;
    if (this.stamp === 0x7fffffff) {
      this.visitedStamp.fill(0);
      this.stamp = 1;
    }
    // q: the query clamped into the grid box; for any x in the box |p−x|² ≥ |p−q|² + |q−x|².
    const p = [x, y, z];
    const q = [0, 0, 0];
    const cell = [0, 0, 0];
    let outsideSquared = 0;
    for (let axis = 0; axis < 3; axis++) {
      q[axis] = Math.min(this.gridMax[axis], Math.max(this.origin[axis], p[axis]));
      outsideSquared += (p[axis] - q[axis]) ** 2;
      cell[axis] = Math.min(this.dims[axis] - 1, Math.max(0, Math.floor((q[axis] - this.origin[axis]) / this.cellSize)));
    }
    let bestSquared = Infinity;
    const maxRing = Math.max(this.dims[0], this.dims[1], this.dims[2]);
    for (let ring = 0; ring <= maxRing; ring++) {
      bestSquared = this.visitRing(cell, ring, x, y, z, bestSquared, result);
      // Nearest possible point outside the visited block of cells.
      let margin = Infinity;
      for (let axis = 0; axis < 3; axis++) {
        const low = cell[axis] - ring,
          high = cell[axis] + ring;
        if (low > 0) margin = Math.min(margin, q[axis] - (this.origin[axis] + low * this.cellSize));
        if (high < this.dims[axis] - 1) margin = Math.min(margin, this.origin[axis] + (high + 1) * this.cellSize - q[axis]);
      }
      if (margin === Infinity) break; // every cell visited
      if (outsideSquared + margin * margin >= bestSquared) break;
    }
    result.distance = Math.sqrt(bestSquared);
    return result;
  }

  /**
   * Distance of every point [N*3] to the mesh → [N]; optionally the closest points [N*3] and
   * triangle ids [N].
   */
  distancesFrom(points: ArrayLike<number>, closestPoints?: Float64Array, triangleIds?: Int32Array): Float64Array {
    const n = Math.floor(points.length / 3);
    const out = new Float64Array(n);
    const result = TriangleMeshIndex.createResult();
    for (let i = 0; i < n; i++) {
      this.closestPoint(points[3 * i], points[3 * i + 1], points[3 * i + 2], result);
      out[i] = result.distance;
      if (closestPoints) closestPoints.set(result.point, 3 * i);
      if (triangleIds) triangleIds[i] = result.triangle;
    }
    return out;
  }

  private visitRing(cell: number[], ring: number, x: number, y: number, z: number, bestSquared: number, result: ClosestPointOnMesh): number {
    const [ci, cj, ck] = cell;
    const [ni, nj, nk] = this.dims;
    for (let k = Math.max(0, ck - ring); k <= Math.min(nk - 1, ck + ring); k++) {
      for (let j = Math.max(0, cj - ring); j <= Math.min(nj - 1, cj + ring); j++) {
        const onShellKJ = Math.abs(k - ck) === ring || Math.abs(j - cj) === ring;
        for (let i = Math.max(0, ci - ring); i <= Math.min(ni - 1, ci + ring); i++) {
          if (!onShellKJ && Math.abs(i - ci) !== ring) {
            i = ci + ring - 1; // skip the interior, already visited
            continue;
          }
          const c = this.cellIndex(i, j, k);
          for (let s = this.cellStart[c]; s < this.cellStart[c + 1]; s++) {
            const t = this.cellTriangles[s];
            if (this.visitedStamp[t] === this.stamp) continue;
            this.visitedStamp[t] = this.stamp;
            const d = this.testTriangle(t, x, y, z);
            if (d < bestSquared) {
              bestSquared = d;
              result.triangle = t;
              result.point.set(this.candidate);
            }
          }
        }
      }
    }
    return bestSquared;
  }

  private testTriangle(t: number, x: number, y: number, z: number): number {
    const v = this.vertices,
      tri = this.triangles;
    const ia = tri[3 * t] * 3,
      ib = tri[3 * t + 1] * 3,
      ic = tri[3 * t + 2] * 3;
    this.a[0] = v[ia];
    this.a[1] = v[ia + 1];
    this.a[2] = v[ia + 2];
    this.b[0] = v[ib];
    this.b[1] = v[ib + 1];
    this.b[2] = v[ib + 2];
    this.c[0] = v[ic];
    this.c[1] = v[ic + 1];
    this.c[2] = v[ic + 2];
    return closestPointOnTriangle(x, y, z, this.a, this.b, this.c, this.candidate);
  }

  private cellIndex(i: number, j: number, k: number): number {
    return (k * this.dims[1] + j) * this.dims[0] + i;
  }

  private triangleCellRange(t: number, out: Int32Array): void {
    for (let axis = 0; axis < 3; axis++) {
      let lo = Infinity,
        hi = -Infinity;
      for (let corner = 0; corner < 3; corner++) {
        const value = this.vertices[this.triangles[3 * t + corner] * 3 + axis];
        lo = Math.min(lo, value);
        hi = Math.max(hi, value);
      }
      const last = this.dims[axis] - 1;
      out[axis] = Math.min(last, Math.max(0, Math.floor((lo - this.origin[axis]) / this.cellSize)));
      out[axis + 3] = Math.min(last, Math.max(0, Math.floor((hi - this.origin[axis]) / this.cellSize)));
    }
  }
}
