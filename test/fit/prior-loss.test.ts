import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { FitVariables } from '../../src/fit/fit-variables.ts';
import { priorLoss } from '../../src/fit/landmark-stage.ts';
import { validateFitConfig } from '../../src/fit/fit-config.ts';
import type { ModelTensors } from '../../src/fit/model-tensors.ts';

// priorLoss only reads the mode counts of the model tensors.
const counts = { identityCount: 3, expressionCount: 2 } as unknown as ModelTensors;

test('priorLoss: identity prior centred on a shape estimate with per-mode precision, log-focal prior centre', async () => {
  await initBackend({ backend: 'cpu' });
  const variables = new FitVariables({ modeCount: 5, yaw: 0, direction: [0, 0] });
  try {
    variables.coefficients.assign(tf.tensor1d([1, -2, 0.5, 0.25, 0]));
    variables.logFocal.assign(tf.scalar(0.3));
    const config = validateFitConfig({ identityPriorWeight: 2, expressionPriorWeight: 10, focalPriorWeight: 4 });
    const value = (frame: Parameters<typeof priorLoss>[3]) => {
      const loss = priorLoss(counts, variables, config, frame);
      const v = loss.dataSync()[0];
      loss.dispose();
      return v;
    };
    // Model prior: 2·(1 + 4 + 0.25) + 10·0.0625 + 4·0.09.
    assert.ok(Math.abs(value({}) - (10.5 + 0.625 + 0.36)) < 1e-5);
    // Centred at (1, 0, 0.5) with precisions (1, 4, 100): only mode 1 is off, by 2 → 2·4·4; the scale multiplies shape terms.
    const frame = {
      identityPrior: { mean: Float32Array.from([1, 0, 0.5]), precision: Float32Array.from([1, 4, 100]) },
      logFocalPriorMean: 0.1,
      shapePriorScale: 3,
    };
    assert.ok(Math.abs(value(frame) - (3 * (2 * 16) + 3 * 0.625 + 4 * 0.04)) < 1e-4, String(value(frame)));
  } finally {
    variables.dispose();
  }
});
