// Do single-photo reconstructions of one person agree with each other more than with other
// people's? A check of 3D shape on real photos, where no 3D truth exists: run
//   facegar reconstruct PHOTOS --out OUT     (photos named like LFW's Person_Name_0001.jpg)
//   node --import tsx scripts/same-person-consistency.ts OUT [--min-photos 2]
// For every pair of reconstructions it measures the identity shapes' difference (the neutral
// expression, face area, median per-vertex distance after similarity alignment, mm: the
// benchmark's error measure) and prints the mean over same-person pairs, over other-person
// pairs, their ratio (1 = the fitted identity says nothing about who it is), and how often a
// photo's nearest other reconstruction is the same person's (against chance).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { evaluateMorphableModel } from '../src/morphable/morphable-model.ts';
import { applySimilarityTransform, estimateSimilarityTransform } from '../src/geometry/similarity-alignment.ts';
import { samePersonStatistics } from '../src/eval/identity-metrics.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'min-photos': { type: 'string', default: '2' }, json: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  process.stderr.write('usage: node --import tsx scripts/same-person-consistency.ts RECONSTRUCT_OUT_DIR [--min-photos N] [--json]\n');
  process.exit(2);
}
const outDir = positionals[0];
const minPhotos = Number(values['min-photos']);
const { model } = await loadMorphableModel({});
const faceVertices = 9409;

interface Entry {
  person: string;
  stem: string;
  shape: Float64Array;
}
const entries: Entry[] = [];
const names = await readdir(outDir).catch((error: NodeJS.ErrnoException) => {
  process.stderr.write(`${outDir}: cannot read the folder (${error.code ?? error.message}); give the --out folder of facegar reconstruct\n`);
  process.exit(3);
});
for (const file of names.filter((f) => f.endsWith('.json')).sort()) {
  let json: { identity?: unknown };
  try {
    json = JSON.parse(await readFile(join(outDir, file), 'utf8')) as { identity?: unknown };
  } catch (error) {
    process.stderr.write(`${join(outDir, file)}: skipped, not a readable JSON file (${(error as Error).message.split('\n')[0]})\n`);
    continue;
  }
  if (!Array.isArray(json.identity) || json.identity.length !== model.identityCount || !json.identity.every(Number.isFinite)) continue;
  const stem = file.slice(0, -'.json'.length);
  // Output stems keep the photo's extension (Person_Name_0001.jpg.json).
  const person = stem.replace(/\.[a-z0-9]+$/i, '').replace(/_\d{4}$/, '');
  const vertices = evaluateMorphableModel(model, json.identity, new Float32Array(model.expressionNames.length));
  entries.push({ person, stem, shape: Float64Array.from(vertices.subarray(0, faceVertices * 3)) });
}
const counts = new Map<string, number>();
for (const e of entries) counts.set(e.person, (counts.get(e.person) ?? 0) + 1);
const kept = entries.filter((e) => counts.get(e.person)! >= minPhotos);
if (kept.length < 4) {
  process.stderr.write(`${outDir}: only ${kept.length} reconstructions of people with ≥ ${minPhotos} photos\n`);
  process.exit(1);
}

/** Median per-vertex distance (mm) between two shapes after aligning a onto b by a similarity. */
function shapeDistanceMm(a: Float64Array, b: Float64Array): number {
  const aligned = applySimilarityTransform(a, estimateSimilarityTransform(a, b));
  const distances = new Float64Array(faceVertices);
  for (let v = 0; v < faceVertices; v++)
    distances[v] = Math.hypot(aligned[3 * v] - b[3 * v], aligned[3 * v + 1] - b[3 * v + 1], aligned[3 * v + 2] - b[3 * v + 2]);
  distances.sort();
  return distances[faceVertices >> 1];
}

const statistics = samePersonStatistics(
  kept.map((e) => e.person),
  (i, j) => shapeDistanceMm(kept[i].shape, kept[j].shape),
);
const result = {
  reconstructions: kept.length,
  people: new Set(kept.map((e) => e.person)).size,
  samePersonMm: statistics.samePersonMean,
  otherPersonMm: statistics.otherPersonMean,
  ratio: statistics.ratio,
  nearestIsSamePerson: statistics.nearestIsSamePerson,
  chance: statistics.chance,
};
if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
else {
  process.stdout.write(`${result.reconstructions} reconstructions of ${result.people} people (≥ ${minPhotos} photos each)\n`);
  process.stdout.write(
    `identity shape distance: same person ${result.samePersonMm.toFixed(3)} mm, other people ${result.otherPersonMm.toFixed(3)} mm, ratio ${result.ratio.toFixed(3)}\n`,
  );
  process.stdout.write(
    `nearest other reconstruction is the same person: ${(100 * result.nearestIsSamePerson).toFixed(1)} % (chance ${(100 * result.chance).toFixed(1)} %)\n`,
  );
}
