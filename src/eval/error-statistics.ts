/** Summary statistics of error samples (mm or any unit). */
export interface ErrorSummary {
  median: number;
  mean: number;
  std: number;
  p90: number;
  count: number;
}

/** Median / mean / population std / 90th percentile of `values`; NaN everywhere when empty. */
export function summarizeErrors(values: ArrayLike<number>): ErrorSummary {
  const n = values.length;
  if (n === 0) return { median: NaN, mean: NaN, std: NaN, p90: NaN, count: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (sorted[i] - mean) ** 2;
  return { median: quantile(sorted, 0.5), mean, std: Math.sqrt(squares / n), p90: quantile(sorted, 0.9), count: n };
}

/** Linear-interpolated quantile of an ascending array. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position),
    high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/** Concatenate arrays of samples. */
export function concatSamples(parts: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part as ArrayLike<number>, offset);
    offset += part.length;
  }
  return out;
}
