import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTOR_LANDMARK_VERTICES } from '../../src/morphable/detector-landmark-vertices.ts';
import { evaluateMorphableModel } from '../../src/morphable/morphable-model.ts';
import { sharedModel } from '../helpers/model.ts';

const UPPER_LIP = [49, 50, 51, 52, 53, 61, 62, 63];
const LOWER_LIP = [55, 56, 57, 58, 59, 65, 66, 67];

// With closed lips the upper and lower inner-lip vertices project to the same pixels, so a
// calibration on closed mouths alone can put a lower-lip point on the upper lip; an open mouth
// then shows the error. Opening the jaw tells the lips apart: the lower lip follows the jaw.
test('calibrated lip landmarks sit on the right lip: the lower ones follow jawOpen, the upper ones do not', async () => {
  const model = await sharedModel();
  const identity = new Float32Array(model.identityCount);
  const expression = new Float32Array(model.expressionNames.length);
  const closed = evaluateMorphableModel(model, identity, expression);
  expression[model.expressionNames.indexOf('jawOpen')] = 1;
  const open = evaluateMorphableModel(model, identity, expression);
  const dropMm = (k: number) => {
    const v = DETECTOR_LANDMARK_VERTICES[k];
    return closed[3 * v + 1] - open[3 * v + 1];
  };
  // The model's own lower-lip landmarks drop ~30 mm at jawOpen 1, its upper-lip ones ~2–5 mm.
  for (const k of UPPER_LIP) assert.ok(dropMm(k) < 8, `upper-lip landmark ${k} (vertex ${DETECTOR_LANDMARK_VERTICES[k]}) drops ${dropMm(k).toFixed(1)} mm`);
  for (const k of LOWER_LIP) assert.ok(dropMm(k) > 20, `lower-lip landmark ${k} (vertex ${DETECTOR_LANDMARK_VERTICES[k]}) drops ${dropMm(k).toFixed(1)} mm`);
});
