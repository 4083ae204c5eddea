/**
 * facegar's one seeded PRNG (mulberry32) with normal samples, so training, initialisation,
 * sampling, synthetic photos and tests are reproducible in Node and in browsers. The whole state
 * is one uint32 (`state`), saved in checkpoints so a resumed run continues the same random stream.
 * The studio renderer's stream (shading/studio-random.ts) is this generator with its own seeding
 * and paired normals, kept so that benchmark photos stay the same.
 */
export class SeededRandom {
  state: number;

  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
  }

  /** A generator whose state is `state` as given (no seed mixing). */
  static fromState(state: number): SeededRandom {
    const random = new SeededRandom(0);
    random.state = state >>> 0;
    return random;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Integer in [0, n). */
  integer(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }

  /** A fresh 31-bit seed, e.g. for tf.randomNormal. */
  seed(): number {
    return Math.floor(this.next() * 0x7fffffff);
  }

  /** `count` standard normals, optionally times `scale`. */
  normals(count: number, scale = 1): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.normal() * scale;
    return out;
  }
}

/** 32-bit FNV-1a hash of a list of strings/numbers, for deriving independent seed streams. */
export function hashSeed(...parts: (string | number)[]): number {
  let hash = 0x811c9dc5;
  for (const part of parts) {
    const text = `${String(part)}\u0000`;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
  }
  return hash >>> 0;
}
