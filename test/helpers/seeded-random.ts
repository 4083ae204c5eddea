import { SeededRandom } from '../../src/common/seeded-random.ts';

/** Deterministic uniform random numbers in [0, 1) from the project's PRNG, state `seed` as given, so test failures reproduce. */
export function seededRandom(seed: number): () => number {
  const random = SeededRandom.fromState(seed);
  return () => random.next();
}
