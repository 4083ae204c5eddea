/** Small meshes and cameras shared by the raster, shading and vertex-normal tests. */

export interface Mesh {
  positions: Float32Array;
  triangles: Uint32Array;
}

/** Unit icosphere (radius 1) with counter-clockwise, outward-facing triangles; 20·4^subdivisions faces. */
export function icosphere(subdivisions: number): Mesh {
  const t = (1 + Math.sqrt(5)) / 2;
  const vertices: number[][] = [
    [-1, t, 0],
    [1, t, 0],
    [-1, -t, 0],
    [1, -t, 0],
    [0, -1, t],
    [0, 1, t],
    [0, -1, -t],
    [0, 1, -t],
    [t, 0, -1],
    [t, 0, 1],
    [-t, 0, -1],
    [-t, 0, 1],
  ].map(normalise);
  let faces: number[][] = [
    [0, 11, 5],
    [0, 5, 1],
    [0, 1, 7],
    [0, 7, 10],
    [0, 10, 11],
    [1, 5, 9],
    [5, 11, 4],
    [11, 10, 2],
    [10, 7, 6],
    [7, 1, 8],
    [3, 9, 4],
    [3, 4, 2],
    [3, 2, 6],
    [3, 6, 8],
    [3, 8, 9],
    [4, 9, 5],
    [2, 4, 11],
    [6, 2, 10],
    [8, 6, 7],
    [9, 8, 1],
  ];
  for (let s = 0; s < subdivisions; s++) {
    const midpoints = new Map<string, number>();
    const midpoint = (a: number, b: number) => {
      const key = a < b ? `${a},${b}` : `${b},${a}`;
      let index = midpoints.get(key);
      if (index === undefined) {
        index = vertices.length;
        vertices.push(normalise(vertices[a].map((c, k) => c + vertices[b][k])));
        midpoints.set(key, index);
      }
      return index;
    };
    const next: number[][] = [];
    for (const [a, b, c] of faces) {
      const ab = midpoint(a, b),
        bc = midpoint(b, c),
        ca = midpoint(c, a);
      next.push([a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]);
    }
    faces = next;
  }
  // Orient every face outward (the seed list is outward, but be explicit).
  for (const f of faces) {
    const [a, b, c] = f.map((i) => vertices[i]);
    const n = cross(sub(b, a), sub(c, a));
    if (n[0] * a[0] + n[1] * a[1] + n[2] * a[2] < 0) {
      const tmp = f[1];
      f[1] = f[2];
      f[2] = tmp;
    }
  }
  return { positions: Float32Array.from(vertices.flat()), triangles: Uint32Array.from(faces.flat()) };
}

/**
 * Perspective projection of model points (camera at the origin looking down −z, so the model
 * must sit at negative z): clip = (f·x, f·y, a·z + b, −z) with NDC depth −1 at `near`, +1 at `far`.
 */
export function projectPerspective(positions: Float32Array, focalNdc: number, near = 1, far = 100): Float32Array {
  const count = positions.length / 3;
  const clip = new Float32Array(count * 4);
  const a = -(far + near) / (far - near),
    b = (-2 * far * near) / (far - near);
  for (let v = 0; v < count; v++) {
    const x = positions[3 * v],
      y = positions[3 * v + 1],
      z = positions[3 * v + 2];
    clip[4 * v] = focalNdc * x;
    clip[4 * v + 1] = focalNdc * y;
    clip[4 * v + 2] = a * z + b;
    clip[4 * v + 3] = -z;
  }
  return clip;
}

/** Translate a mesh's positions by (dx, dy, dz); returns a new array. */
export function translate(positions: Float32Array, dx: number, dy: number, dz: number): Float32Array {
  const out = new Float32Array(positions.length);
  for (let i = 0; i < positions.length; i += 3) {
    out[i] = positions[i] + dx;
    out[i + 1] = positions[i + 1] + dy;
    out[i + 2] = positions[i + 2] + dz;
  }
  return out;
}

export { seededRandom } from '../helpers/seeded-random.ts';

function normalise(v: number[]): number[] {
  const l = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / l, v[1] / l, v[2] / l];
}
function sub(a: number[], b: number[]): number[] {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}
function cross(a: number[], b: number[]): number[] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
