// The page's expected photo times: one for every GAR preset, ordered as the presets' work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GAR_REFINE_PRESETS } from '../../src/fit/gar-refine-config.ts';
import { PHOTO_MS_PER_PROBE_MS, expectedPhotoMs } from '../../web/expected-time.ts';

test('every GAR preset has its own expected time, in the order of the work each does', () => {
  for (const preset of Object.keys(GAR_REFINE_PRESETS)) assert.ok(PHOTO_MS_PER_PROBE_MS[`gar-${preset}`] > 0, `no expected time for gar-${preset}`);
  const ms = (preset: string) => expectedPhotoMs(10, 'gar', preset);
  assert.ok(ms('instant') < ms('fast') && ms('fast') < ms('shading') && ms('shading') < ms('default') && ms('default') < ms('quality'));
  assert.equal(expectedPhotoMs(10, 'graphics', 'default'), 10 * PHOTO_MS_PER_PROBE_MS.graphics);
});
