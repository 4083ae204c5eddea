import type { MorphableModel } from '../morphable/morphable-model.ts';
import { quantile } from './error-statistics.ts';

/**
 * Pearson correlation of two equally long samples; 0 when either is constant (a method that
 * always returns the same coefficient tells nothing about the truth), NaN with fewer than 2.
 */
export function pearsonCorrelation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new RangeError(`samples differ in length: ${n} and ${b.length}`);
  if (n < 2) return NaN;
  let meanA = 0,
    meanB = 0;
  for (let i = 0; i < n; i++) {
    meanA += a[i] / n;
    meanB += b[i] / n;
  }
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - meanA,
      db = b[i] - meanB;
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/**
 * For each of the K identity modes, the correlation across images between fitted and true
 * coefficients (`fitted[i]`, `truth[i]`: image i's K coefficients). [K]; NaN with fewer than 2 images.
 */
export function perModeCorrelation(fitted: ArrayLike<number>[], truth: ArrayLike<number>[]): Float64Array {
  if (fitted.length !== truth.length) throw new RangeError(`${fitted.length} fitted and ${truth.length} true coefficient vectors`);
  const modes = truth[0]?.length ?? 0;
  const out = new Float64Array(modes);
  for (let k = 0; k < modes; k++)
    out[k] = pearsonCorrelation(
      fitted.map((f) => f[k]),
      truth.map((t) => t[k]),
    );
  return out;
}

/**
 * Each identity mode's squared geometric effect: Σ of its basis entries² over the first
 * `vertexCount` vertices (mm² per unit coefficient²). With independent N(0, 1) coefficient errors
 * e_k, Σ_k e_k² · effect_k / vertexCount is the mean squared vertex error.
 */
export function identityModeSquaredEffects(model: MorphableModel, vertexCount = model.vertexCount): Float64Array {
  const stride = model.vertexCount * 3,
    n = Math.min(vertexCount, model.vertexCount) * 3;
  return Float64Array.from({ length: model.identityCount }, (_, k) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += model.identityBasis[k * stride + i] ** 2;
    return sum;
  });
}

/**
 * Identity modes ordered by geometric effect, largest first: the norm of the mode's basis over
 * the first `vertexCount` vertices (mm per unit coefficient) times its prior std. ICT-FaceKit's
 * identity coefficients are N(0, 1) (morphable-model.ts), so the std is 1 and the norm decides.
 */
export function modesByGeometricEffect(model: MorphableModel, vertexCount = model.vertexCount): number[] {
  const effects = identityModeSquaredEffects(model, vertexCount);
  return Array.from(effects.keys()).sort((a, b) => effects[b] - effects[a]);
}

/** Mean of per-mode correlations over all modes, and over the modes in `topModes`. */
export function identityCorrelationSummary(perMode: Float64Array, topModes: number[]): { allModes: number; topModes: number } {
  const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
  return { allModes: mean(Array.from(perMode)), topModes: mean(topModes.map((k) => perMode[k])) };
}

/** |fitted − true| / true for each image, and their median (a fraction; NaN when empty). */
export function medianRelativeError(fitted: number[], truth: number[]): number {
  if (fitted.length !== truth.length) throw new RangeError(`${fitted.length} fitted and ${truth.length} true values`);
  if (fitted.length === 0) return NaN;
  const errors = Float64Array.from(fitted, (f, i) => Math.abs(f - truth[i]) / truth[i]).sort();
  return quantile(errors, 0.5);
}

/**
 * Whether estimates tell people apart, from photos labelled by person and a distance between
 * any two: the mean same-person distance over the mean other-person distance (1 = they say
 * nothing about who it is), how often a photo's nearest other photo is its person's, and that
 * rate by chance (a random other photo).
 */
export function samePersonStatistics(
  persons: readonly (string | number)[],
  distance: (i: number, j: number) => number,
): { samePersonMean: number; otherPersonMean: number; ratio: number; nearestIsSamePerson: number; chance: number } {
  const n = persons.length;
  const counts = new Map<string | number, number>();
  for (const p of persons) counts.set(p, (counts.get(p) ?? 0) + 1);
  const table = new Float64Array(n * n);
  let same = 0,
    sameCount = 0,
    other = 0,
    otherCount = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const d = distance(i, j);
      table[i * n + j] = table[j * n + i] = d;
      if (persons[i] === persons[j]) [same, sameCount] = [same + d, sameCount + 1];
      else [other, otherCount] = [other + d, otherCount + 1];
    }
  let nearestSame = 0,
    chance = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    for (let j = 0; j < n; j++) if (j !== i && (best < 0 || table[i * n + j] < table[i * n + best])) best = j;
    if (best >= 0 && persons[best] === persons[i]) nearestSame++;
    chance += (counts.get(persons[i])! - 1) / (n - 1);
  }
  const samePersonMean = same / sameCount,
    otherPersonMean = other / otherCount;
  return { samePersonMean, otherPersonMean, ratio: samePersonMean / otherPersonMean, nearestIsSamePerson: nearestSame / n, chance: chance / n };
}
