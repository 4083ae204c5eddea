/**
 * Compare fit settings on ground truth: render N studio faces (benchmark seed stream, default
 * seed 7 — not the README's seed 1), detect once, fit each with every given setting, and print
 * the median over faces of each face's median vertex error (mm, after similarity alignment on the
 * narrow face area) next to the mean face's, and the mean over faces of each face's ratio of that
 * error to the mean face's (below 1: the fit beats not fitting). Used to choose the fit's priors.
 *
 *   node --import tsx scripts/compare-fit-settings.ts [--n 16] [--seed 7] '[{}, {"identityPriorWeight": 1e-5}]'
 */
import { initBackend } from '../src/engine/backend.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { createFaceDetector } from '../src/detect/index.ts';
import { ModelTensors } from '../src/fit/model-tensors.ts';
import { fitFace } from '../src/fit/fit-face.ts';
import { alignedVertexErrorsMm, renderBenchmarkScenes } from '../src/eval/synthetic-benchmark.ts';

const argument = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const settings = JSON.parse(process.argv.slice(2).find((a) => a.startsWith('[')) ?? '[{}]') as Record<string, number>[];
const count = argument('--n', 16),
  seed = argument('--seed', 7);

await initBackend();
const { model } = await loadMorphableModel();
const detector = await createFaceDetector(await loadDetectorModelFiles());
const tensors = new ModelTensors(model);
const renders = renderBenchmarkScenes(model, { count, seed, scene: {} });
const faces = await Promise.all(renders.map(async (render) => (await detector.detect(render.image))[0]));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const narrow = model.narrowFaceVertexCount;
const meanFace = renders.map((render) => median(Array.from(alignedVertexErrorsMm(model.neutral, render.truth.verticesModel, narrow))));
console.log(`mean face: median ${median(meanFace).toFixed(2)} mm over ${count} faces (seed ${seed})`);
for (const setting of settings) {
  const errors: number[] = [];
  const ratios: number[] = [];
  let ms = 0;
  renders.forEach((render, i) => {
    const face = faces[i];
    if (!face) return;
    const started = performance.now();
    const fit = fitFace(tensors, render.image, face.landmarks68, setting, undefined, face.mesh468);
    ms += performance.now() - started;
    errors.push(median(Array.from(alignedVertexErrorsMm(fit.vertices, render.truth.verticesModel, narrow))));
    ratios.push(errors[errors.length - 1] / meanFace[i]);
  });
  const meanRatio = ratios.reduce((a, b) => a + b, 0) / ratios.length;
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  console.log(
    `${JSON.stringify(setting)}: median ${median(errors).toFixed(2)} mm, mean ${mean.toFixed(2)} mm, ratio to the mean face ${meanRatio.toFixed(3)} (mean over faces), ${errors.length}/${count} detected, ${(ms / errors.length).toFixed(0)} ms/fit`,
  );
}
tensors.dispose();
detector.dispose();
