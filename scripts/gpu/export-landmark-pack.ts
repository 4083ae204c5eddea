/**
 * The landmark regressor's training pack (default `.gpu-pack-landmarks/`, git-ignored), made in
 * seconds from the shape encoder's pack (export-training-pack.ts; nothing is rendered or detected
 * again). It keeps only what scripts/gpu/train_landmarks.py reads, so the device call can carry it
 * beside the GAR's pack:
 *   the render mesh and shapes (with --basis-bits 8, each shape as int8 with a scale per shape and
 *     axis, `<name>.q8` + `<name>.scale`: vertex error 0.07 mm mean, 0.3 mm at most on random
 *     faces), skin textures (resized by --texture-scale: the crops are 128 px),
 *   the 500 studio validation crops and the detector's framing offsets, the rasteriser fixture;
 *   studio_val_landmarks_px.npy [N, 68, 2]: where the model's own landmark vertices (occluded ones
 *     included) lie in each validation crop, from the scene's seed and the detector's framing
 *     offsets; each crop's pose target is recomputed the same way and must match the pack's;
 *   fixture_landmark_crops (8-bit) + fixture_landmark_raw_outputs: the TS LandmarkRegressor at its
 *     initial weights (seed 1) on the first 4 of the shape pack's fixture crops, for the torch parity check;
 *   manifest.json: the source manifest plus `landmarks` (network, seed, files).
 * Every array is a gzipped .npy (`<name>.npy.gz`; pack_io.Pack.array reads both forms).
 *
 *   node --import tsx scripts/gpu/export-landmark-pack.ts [--pack .gpu-pack] [--out .gpu-pack-landmarks]
 *     [--channel-base 4096] [--texture-scale 0.5] [--dense K]
 * --dense K: the regressor predicts K more points after iBUG-68, vertices spread over the face
 * (morphable/dense-landmark-vertices.ts), which the fit matches as a dense term.
 */
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { applyAffine2D, invertAffine2D } from '../../src/common/image.ts';
import { ALIGNED_CROP_TEMPLATE, faceCropTransform, fitSimilarity2D } from '../../src/detect/align-face-crop.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { projectPointsArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { DEFAULT_LANDMARK_REGRESSOR_CONFIG, LandmarkRegressor } from '../../src/invert/landmark-regressor.ts';
import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';
import { evaluateMorphableModel } from '../../src/morphable/morphable-model.ts';
import { denseLandmarkVertices } from '../../src/morphable/dense-landmark-vertices.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { decodeNpy, encodeNpy } from './npy-file.ts';
import { alignmentPoints, cropTargets, detectorLikeLandmarks, sceneRotation, targetSize } from './pack-studio-set.ts';

/** The TS trainer's seed convention (2·seed + 1 for seed 0), as the shape encoder's fixture. */
const REGRESSOR_SEED = 1;
/** Largest |difference| allowed between a recomputed pose target and the pack's (rad, crop fractions, log units). */
const TARGET_TOLERANCE = 2e-3;
const BASES = ['identity_basis', 'expression_basis'];
const COPIED_ARRAYS = [
  'neutral',
  'triangles',
  'triangle_uvs',
  'triangle_material',
  'vertex_ambient_occlusion',
  'vertex_eye_radius_mm',
  'studio_val_alignment_offsets_px',
  'fixture_raster_points',
  'fixture_raster_normals',
  'fixture_raster_ids',
];
const PARITY_CROPS = 4;

const { values } = parseArgs({
  options: {
    pack: { type: 'string', default: '.gpu-pack' },
    out: { type: 'string', default: '.gpu-pack-landmarks' },
    model: { type: 'string' },
    'channel-base': { type: 'string', default: String(DEFAULT_LANDMARK_REGRESSOR_CONFIG.channelBase) },
    'texture-scale': { type: 'string', default: '0.5' },
    'basis-bits': { type: 'string', default: '8' },
    dense: { type: 'string', default: '0' },
  },
});
const packDir = resolve(values.pack!),
  outDir = resolve(values.out!);
if (packDir === outDir) throw new Error('--out must differ from --pack');
const manifest = JSON.parse(await readFile(join(packDir, 'manifest.json'), 'utf8'));
if (manifest.format !== 1) throw new Error(`${packDir}: pack format ${manifest.format} is not 1`);
await initBackend({ backend: 'wasm' });
const model = (await loadMorphableModel({ modelDir: values.model })).model;
const S: number = manifest.network.resolution;
const npy = async (name: string) => decodeNpy(await readFile(join(packDir, name)));
await rm(outDir, { recursive: true, force: true });
await mkdir(join(outDir, 'skin_textures'), { recursive: true });
const saveGzip = (name: string, npyBytes: Uint8Array) => writeFile(join(outDir, `${name}.npy.gz`), gzipSync(npyBytes, { level: 9 }));
const save = (name: string, array: Parameters<typeof encodeNpy>[0]) => saveGzip(name, encodeNpy(array));

// Truth of the validation crops: each scene again from its seed, and the crop the detector framed.
const records: { seed: number; detected: boolean }[] = manifest.studioValidation.records;
const offsets = (await npy('studio_val_alignment_offsets_px.npy')).values as Float32Array;
const storedTargets = (await npy('studio_val_targets.npy')).values as Float32Array;
const T = targetSize(model);
const landmarks = new Float32Array(records.length * 68 * 2);
const template = ALIGNED_CROP_TEMPLATE.map(([x, y]) => [x * S, y * S] as [number, number]);
let worstTarget = 0;
records.forEach((record, i) => {
  const scene = sampleStudioScene(model, record.seed);
  const likely = detectorLikeLandmarks(model, scene);
  let cropFromImage = faceCropTransform(likely, S);
  if (record.detected) {
    // The detected alignment points = the detector-like ones moved by the stored offsets (crop px of that framing).
    const imageFromFraming = invertAffine2D(cropFromImage),
      expected = alignmentPoints(likely);
    const found = [0, 1, 2, 3].map((k) => {
      const [ex, ey] = applyAffine2D(cropFromImage, expected[2 * k], expected[2 * k + 1]);
      return applyAffine2D(imageFromFraming, ex + offsets[i * 8 + 2 * k], ey + offsets[i * 8 + 2 * k + 1]);
    });
    cropFromImage = fitSimilarity2D(found, template);
  }
  const target = cropTargets(model, scene, cropFromImage, S);
  for (let k = 0; k < 7; k++) worstTarget = Math.max(worstTarget, Math.abs(target[T - 7 + k] - storedTargets[i * T + T - 7 + k]));
  const vertices = evaluateMorphableModel(model, scene.identity, scene.expression);
  const points = Float32Array.from(Array.from(model.landmarkVertexIndices).flatMap((v) => [vertices[3 * v], vertices[3 * v + 1], vertices[3 * v + 2]]));
  const photo = projectPointsArray(transformPointsArray(points, sceneRotation(scene), scene.translationMm), {
    focalPx: scene.focalPx,
    principalPointPx: scene.principalPointPx,
    width: scene.width,
    height: scene.height,
  });
  for (let k = 0; k < 68; k++) landmarks.set(applyAffine2D(cropFromImage, photo[2 * k], photo[2 * k + 1]), (i * 68 + k) * 2);
});
console.log(
  `validation truth: ${records.length} crops, recomputed pose targets within ${worstTarget.toExponential(2)} of the pack's (tolerance ${TARGET_TOLERANCE})`,
);
if (!(worstTarget < TARGET_TOLERANCE)) throw new Error('the recomputed framing does not match the pack: was the pack made by another model or code version?');
await save('studio_val_landmarks_px', { dtype: 'f4', shape: [records.length, 68, 2], values: landmarks });

// Parity fixture: the TS regressor at its initial weights on 8-bit crops.
const denseVertices = Number(values.dense) > 0 ? denseLandmarkVertices(model, Number(values.dense)) : [];
const landmarkVertices = [...Array.from(model.landmarkVertexIndices), ...denseVertices];
const network = { ...DEFAULT_LANDMARK_REGRESSOR_CONFIG, resolution: S, channelBase: Number(values['channel-base']), landmarkCount: landmarkVertices.length };
const encoderCrops = await npy('fixture_encoder_crops.npy');
const cropShape = [PARITY_CROPS, ...encoderCrops.shape.slice(1)] as [number, number, number, number];
const crops8 = Uint8Array.from(
  encoderCrops.values.subarray(
    0,
    cropShape.reduce((a, b) => a * b, 1),
  ),
  (v) => Math.round((v + 1) * 127.5),
);
const regressor = new LandmarkRegressor(network, REGRESSOR_SEED);
const raw = tf.tidy(
  () =>
    regressor
      .applyRaw(
        tf.tensor4d(
          Float32Array.from(crops8, (v) => v / 127.5 - 1),
          cropShape,
        ),
      )
      .dataSync() as Float32Array,
);
regressor.dispose();
await save('fixture_landmark_crops', { dtype: 'u1', shape: cropShape, values: crops8 });
await save('fixture_landmark_raw_outputs', { dtype: 'f4', shape: [PARITY_CROPS, 2 * network.landmarkCount], values: raw });

// What the trainer reads, as it is; shapes quantised, skin textures resized.
for (const name of COPIED_ARRAYS) await saveGzip(name, await readFile(join(packDir, `${name}.npy`)));
await copyFile(join(packDir, 'studio_val_crops.jpg'), join(outDir, 'studio_val_crops.jpg'));
const bits = Number(values['basis-bits']);
if (bits !== 8 && bits !== 16) throw new Error(`--basis-bits must be 8 or 16, got ${values['basis-bits']}`);
for (const name of BASES) {
  if (bits === 16) {
    await saveGzip(name, await readFile(join(packDir, `${name}.npy`)));
    continue;
  }
  const basis = await npy(`${name}.npy`);
  const [modes, count] = basis.shape;
  const steps = new Float32Array(modes * 3),
    quantised = new Int8Array(basis.values.length);
  for (let m = 0; m < modes; m++) {
    for (let i = 0; i < count * 3; i++) steps[m * 3 + (i % 3)] = Math.max(steps[m * 3 + (i % 3)], Math.abs(basis.values[m * count * 3 + i]) / 127);
    for (let i = 0; i < count * 3; i++) {
      const step = steps[m * 3 + (i % 3)];
      quantised[m * count * 3 + i] = step > 0 ? Math.round(basis.values[m * count * 3 + i] / step) : 0;
    }
  }
  await save(`${name}.q8`, { dtype: 'i1', shape: basis.shape, values: quantised });
  await save(`${name}.scale`, { dtype: 'f4', shape: [modes, 3], values: steps });
}
const textureScale = Number(values['texture-scale']);
for (const name of (await readdir(join(packDir, 'skin_textures'))).filter((n) => n.endsWith('.jpg')).sort()) {
  const source = join(packDir, 'skin_textures', name),
    target = join(outDir, 'skin_textures', name);
  if (textureScale === 1) {
    await copyFile(source, target);
    continue;
  }
  const { width, height } = await sharp(source).metadata();
  await sharp(source)
    .resize(Math.round(width! * textureScale), Math.round(height! * textureScale), { kernel: 'lanczos3' })
    .jpeg({ quality: 92, chromaSubsampling: '4:4:4' })
    .toFile(target);
}
manifest.landmarks = {
  createdBy: 'scripts/gpu/export-landmark-pack.ts',
  network,
  seed: REGRESSOR_SEED,
  landmarkVertices,
  denseCount: denseVertices.length,
  validationTruth: 'studio_val_landmarks_px.npy: the model landmark vertices projected into each validation crop (crop px, pixel centres at +0.5)',
  skinTextureScale: textureScale,
  basisBits: bits,
};
manifest.fixtures.encoderInitChecksums = {}; // the encoder fixture stays behind: the regressor's replaces it
await writeFile(join(outDir, 'manifest.json'), JSON.stringify(manifest));

let total = 0;
const sizes: string[] = [];
for (const entry of await readdir(outDir, { recursive: true })) {
  const info = await stat(join(outDir, entry));
  if (!info.isFile()) continue;
  total += info.size;
  if (!entry.startsWith('skin_textures/')) sizes.push(`${entry} ${(info.size / 1e6).toFixed(2)} MB`);
}
const textures = (await readdir(join(outDir, 'skin_textures'))).length;
console.log(sizes.join('\n'));
console.log(`skin_textures/ ${textures} files; total ${(total / 1e6).toFixed(2)} MB (${(total / 2 ** 20).toFixed(2)} MiB) in ${outDir}`);
