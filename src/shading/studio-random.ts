/**
 * Seeded randomness for the evaluation and the studio renderer: the same seed always gives
 * the same numbers, in Node and in browsers. It is common/seeded-random.ts's generator with the
 * seeding and paired normals the studio scenes were made with (benchmark photos stay the same).
 */
import { SeededRandom } from '../common/seeded-random.ts';

/** The studio scenes' random stream: seed 0 maps to a fixed non-zero state; normals come in Box–Muller pairs. */
export class StudioRandom extends SeededRandom {
  private spareNormal: number | undefined;

  constructor(seed: number) {
    super(0);
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** Standard normal (Box–Muller, the second of each pair kept for the next call). */
  override normal(): number {
    if (this.spareNormal !== undefined) {
      const value = this.spareNormal;
      this.spareNormal = undefined;
      return value;
    }
    const u = Math.max(this.next(), 1e-12),
      v = this.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }
}
