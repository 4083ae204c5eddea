/**
 * Several photos of one person: does fitting one shared identity (reconstructPerson) beat fitting
 * each photo alone? Renders --persons studio identities, each in --photos scenes of its own
 * (pose, expression, light, skin, background differ; the identity is the first scene's), fits
 * every photo alone and then jointly, and prints per row the mean over photos of
 *   posed:    the face-area median vertex error of the fitted mesh against the true posed mesh
 *             (similarity-aligned, as `facegar eval synthetic`), and its ratio to the mean face's;
 *   identity: the same between the neutral-expression shapes (fitted vs true identity), and its
 *             ratio to the model's mean shape;
 * plus the identity correlation over the 20 modes of largest geometric effect. Seeds
 * hash("same-person", --seed, person, photo); not the seeds of the README's benchmark.
 * `--set DIR` takes the photos from a synthetic set instead (a folder `eval synthetic --set` reads,
 * e.g. `render-cycles-set.py --photos-per-person N`): faces with the same true identity are one
 * person, in the set's order.
 *
 *   node --import tsx scripts/same-person-benchmark.ts [--persons 8] [--photos 4] [--seed 1] [--renderer graphics|gar] [--json]
 *   node --import tsx scripts/same-person-benchmark.ts --set DIR [--renderer graphics|gar] [--json]
 * `--figure OUT.png` draws the first 4 persons' photos as error heat maps, each alone then joint.
 * `--joint-gar-refine JSON` overrides the GAR refinement of the joint fit only (its first pass divides
 * the identity prior's weight by the number of photos).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Reconstructor, type Reconstruction } from '../src/api/reconstruct.ts';
import { reconstructPerson } from '../src/api/reconstruct-person.ts';
import { hashSeed } from '../src/common/seeded-random.ts';
import { alignedVertexErrorsMm } from '../src/eval/synthetic-benchmark.ts';
import { modesByGeometricEffect } from '../src/eval/identity-metrics.ts';
import { loadReconstructorResources } from '../src/io/node/index.ts';
import { syntheticSetSource } from '../src/io/node/synthetic-set-files.ts';
import { createRgbaImage, warpAffine, type RgbaImage } from '../src/common/image.ts';
import { drawText, renderErrorHeatmap } from '../src/eval/report-drawing.ts';
import { landmarkBounds } from '../src/fit/fit-frame.ts';
import { writePngAtomic } from '../src/io/node/encode-image.ts';
import { evaluateMorphableModel, type MorphableModel } from '../src/morphable/morphable-model.ts';
import { renderStudioPhoto, type StudioRender } from '../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../src/shading/studio-scene.ts';

const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '8' },
    photos: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    renderer: { type: 'string', default: 'graphics' },
    set: { type: 'string' },
    'joint-gar-refine': { type: 'string' },
    figure: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const persons = Number(values.persons),
  photos = Number(values.photos),
  seed = Number(values.seed);
const renderer = values.renderer as 'graphics' | 'gar';
if (!(persons >= 2 && photos >= 2) || !['graphics', 'gar'].includes(renderer)) throw new Error('--persons and --photos ≥ 2; --renderer graphics or gar');

const resources = await loadReconstructorResources({ renderer });
const model: MorphableModel = resources.model;
const reconstructor = await Reconstructor.create(resources);
const median = (values: Float64Array) => {
  const s = Float64Array.from(values).sort();
  return s[Math.floor(s.length / 2)];
};
const neutralExpression = new Float32Array(model.expressionNames.length);
const neutralOf = (identity: ArrayLike<number>) => evaluateMorphableModel(model, identity, neutralExpression);
const topModes = modesByGeometricEffect(model).slice(0, 20);

interface Row {
  posed: number[];
  posedMeanFace: number[];
  identity: number[];
  identityMeanFace: number[];
  fitted: Float32Array[];
  truths: Float32Array[];
}
const rows: Record<'alone' | 'joint', Row> = {
  alone: { posed: [], posedMeanFace: [], identity: [], identityMeanFace: [], fitted: [], truths: [] },
  joint: { posed: [], posedMeanFace: [], identity: [], identityMeanFace: [], fitted: [], truths: [] },
};
const meanShape = neutralOf(new Float32Array(model.identityCount));
/** One photo of a person with its truth: the true identity and posed vertices (model space, mm). */
interface PersonPhotoTruth {
  image: RgbaImage;
  identity: Float32Array;
  verticesModel: Float32Array;
}
function score(row: Row, photo: PersonPhotoTruth, vertices: Float32Array, identity: Float32Array): void {
  const truthNeutral = neutralOf(photo.identity);
  row.posed.push(median(alignedVertexErrorsMm(vertices, photo.verticesModel, model.vertexCount)));
  row.posedMeanFace.push(median(alignedVertexErrorsMm(model.neutral, photo.verticesModel, model.vertexCount)));
  row.identity.push(median(alignedVertexErrorsMm(neutralOf(identity), truthNeutral, model.vertexCount)));
  row.identityMeanFace.push(median(alignedVertexErrorsMm(meanShape, truthNeutral, model.vertexCount)));
  row.fitted.push(identity);
  row.truths.push(photo.identity);
}

const studioPerson = (person: number): PersonPhotoTruth[] => {
  const first = sampleStudioScene(model, hashSeed('same-person', seed, person, 0));
  return Array.from({ length: photos }, (_, photo) => {
    const scene = photo === 0 ? first : { ...sampleStudioScene(model, hashSeed('same-person', seed, person, photo)), identity: first.identity };
    const render: StudioRender = renderStudioPhoto(model, scene);
    return { image: render.image, identity: scene.identity, verticesModel: render.truth.verticesModel };
  });
};
// A set's faces, grouped into persons by their true identity (consecutive faces sharing it).
const setPersons: PersonPhotoTruth[][] = [];
if (values.set) {
  const source = await syntheticSetSource(resolve(values.set), model);
  for (let index = 0; index < source.count; index++) {
    const { image, truth } = await source.face(index);
    const last = setPersons.at(-1);
    const photo = { image, identity: truth.identity, verticesModel: truth.verticesModel };
    if (last && last[0].identity.every((v, i) => v === truth.identity[i])) last.push(photo);
    else setPersons.push([photo]);
  }
  const several = setPersons.filter((p) => p.length >= 2);
  if (several.length < 2) {
    process.stderr.write(`${values.set}: fewer than 2 persons with 2 or more photos (render it with render-cycles-set.py --photos-per-person N)\n`);
    process.exit(2);
  }
  setPersons.splice(0, setPersons.length, ...several);
}
const personCount = values.set ? setPersons.length : persons;

/** --figure: per drawn person, per photo, the alone and joint heat maps (cells of FIGURE_CELL_PX). */
const FIGURE_PERSONS = 4,
  FIGURE_CELL_PX = 192,
  FIGURE_MAX_MM = 5;
type FigureCell = { image: RgbaImage; medianMm: number };
const figureRows: { alone: FigureCell; joint: FigureCell }[][] = [];
/** The heat map of one fit, cut to a square around the fitted face (1.6 × its landmark box). */
function heatmapCell(photo: PersonPhotoTruth, face: Reconstruction['faces'][number]): FigureCell {
  const errors = alignedVertexErrorsMm(face.vertices, photo.verticesModel, model.vertexCount);
  const full = renderErrorHeatmap(photo.image, { ...face, detectedLandmarks2d: face.landmarks2d }, errors, model, FIGURE_MAX_MM);
  const { minU, maxU, minV, maxV } = landmarkBounds(face.landmarks2d);
  const side = 1.6 * Math.max(maxU - minU, maxV - minV),
    step = side / FIGURE_CELL_PX;
  const image = warpAffine(full, { a: step, b: 0, c: 0, d: step, tx: (minU + maxU - side) / 2, ty: (minV + maxV - side) / 2 }, FIGURE_CELL_PX, FIGURE_CELL_PX);
  return { image, medianMm: median(errors) };
}

for (let person = 0; person < personCount; person++) {
  const renders = values.set ? setPersons[person] : studioPerson(person);
  const options = { renderer, maxFaces: 1 } as const;
  const alone: (Reconstruction | undefined)[] = [];
  for (const render of renders) alone.push(await reconstructor.reconstruct(render.image, options).catch(() => undefined));
  const joint = await reconstructPerson(reconstructor, (i) => renders[i].image, renders.length, {
    ...options,
    ...(values['joint-gar-refine'] ? { garRefine: JSON.parse(values['joint-gar-refine']) as Record<string, number> } : {}),
  });
  renders.forEach((render, i) => {
    const a = alone[i],
      j = joint.photos[i];
    if (!a || !('reconstruction' in j)) return; // both rows score the same photos
    score(rows.alone, render, a.faces[0].vertices, a.faces[0].identity);
    score(rows.joint, render, j.reconstruction.faces[0].vertices, j.reconstruction.faces[0].identity);
    if (values.figure && person < FIGURE_PERSONS) {
      (figureRows[person] ??= []).push({ alone: heatmapCell(render, a.faces[0]), joint: heatmapCell(render, j.reconstruction.faces[0]) });
    }
  });
  process.stderr.write(`person ${person + 1}/${personCount}: ${joint.person.photosUsed}/${renders.length} photos with a face\n`);
}

function correlation(a: number[], b: number[]): number {
  const n = a.length,
    ma = a.reduce((s, v) => s + v, 0) / n,
    mb = b.reduce((s, v) => s + v, 0) / n;
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const summary = Object.fromEntries(
  Object.entries(rows).map(([name, row]) => [
    name,
    {
      photos: row.posed.length,
      posedMm: mean(row.posed),
      posedRatioToMeanFace: mean(row.posed) / mean(row.posedMeanFace),
      identityMm: mean(row.identity),
      identityRatioToMeanShape: mean(row.identity) / mean(row.identityMeanFace),
      identityCorrelationTop20: mean(
        topModes.map((k) =>
          correlation(
            row.fitted.map((f) => f[k]),
            row.truths.map((t) => t[k]),
          ),
        ),
      ),
    },
  ]),
);
if (values.json) {
  process.stdout.write(
    `${JSON.stringify(values.set ? { set: values.set, persons: personCount, renderer, rows: summary } : { persons, photosPerPerson: photos, seed, renderer, rows: summary })}\n`,
  );
} else {
  const what = values.set ? `${personCount} persons of ${values.set}` : `${persons} persons × ${photos} studio photos (seed ${seed})`;
  console.log(`${what}, ${renderer} path; means over the ${summary.alone.photos} photos both rows fitted`);
  console.log('row    posed mm  × mean face  identity mm  × mean shape  id r top20');
  for (const [name, s] of Object.entries(summary)) {
    console.log(
      `${name.padEnd(7)}${s.posedMm.toFixed(2).padStart(8)}${s.posedRatioToMeanFace.toFixed(3).padStart(13)}${s.identityMm.toFixed(2).padStart(13)}${s.identityRatioToMeanShape.toFixed(3).padStart(14)}${s.identityCorrelationTop20.toFixed(2).padStart(12)}`,
    );
  }
}
if (values.figure && figureRows.length > 0) {
  const columns = Math.max(...figureRows.map((row) => row.length)) * 2,
    gap = 4;
  const figure = createRgbaImage(columns * (FIGURE_CELL_PX + gap), figureRows.length * (FIGURE_CELL_PX + gap));
  for (let i = 3; i < figure.data.length; i += 4) figure.data[i] = 255;
  figureRows.forEach((row, r) =>
    row.forEach((cell, c) =>
      (['alone', 'joint'] as const).forEach((kind, k) => {
        const left = (2 * c + k) * (FIGURE_CELL_PX + gap),
          top = r * (FIGURE_CELL_PX + gap),
          { image, medianMm } = cell[kind];
        for (let y = 0; y < FIGURE_CELL_PX; y++)
          figure.data.set(image.data.subarray(y * FIGURE_CELL_PX * 4, (y + 1) * FIGURE_CELL_PX * 4), ((top + y) * figure.width + left) * 4);
        // The report font has digits only: the caption says which cell is which.
        drawText(figure, `${medianMm.toFixed(2)} mm`, left + 4, top + 4, [255, 255, 255], 2);
      }),
    ),
  );
  await writePngAtomic(values.figure, figure);
  process.stderr.write(`figure: ${values.figure}\n`);
}
reconstructor.dispose();
