import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultCaseData, runHostileCase, type CaseData, type HostileCase } from '../../scripts/hostile/case.ts';
import { modelDir, photosDir, testCacheDir } from './shared-data.ts';

/** The hostile cases' data, from the tests' own configuration (shared-data.ts). */
export function hostileCaseData(): CaseData {
  return { ...defaultCaseData(), modelDir, photosDir, cacheDir: testCacheDir };
}

/**
 * One test per case: it makes its files, runs the CLI, and must show no problem (exit code,
 * one-line reason, no stack trace, no hang, peak memory under 1.5 GiB, its own checks). Each
 * run's exit code, wall time and peak memory go out as test diagnostics. A run that hangs (a
 * FIFO read, say) is killed after 10 minutes and fails the test: a guard against hanging CI, far
 * above these runs' seconds, not a speed check.
 */
export function testHostileCases(cases: HostileCase[]): void {
  for (const hostile of cases) {
    test(`${hostile.item}. ${hostile.title}`, async (t) => {
      const outcome = await runHostileCase(hostile, hostileCaseData(), 600_000);
      if (outcome.skipped) {
        t.skip(outcome.skipped);
        return;
      }
      for (const [i, step] of outcome.steps.entries()) {
        t.diagnostic(
          `${outcome.name}${outcome.steps.length > 1 ? ` step ${i + 1}` : ''}: exit ${step.code ?? step.signal}, ${(step.wallMs / 1000).toFixed(1)} s, peak ${((step.peakRssBytes ?? NaN) / 2 ** 20).toFixed(0)} MiB`,
        );
      }
      assert.deepEqual(outcome.problems, []);
    });
  }
}
