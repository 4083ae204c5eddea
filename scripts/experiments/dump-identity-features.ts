/**
 * Experiment helper: write the identity regressor's features (FaceRes mirror-average embedding,
 * then FaceMesh's aligned mesh residual, as src/invert/identity-regressor.ts builds them) and the
 * true identities of every face in a `scripts/fit-identity-regressor.ts --cache` file as float32
 * matrices, for trying other regressors offline (identity-regressor-nonlinear.py).
 *
 *   node --import tsx scripts/experiments/dump-identity-features.ts --cache FEATURES.jsonl --train-prefixes cycles-seed10-train/,studio-1000/ --out DIR
 *
 * Writes DIR/X.f32 [N × 2428], DIR/Y.f32 [N × 100], DIR/keys.json and DIR/effects.json (each identity
 * mode's summed squared displacement over the 9,409 face-area vertices). The reference mesh is the
 * aligned mean of the faces whose key starts with one of --train-prefixes.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { identityModeSquaredEffects } from '../../src/eval/identity-metrics.ts';
import { identityFeatures, meanAlignedMesh, MESH_VALUE_COUNT } from '../../src/invert/identity-regressor.ts';
import { loadMorphableModel } from '../../src/io/node/index.ts';

const FACE_AREA_VERTICES = 9409;
const { values } = parseArgs({ options: { cache: { type: 'string' }, 'train-prefixes': { type: 'string' }, out: { type: 'string' } } });
if (!values.cache || !values.out || !values['train-prefixes']) throw new Error('--cache FILE, --train-prefixes P[,P] and --out DIR are needed');
interface Cached {
  key: string;
  missed?: boolean;
  identity: number[];
  embedding: number[];
  embeddingMirrored: number[];
  mesh: number[];
}
const rows = (await readFile(values.cache, 'utf8'))
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as Cached)
  .filter((row) => !row.missed && row.embeddingMirrored);
const seen = new Set<string>();
const samples = rows.filter((row) => !seen.has(row.key) && seen.add(row.key));
const prefixes = values['train-prefixes'].split(',');
const train = samples.filter((s) => prefixes.some((p) => s.key.startsWith(p)));
const meshes = new Float32Array(train.length * MESH_VALUE_COUNT);
train.forEach((s, n) => meshes.set(s.mesh, n * MESH_VALUE_COUNT));
const reference = meanAlignedMesh(meshes, train.length);
const featureCount = 1024 + MESH_VALUE_COUNT;
const features = new Float32Array(samples.length * featureCount),
  identities = new Float32Array(samples.length * 100);
samples.forEach((s, n) => {
  const embedding = s.embedding.map((v, i) => (v + s.embeddingMirrored[i]) / 2);
  features.set(identityFeatures(embedding, s.mesh, reference), n * featureCount);
  identities.set(s.identity, n * 100);
});
const { model } = await loadMorphableModel();
const effects = Array.from(identityModeSquaredEffects(model, FACE_AREA_VERTICES));
await mkdir(values.out, { recursive: true });
await writeFile(join(values.out, 'X.f32'), new Uint8Array(features.buffer));
await writeFile(join(values.out, 'Y.f32'), new Uint8Array(identities.buffer));
await writeFile(join(values.out, 'keys.json'), JSON.stringify(samples.map((s) => s.key)));
await writeFile(join(values.out, 'effects.json'), JSON.stringify(effects));
console.log(`${samples.length} faces (${train.length} for the reference mesh), ${featureCount} features → ${values.out}`);
