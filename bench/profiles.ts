// What keeping turned faces costs: the detector with and without its fallback for faces FaceMesh
// rejects (and without the landmark map's mirrored FaceMesh pass), and the landmark gate of the GAR path (api/landmark-source.ts) beside the shape
// encoder's estimate it needs anyway, and the identity regressor's estimate (FaceRes passes + linear map), on studio renders with |yaw| spread over 0–90°. CPU time of
// this process (one wasm thread), so other processes on a shared machine do not count.
// Run: node --import tsx bench/profiles.ts [--encoder models/encoder-small] [--n 12]
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/engine/backend.ts';
import { createFaceDetector } from '../src/detect/index.ts';
import { chooseFitLandmarks, estimateFromLandmarks } from '../src/api/landmark-source.ts';
import { renderSyntheticAflwImage } from '../src/eval/aflw-synthetic.ts';
import { decodeFaceEncoder } from '../src/invert/encoder-checkpoint.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { readIdentityRegressorFiles } from '../src/io/node/gar-models.ts';
import { loadIdentityRegressor } from '../src/api/regressor-loading.ts';
import { estimateIdentity } from '../src/invert/identity-regressor.ts';

const { values } = parseArgs({
  options: {
    encoder: { type: 'string', default: 'models/encoder-small' },
    'identity-regressor': { type: 'string', default: 'models/identity-regressor' },
    n: { type: 'string', default: '12' },
  },
});
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
await initBackend();
const { model } = await loadMorphableModel({});
const files = await loadDetectorModelFiles();
const detectors = {
  fallback: await createFaceDetector(files),
  strict: await createFaceDetector(files, { fallbackMinDetectionScore: 1, retryMinDetectionScore: 1 }),
  singleReading: await createFaceDetector(files, { mirrorLandmarkMap: false }),
};
const manifest = JSON.parse(await readFile(join(values.encoder!, 'checkpoint.json'), 'utf8'));
const encoder = decodeFaceEncoder(manifest, new Uint8Array(await readFile(join(values.encoder!, manifest.weightsPath))));
const regressorFiles = await readIdentityRegressorFiles(values['identity-regressor']!);
// As the pipeline loads it: the file says the size FaceRes runs at.
const identityRegressor = await loadIdentityRegressor(regressorFiles, model);
const count = Number(values.n);
const renders = Array.from({ length: count }, (_, i) => renderSyntheticAflwImage(model, i, { count, seed: 7 }));
await detectors.fallback.detect(renders[0].image); // warm-up
await detectors.strict.detect(renders[0].image);
await detectors.singleReading.detect(renders[0].image);
estimateFromLandmarks(
  encoder,
  renders[0].image,
  new Float32Array(136).map((_, i) => 200 + (i % 2 ? 3 : 5) * (i % 17)),
);

const times: Record<string, number[]> = {
  detectFallback: [],
  detectStrict: [],
  detectSingleReading: [],
  estimate: [],
  gate: [],
  gateRefined: [],
  identity: [],
};
let identityWarm = false;
const sources: Record<string, number> = {};
let kept = 0;
for (const render of renders) {
  // Each detector runs twice on each photo, in turn, and keeps its second time: the first pass over a new photo pays for both.
  let started = 0;
  let found: Awaited<ReturnType<typeof detectors.fallback.detect>> = [],
    strictFound: typeof found = [];
  for (let pass = 0; pass < 2; pass++) {
    started = cpuMs();
    strictFound = await detectors.strict.detect(render.image);
    if (pass) times.detectStrict.push(cpuMs() - started);
    started = cpuMs();
    found = await detectors.fallback.detect(render.image);
    if (pass) times.detectFallback.push(cpuMs() - started);
    started = cpuMs();
    await detectors.singleReading.detect(render.image);
    if (pass) times.detectSingleReading.push(cpuMs() - started);
  }
  if (found.length > strictFound.length) kept++;
  const face = found[0];
  if (!face) continue;
  started = cpuMs();
  estimateFromLandmarks(encoder, render.image, face.landmarks68);
  times.estimate.push(cpuMs() - started);
  started = cpuMs();
  const choice = chooseFitLandmarks(model, encoder, render.image, face);
  times.gate.push(cpuMs() - started);
  sources[choice.source] = (sources[choice.source] ?? 0) + 1;
  started = cpuMs();
  chooseFitLandmarks(model, encoder, render.image, face, { cropRefinements: 1 });
  times.gateRefined.push(cpuMs() - started);
  if (!identityWarm) identityWarm = Boolean(estimateIdentity(identityRegressor, render.image, face.landmarks68, face.mesh468)); // warm-up
  started = cpuMs();
  estimateIdentity(identityRegressor, render.image, face.landmarks68, face.mesh468);
  times.identity.push(cpuMs() - started);
}
const line = (name: string, what: string) => console.log(`${what.padEnd(72)} median ${median(times[name]).toFixed(1)} ms CPU`);
console.log(`${count} studio renders 450², |yaw| spread over 0–90° (seed 7); encoder ${values.encoder} (${encoder.config.resolution}²)`);
line('detectStrict', 'detector, fallback and second search off');
line('detectFallback', `detector, both on (kept ${kept} faces more)`);
line('detectSingleReading', 'detector, both on, the landmark map read once (no mirrored FaceMesh pass)');
line('estimate', 'shape encoder estimate (the GAR path runs it anyway)');
line(
  'gate',
  `estimate + landmark gate (${Object.entries(sources)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ')})`,
);
line('gateRefined', 'estimate + landmark gate, one crop refinement');
line(
  'identity',
  `identity regressor estimate (FaceRes at ${identityRegressor.embedder.inputSize}² on the aligned crop and, version 2 and 3, its mirror image; the linear map)`,
);
for (const d of Object.values(detectors)) d.dispose();
encoder.dispose();
identityRegressor.embedder.dispose();
