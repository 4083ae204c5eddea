/**
 * Least-squares similarity / rigid alignment of corresponding 3D points (Umeyama 1991; the
 * rotation found through Horn's unit-quaternion form, which can never return a reflection).
 * Plain JS, float64.
 */

/** target ≈ scale · R · source + translation; R row-major [9]. */
export interface SimilarityTransform {
  scale: number;
  rotation: Float64Array;
  translation: Float64Array;
}

export interface SimilarityAlignmentOptions {
  /** Estimate a uniform scale (similarity) or keep scale 1 (rigid). Default true. */
  withScale?: boolean;
  /** [N] non-negative weight per correspondence (default all 1). */
  weights?: ArrayLike<number>;
}

export function identityTransform(): SimilarityTransform {
  return { scale: 1, rotation: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), translation: new Float64Array(3) };
}

/**
 * The similarity (or rigid) transform minimising Σ w_i |s R source_i + t − target_i|².
 * @param source [N*3] points. @param target [N*3] points, same order. N ≥ 3 non-collinear for a unique answer.
 */
export function estimateSimilarityTransform(
  source: ArrayLike<number>,
  target: ArrayLike<number>,
  options: SimilarityAlignmentOptions = {},
): SimilarityTransform {
  const n = Math.floor(source.length / 3);
  if (target.length !== source.length || n < 1)
    throw new RangeError(`source and target need the same number of points (got ${source.length / 3} and ${target.length / 3})`);
  const withScale = options.withScale ?? true;
  const weights = options.weights;
  let weightSum = 0;
  const sourceMean = [0, 0, 0],
    targetMean = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    weightSum += w;
    for (let axis = 0; axis < 3; axis++) {
      sourceMean[axis] += w * source[3 * i + axis];
      targetMean[axis] += w * target[3 * i + axis];
    }
  }
  if (!(weightSum > 0)) throw new RangeError('weights sum to zero');
  for (let axis = 0; axis < 3; axis++) {
    sourceMean[axis] /= weightSum;
    targetMean[axis] /= weightSum;
  }
  // Cross-covariance S = Σ w (x − x̄)(y − ȳ)ᵀ and source variance.
  const s = new Float64Array(9);
  let sourceVariance = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    if (w === 0) continue;
    const x0 = source[3 * i] - sourceMean[0],
      x1 = source[3 * i + 1] - sourceMean[1],
      x2 = source[3 * i + 2] - sourceMean[2];
    const y0 = target[3 * i] - targetMean[0],
      y1 = target[3 * i + 1] - targetMean[1],
      y2 = target[3 * i + 2] - targetMean[2];
    s[0] += w * x0 * y0;
    s[1] += w * x0 * y1;
    s[2] += w * x0 * y2;
    s[3] += w * x1 * y0;
    s[4] += w * x1 * y1;
    s[5] += w * x1 * y2;
    s[6] += w * x2 * y0;
    s[7] += w * x2 * y1;
    s[8] += w * x2 * y2;
    sourceVariance += w * (x0 * x0 + x1 * x1 + x2 * x2);
  }
  const [sxx, sxy, sxz, syx, syy, syz, szx, szy, szz] = s;
  // Horn's symmetric 4×4 matrix; its top eigenvector is the optimal rotation quaternion.
  const m = [
    [sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
    [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
    [szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy],
    [sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz],
  ];
  const [qw, qx, qy, qz] = topEigenvectorSymmetric4(m);
  const rotation = Float64Array.from([
    qw * qw + qx * qx - qy * qy - qz * qz,
    2 * (qx * qy - qw * qz),
    2 * (qx * qz + qw * qy),
    2 * (qx * qy + qw * qz),
    qw * qw - qx * qx + qy * qy - qz * qz,
    2 * (qy * qz - qw * qx),
    2 * (qx * qz - qw * qy),
    2 * (qy * qz + qw * qx),
    qw * qw - qx * qx - qy * qy + qz * qz,
  ]);
  let scale = 1;
  if (withScale && sourceVariance > 0) {
    // s = Σ w (y − ȳ)·R(x − x̄) / Σ w |x − x̄|² = trace(R Sᵀ…) written out.
    let dot = 0;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) dot += rotation[3 * r + c] * s[3 * c + r];
    scale = dot / sourceVariance;
  }
  const translation = new Float64Array(3);
  for (let r = 0; r < 3; r++) {
    translation[r] = targetMean[r] - scale * (rotation[3 * r] * sourceMean[0] + rotation[3 * r + 1] * sourceMean[1] + rotation[3 * r + 2] * sourceMean[2]);
  }
  return { scale, rotation, translation };
}

/** Apply `transform` to [N*3] points → new [N*3] float64 array. */
export function applySimilarityTransform(points: ArrayLike<number>, transform: SimilarityTransform): Float64Array {
  const n = Math.floor(points.length / 3);
  const out = new Float64Array(n * 3);
  const { scale, rotation: r, translation: t } = transform;
  for (let i = 0; i < n; i++) {
    const x = points[3 * i],
      y = points[3 * i + 1],
      z = points[3 * i + 2];
    out[3 * i] = scale * (r[0] * x + r[1] * y + r[2] * z) + t[0];
    out[3 * i + 1] = scale * (r[3] * x + r[4] * y + r[5] * z) + t[1];
    out[3 * i + 2] = scale * (r[6] * x + r[7] * y + r[8] * z) + t[2];
  }
  return out;
}

/** outer ∘ inner: first inner, then outer. */
export function composeSimilarityTransforms(outer: SimilarityTransform, inner: SimilarityTransform): SimilarityTransform {
  const rotation = new Float64Array(9);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++) {
      rotation[3 * r + c] =
        outer.rotation[3 * r] * inner.rotation[c] + outer.rotation[3 * r + 1] * inner.rotation[3 + c] + outer.rotation[3 * r + 2] * inner.rotation[6 + c];
    }
  const translation = applySimilarityTransform(inner.translation, outer);
  return { scale: outer.scale * inner.scale, rotation, translation };
}

/** The inverse transform: source ≈ (1/s) Rᵀ (target − t). */
export function invertSimilarityTransform(transform: SimilarityTransform): SimilarityTransform {
  const r = transform.rotation;
  const rotation = Float64Array.from([r[0], r[3], r[6], r[1], r[4], r[7], r[2], r[5], r[8]]);
  const scale = 1 / transform.scale;
  const t = transform.translation;
  const translation = new Float64Array(3);
  for (let row = 0; row < 3; row++) translation[row] = -scale * (rotation[3 * row] * t[0] + rotation[3 * row + 1] * t[1] + rotation[3 * row + 2] * t[2]);
  return { scale, rotation, translation };
}

/** Angle of a rotation matrix (row-major [9]) in degrees. */
export function rotationAngleDeg(rotation: ArrayLike<number>): number {
  const cosine = (rotation[0] + rotation[4] + rotation[8] - 1) / 2;
  return (Math.acos(Math.min(1, Math.max(-1, cosine))) * 180) / Math.PI;
}

/** Eigenvector of the largest eigenvalue of a symmetric 4×4 matrix (cyclic Jacobi rotations). */
function topEigenvectorSymmetric4(input: number[][]): [number, number, number, number] {
  const a = input.map((row) => row.slice());
  const v = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < 4; p++) for (let q = p + 1; q < 4; q++) off += a[p][q] * a[p][q];
    if (off < 1e-30 * (1 + a[0][0] ** 2 + a[1][1] ** 2 + a[2][2] ** 2 + a[3][3] ** 2)) break;
    for (let p = 0; p < 4; p++)
      for (let q = p + 1; q < 4; q++) {
        if (a[p][q] === 0) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          s = t * c;
        for (let k = 0; k < 4; k++) {
          const akp = a[k][p],
            akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < 4; k++) {
          const apk = a[p][k],
            aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 4; k++) {
          const vkp = v[k][p],
            vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
  }
  let best = 0;
  for (let i = 1; i < 4; i++) if (a[i][i] > a[best][best]) best = i;
  const q: [number, number, number, number] = [v[0][best], v[1][best], v[2][best], v[3][best]];
  const norm = Math.hypot(...q) || 1;
  return q.map((x) => x / norm) as [number, number, number, number];
}
