/**
 * Landmark agreement on the example photos with given fit settings: per photo, the mean distance
 * between projected and detected landmarks as % of the inter-ocular distance, and the 5-point
 * agreement with the reference detections. Used to see what fit settings cost on real photos.
 *
 *   node --import tsx scripts/landmark-agreement.ts '{"identityPriorWeight": 1e-5}'
 *   node --import tsx scripts/landmark-agreement.ts --renderer gar [--preset fast] [--gar DIR --encoder DIR] ['{GAR refine overrides}']
 *   ... [--landmark-regressor DIR|none] (default: the shipped one, if any): the landmark error is then vs the
 *   regressor's points (the fit's landmarkSource); the 5-point agreement is with the reference detections either way;
 *   ... [--identity-regressor DIR|none] (default: the shipped one, as the CLI chooses)
 *   ... [--landmark-map FILE|none] (default: the shipped one)
 */
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Reconstructor } from '../src/api/reconstruct.ts';
import { loadReconstructorResources } from '../src/io/node/index.ts';
import { decodeImageFile } from '../src/io/node/decode-image.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { landmarkMapOption } from '../src/cli/command-options.ts';

const photosDir = join(process.env.FACEGAR_SHARED_DIR ?? resolve(fileURLToPath(new URL('../../shared', import.meta.url))), 'photos/examples');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    renderer: { type: 'string' },
    preset: { type: 'string' },
    gar: { type: 'string' },
    encoder: { type: 'string' },
    'landmark-regressor': { type: 'string' },
    'identity-regressor': { type: 'string' },
    'landmark-map': { type: 'string' },
  },
});
const fit = JSON.parse(positionals[0] ?? '{}') as Record<string, number>;
const renderer = values.renderer as 'gar' | 'graphics' | undefined;
const resources = await loadReconstructorResources({
  renderer,
  gar: values.gar,
  encoder: values.encoder,
  landmarkRegressor: values['landmark-regressor'],
  identityRegressor: values['identity-regressor'],
});
if (values['landmark-map'] !== undefined) resources.detector = await loadDetectorModelFiles({ landmarkMap: landmarkMapOption(values['landmark-map']) });
const reconstructor = await Reconstructor.create(resources);
const options = {
  fit,
  ...(renderer === 'gar' ? { garRefine: fit } : {}),
  ...(renderer ? { renderer } : {}),
  ...(values.preset ? { garPreset: values.preset as 'instant' | 'fast' | 'default' | 'quality' } : {}),
};
let errorSum = 0,
  fivePointSum = 0,
  above3 = 0,
  count = 0;
for (const name of (await readdir(photosDir)).filter((f) => f.endsWith('.jpg')).sort()) {
  const face = (await reconstructor.reconstruct(await decodeImageFile(join(photosDir, name)), options)).faces[0];
  const reference = (await readFile(join(photosDir, 'detections', name.replace('.jpg', '.txt')), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number));
  const p = face.landmarks2d;
  const centre = (first: number) => [0, 1].map((axis) => Array.from({ length: 6 }, (_, k) => p[2 * (first + k) + axis]).reduce((s, v) => s + v, 0) / 6);
  const ours = [centre(36), centre(42), [p[60], p[61]], [p[96], p[97]], [p[108], p[109]]];
  const referenceInterOcular = Math.hypot(reference[0][0] - reference[1][0], reference[0][1] - reference[1][1]);
  const fivePoint = ours.reduce((s, q, i) => s + Math.hypot(q[0] - reference[i][0], q[1] - reference[i][1]), 0) / 5 / referenceInterOcular;
  const error = (100 * face.landmarkErrorPx) / face.interOcularPx;
  console.log(`${name}: landmark error ${error.toFixed(2)} % IOD, 5-point ${fivePoint.toFixed(3)}, yaw ${face.anglesDeg[1].toFixed(0)}°`);
  errorSum += error;
  fivePointSum += fivePoint;
  above3 += error > 3 ? 1 : 0;
  count++;
}
console.log(`mean ${(errorSum / count).toFixed(2)} % IOD (${above3} of ${count} above 3 %), 5-point mean ${(fivePointSum / count).toFixed(3)}`);
reconstructor.dispose();
