/**
 * Closest point on a triangle to a point (all seven Voronoi regions: three vertices,
 * three edges, the face). Plain JS, float64.
 */

/**
 * Closest point of triangle (a, b, c) to p; writes it into `out` ([3]) and returns the
 * squared distance. All arguments are xyz triples in the same space (any unit).
 */
export function closestPointOnTriangle(
  px: number,
  py: number,
  pz: number,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  c: ArrayLike<number>,
  out: Float64Array | number[],
): number {
  const abx = b[0] - a[0],
    aby = b[1] - a[1],
    abz = b[2] - a[2];
  const acx = c[0] - a[0],
    acy = c[1] - a[1],
    acz = c[2] - a[2];
  const apx = px - a[0],
    apy = py - a[1],
    apz = pz - a[2];
  const d1 = abx * apx + aby * apy + abz * apz;
  const d2 = acx * apx + acy * apy + acz * apz;
  let x: number, y: number, z: number;
  if (d1 <= 0 && d2 <= 0) {
    x = a[0];
    y = a[1];
    z = a[2];
  } else {
    const bpx = px - b[0],
      bpy = py - b[1],
      bpz = pz - b[2];
    const d3 = abx * bpx + aby * bpy + abz * bpz;
    const d4 = acx * bpx + acy * bpy + acz * bpz;
    const cpx = px - c[0],
      cpy = py - c[1],
      cpz = pz - c[2];
    const d5 = abx * cpx + aby * cpy + abz * cpz;
    const d6 = acx * cpx + acy * cpy + acz * cpz;
    const vc = d1 * d4 - d3 * d2;
    const vb = d5 * d2 - d1 * d6;
    const va = d3 * d6 - d5 * d4;
    if (d3 >= 0 && d4 <= d3) {
      x = b[0];
      y = b[1];
      z = b[2];
    } else if (d6 >= 0 && d5 <= d6) {
      x = c[0];
      y = c[1];
      z = c[2];
    } else if (vc <= 0 && d1 >= 0 && d3 <= 0) {
      const v = d1 / (d1 - d3);
      x = a[0] + v * abx;
      y = a[1] + v * aby;
      z = a[2] + v * abz;
    } else if (vb <= 0 && d2 >= 0 && d6 <= 0) {
      const w = d2 / (d2 - d6);
      x = a[0] + w * acx;
      y = a[1] + w * acy;
      z = a[2] + w * acz;
    } else if (va <= 0 && d4 - d3 >= 0 && d5 - d6 >= 0) {
      const w = (d4 - d3) / (d4 - d3 + (d5 - d6));
      x = b[0] + w * (c[0] - b[0]);
      y = b[1] + w * (c[1] - b[1]);
      z = b[2] + w * (c[2] - b[2]);
    } else {
      const sum = va + vb + vc;
      if (!(sum > 0)) return closestOnDegenerateTriangle(px, py, pz, a, b, c, out);
      else {
        const v = vb / sum,
          w = vc / sum;
        x = a[0] + abx * v + acx * w;
        y = a[1] + aby * v + acy * w;
        z = a[2] + abz * v + acz * w;
      }
    }
  }
  out[0] = x;
  out[1] = y;
  out[2] = z;
  const dx = px - x,
    dy = py - y,
    dz = pz - z;
  return dx * dx + dy * dy + dz * dz;
}

/** A zero-area triangle is its three edges: the closest of the three segments' closest points. */
function closestOnDegenerateTriangle(
  px: number,
  py: number,
  pz: number,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  c: ArrayLike<number>,
  out: Float64Array | number[],
): number {
  let best = Infinity;
  for (const [s, e] of [
    [a, b],
    [b, c],
    [c, a],
  ] as const) {
    const ex = e[0] - s[0],
      ey = e[1] - s[1],
      ez = e[2] - s[2];
    const lengthSquared = ex * ex + ey * ey + ez * ez;
    const t = lengthSquared > 0 ? Math.min(1, Math.max(0, ((px - s[0]) * ex + (py - s[1]) * ey + (pz - s[2]) * ez) / lengthSquared)) : 0;
    const x = s[0] + t * ex,
      y = s[1] + t * ey,
      z = s[2] + t * ez;
    const d = (px - x) ** 2 + (py - y) ** 2 + (pz - z) ** 2;
    if (d < best) {
      best = d;
      out[0] = x;
      out[1] = y;
      out[2] = z;
    }
  }
  return best;
}
