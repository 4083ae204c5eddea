/**
 * Procedural, seeded textures for the studio renderer: value noise in 2D/3D, skin albedo
 * (tone + blotches + pores + freckles), and backgrounds. Plain JS; linear RGB in [0, 1].
 */

/** Integer lattice hash → [0, 1). */
function latticeValue(seed: number, x: number, y: number, z: number): number {
  let h = seed ^ Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ Math.imul(z, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

const smooth = (t: number) => t * t * (3 - 2 * t);

/** Trilinear value noise in [0, 1) at (x, y, z) in lattice units. */
export function valueNoise3(seed: number, x: number, y: number, z: number): number {
  const xi = Math.floor(x),
    yi = Math.floor(y),
    zi = Math.floor(z);
  const fx = smooth(x - xi),
    fy = smooth(y - yi),
    fz = smooth(z - zi);
  let result = 0;
  for (let corner = 0; corner < 8; corner++) {
    const dx = corner & 1,
      dy = (corner >> 1) & 1,
      dz = corner >> 2;
    const weight = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) * (dz ? fz : 1 - fz);
    result += weight * latticeValue(seed, xi + dx, yi + dy, zi + dz);
  }
  return result;
}

/** Sum of `octaves` of value noise, each at twice the frequency and `gain` the amplitude; ≈[0, 1). */
export function fractalNoise3(seed: number, x: number, y: number, z: number, octaves: number, gain = 0.5): number {
  let sum = 0,
    amplitude = 1,
    norm = 0,
    frequency = 1;
  for (let o = 0; o < octaves; o++) {
    sum += amplitude * valueNoise3(seed + o * 1013, x * frequency, y * frequency, z * frequency);
    norm += amplitude;
    amplitude *= gain;
    frequency *= 2;
  }
  return sum / norm;
}

/** Parameters of a procedural skin. */
export interface SkinTexture {
  seed: number;
  /** Base linear RGB of the skin. */
  toneRgb: [number, number, number];
  /** Relative strength of low-frequency blotches (0.05–0.2). */
  blotchAmount: number;
  /** Relative strength of pore-scale noise. */
  poreAmount: number;
  /** Fraction of the area covered by freckles (0 = none). */
  freckleDensity: number;
  /** Stubble darkness on the lower face (0 = none). */
  stubbleAmount: number;
}

/**
 * Skin albedo at a point of the face in model space (mm), written into `out` [3].
 * `region` tints it: 0 skin, 1 lips, 2 brows.
 */
export function skinAlbedo(skin: SkinTexture, x: number, y: number, z: number, region: number, lowerFaceWeight: number, out: Float64Array): void {
  const blotch = fractalNoise3(skin.seed, x / 18, y / 18, z / 18, 3) - 0.5;
  const redness = fractalNoise3(skin.seed + 7, x / 25, y / 25, z / 25, 2) - 0.5;
  const pore = valueNoise3(skin.seed + 13, x / 0.7, y / 0.7, z / 0.7) - 0.5;
  const freckleNoise = valueNoise3(skin.seed + 29, x / 1.6, y / 1.6, z / 1.6);
  const freckle = skin.freckleDensity > 0 && freckleNoise > 1 - skin.freckleDensity ? 0.75 : 1;
  let shade = (1 + skin.blotchAmount * 2 * blotch) * (1 + skin.poreAmount * 2 * pore) * freckle;
  if (skin.stubbleAmount > 0 && lowerFaceWeight > 0) {
    const hair = valueNoise3(skin.seed + 41, x / 0.5, y / 0.5, z / 0.5) > 0.55 ? 1 : 0.4;
    shade *= 1 - skin.stubbleAmount * lowerFaceWeight * hair;
  }
  let [r, g, b] = skin.toneRgb;
  r *= 1 + 0.15 * redness;
  g *= 1 - 0.05 * redness;
  if (region === 1) {
    r *= 0.85;
    g *= 0.5;
    b *= 0.55;
  } else if (region === 2) {
    const strand = valueNoise3(skin.seed + 53, x / 0.4, y / 2.5, z / 0.4);
    const dark = 0.25 + 0.2 * strand;
    r *= dark;
    g *= dark * 0.9;
    b *= dark * 0.85;
  }
  out[0] = Math.min(1, Math.max(0, r * shade));
  out[1] = Math.min(1, Math.max(0, g * shade));
  out[2] = Math.min(1, Math.max(0, b * shade));
}

/** Parameters of a procedural background. */
export interface StudioBackground {
  seed: number;
  /** Two linear RGB colours the gradient runs between. */
  colorA: [number, number, number];
  colorB: [number, number, number];
  /** Gradient direction in radians. */
  angle: number;
  /** Strength of the blotchy noise pattern. */
  noiseAmount: number;
  /** Noise feature size in pixels. */
  noiseScalePx: number;
}

/** Background colour at pixel (column, row) of a width×height image into `out` [3], linear RGB. */
export function backgroundColor(background: StudioBackground, column: number, row: number, width: number, height: number, out: Float64Array): void {
  const u = (column / width - 0.5) * Math.cos(background.angle) + (row / height - 0.5) * Math.sin(background.angle) + 0.5;
  const t = Math.min(1, Math.max(0, u));
  const noise = fractalNoise3(background.seed, column / background.noiseScalePx, row / background.noiseScalePx, 0.5, 4) - 0.5;
  for (let k = 0; k < 3; k++) {
    const base = background.colorA[k] * (1 - t) + background.colorB[k] * t;
    out[k] = Math.min(1, Math.max(0, base * (1 + 2 * background.noiseAmount * noise)));
  }
}
