import { test } from 'node:test';
import assert from 'node:assert/strict';
import { samePersonStatistics } from '../../src/eval/identity-metrics.ts';

test('samePersonStatistics: hand-computed ratio, nearest-is-same rate and chance', () => {
  // Four photos on a line: A at 0 and 1, B at 5 and 9.
  const positions = [0, 1, 5, 9];
  const persons = ['A', 'A', 'B', 'B'];
  const stats = samePersonStatistics(persons, (i, j) => Math.abs(positions[i] - positions[j]));
  // Same-person pairs: 1 and 4 (mean 2.5); other pairs: 5, 9, 4, 8 (mean 6.5).
  assert.equal(stats.samePersonMean, 2.5);
  assert.equal(stats.otherPersonMean, 6.5);
  assert.equal(stats.ratio, 2.5 / 6.5);
  // Nearest others: 0→1 (A), 1→0 (A), 5→1 (A, wrong), 9→5 (B): 3 of 4.
  assert.equal(stats.nearestIsSamePerson, 0.75);
  // Each photo has one same-person photo among its 3 others.
  assert.equal(stats.chance, 1 / 3);
});
