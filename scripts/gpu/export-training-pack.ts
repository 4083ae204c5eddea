/**
 * Everything scripts/gpu/train_shape_encoder.py needs on a machine without Node or the network,
 * in one folder (default `.gpu-pack/`, git-ignored; carry it to the GPU machine):
 *   geometry: the render mesh (pack-geometry.ts) as .npy, identity/expression shapes in float16;
 *   skin_textures/*.jpg: skin albedos of random studio skins, baked in UV space (sRGB);
 *   studio_val_*: real studio renders detected and cut as `facegar reconstruct` cuts them, with truth;
 *   fixtures: encoder input crops + the TS encoder's raw outputs at its initial weights (seed 1),
 *     per-tensor checksums of those weights, scenes with the TS crop-frame targets, and a TS
 *     rasterisation (triangle ids, normal map) of the face area in a crop camera;
 *   manifest.json (written last: a pack without it is incomplete): constants, the alignment rule,
 *     output standardisation, the shipped GAR's mean latent w̄.
 * The model is read from $FACEGAR_MODEL_DIR (or --model). Never commit the pack.
 *
 *   node --import tsx scripts/gpu/export-training-pack.ts [--out .gpu-pack] [--val-count 500] [--textures 64]
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { createFaceDetector } from '../../src/detect/index.ts';
import { ALIGNED_CROP_TEMPLATE, faceCropTransform } from '../../src/detect/align-face-crop.ts';
import { decodeSafetensors } from '../../src/gar/safetensors.ts';
import { cameraToClipArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { computeVertexNormalsArray } from '../../src/geometry/vertex-normals.ts';
import { CROP_DEPTH_REF_MM, CROP_FOCAL_PER_SIDE, cropPoseOfPhotoFit, cropPoseToCamera, landmarkPivotMm } from '../../src/invert/crop-frame.ts';
import { encoderNetworkConfig, encoderOutputLayout } from '../../src/invert/encoder-config.ts';
import { FaceEncoder } from '../../src/invert/face-encoder.ts';
import { directoryReader, loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { DETECTOR_LANDMARK_VERTICES } from '../../src/morphable/detector-landmark-vertices.ts';
import { evaluateMorphableModel } from '../../src/morphable/morphable-model.ts';
import { rasterize } from '../../src/raster/rasterize.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { hashSeed } from '../../src/common/seeded-random.ts';
import { encodeNpy, type NpyArray } from './npy-file.ts';
import { bakeSkinTexture, loadRenderMesh, MATERIALS, skinTexelMap } from './pack-geometry.ts';
import { WIDE_SCENE_CONFIG, cropTargets, detectorLikeLandmarks, renderValidationSet, sceneRotation, targetSize } from './pack-studio-set.ts';

const PACK_FORMAT = 1;
/** The encoder seed the TS trainer uses for train seed 0 (FaceEncoder(network, 2·seed + 1)). */
const ENCODER_SEED = 1;
const PARITY_CROPS = 8;
const POSE_FIXTURE_SCENES = 16;

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: '.gpu-pack' },
    model: { type: 'string' },
    'val-count': { type: 'string', default: '500' },
    textures: { type: 'string', default: '64' },
    'texture-tile': { type: 'string', default: '512' },
    preset: { type: 'string', default: 'base' },
    'channel-base': { type: 'string', default: '8192' },
    'w-dim': { type: 'string', default: '128' },
    gar: { type: 'string', default: 'models/gar-small' },
    'stats-samples': { type: 'string', default: '4096' },
  },
});
const outDir = resolve(values.out!);
await initBackend({ backend: 'wasm' });
const loaded = await loadMorphableModel({ modelDir: values.model });
const model = loaded.model;
const K = model.identityCount,
  E = model.expressionNames.length;
const network = encoderNetworkConfig(
  values.preset!,
  { identityCount: K, expressionCount: E, wDim: Number(values['w-dim']) },
  { channelBase: Number(values['channel-base']) },
);
const S = network.resolution;
const started = performance.now();
const log = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${line}`);
await rm(outDir, { recursive: true, force: true });
await mkdir(join(outDir, 'skin_textures'), { recursive: true });
const save = (name: string, array: NpyArray) => writeFile(join(outDir, name), encodeNpy(array));

// Geometry.
log(`reading the full ICT-FaceKit mesh from ${loaded.sourceDir}`);
const mesh = await loadRenderMesh(directoryReader(loaded.sourceDir), model.expressionNames, (done, total) => {
  if (done % 40 === 0 || done === total) log(`shapes ${done}/${total}`);
});
const V = mesh.sourceVertices.length,
  F = mesh.triangles.length / 3;
for (let i = 0; i < model.vertexCount * 3; i++) if (mesh.neutral[i] !== model.neutral[i]) throw new Error('render mesh face area differs from the model');
for (let i = 0; i < model.triangles.length; i++)
  if (mesh.triangles[i] !== model.triangles[i]) throw new Error('render mesh face triangles differ from the model');
await save('neutral.npy', { dtype: 'f4', shape: [V, 3], values: mesh.neutral });
await save('identity_basis.npy', { dtype: 'f2', shape: [K, V, 3], values: mesh.identityBasis });
await save('expression_basis.npy', { dtype: 'f2', shape: [E, V, 3], values: mesh.expressionBasis });
await save('triangles.npy', { dtype: 'i4', shape: [F, 3], values: mesh.triangles });
await save('triangle_uvs.npy', { dtype: 'f4', shape: [F, 3, 2], values: mesh.triangleUvs });
await save('triangle_material.npy', { dtype: 'u1', shape: [F], values: mesh.triangleMaterial });
await save('vertex_eye_radius_mm.npy', { dtype: 'f4', shape: [V], values: mesh.eyeRadiusMm });
await save('vertex_ambient_occlusion.npy', { dtype: 'f4', shape: [V], values: mesh.ambientOcclusion });
log(`render mesh: ${V} vertices, ${F} triangles (face area ${model.vertexCount} / ${mesh.faceTriangleCount})`);

// Skin textures.
const tile = Number(values['texture-tile']);
const texels = skinTexelMap(mesh, model, tile);
const textureCount = Number(values.textures);
for (let i = 0; i < textureCount; i++) {
  const skin = sampleStudioScene(model, hashSeed('gpu-pack-skin', i)).skin;
  const rgb = bakeSkinTexture(texels, skin);
  await sharp(Buffer.from(rgb), { raw: { width: texels.widthPx, height: texels.heightPx, channels: 3 } })
    .jpeg({ quality: 92, chromaSubsampling: '4:4:4' })
    .toFile(join(outDir, 'skin_textures', `${String(i).padStart(3, '0')}.jpg`));
  if ((i + 1) % 16 === 0) log(`skin textures ${i + 1}/${textureCount}`);
}

// Output standardisation and the pose fixture: wide studio scenes framed by the detector-like landmarks.
const statsCount = Number(values['stats-samples']);
const poseMean = new Float64Array(7),
  poseSquare = new Float64Array(7);
const poseFixture: Record<string, unknown>[] = [];
for (let i = 0; i < statsCount; i++) {
  const scene = sampleStudioScene(model, hashSeed('gpu-pack-stats', i), WIDE_SCENE_CONFIG);
  const landmarks68 = detectorLikeLandmarks(model, scene);
  const cropFromImage = faceCropTransform(landmarks68, S);
  const row = cropTargets(model, scene, cropFromImage, S);
  for (let k = 0; k < 7; k++) {
    poseMean[k] += row[K + E + k] / statsCount;
    poseSquare[k] += row[K + E + k] ** 2 / statsCount;
  }
  if (i < POSE_FIXTURE_SCENES) {
    poseFixture.push({
      identity: Array.from(scene.identity),
      expression: Array.from(scene.expression),
      anglesDeg: scene.anglesDeg,
      translationMm: scene.translationMm,
      focalPx: scene.focalPx,
      principalPointPx: scene.principalPointPx,
      widthPx: scene.width,
      heightPx: scene.height,
      landmarks68: Array.from(landmarks68),
      cropFromImage,
      target: Array.from(row),
    });
  }
}
const layout = encoderOutputLayout(network);
const outputMean = new Float32Array(layout.size),
  outputStd = new Float32Array(layout.size).fill(1);
outputMean.fill(-3, layout.expression, layout.euler); // identity: the prior N(0, 1); expressions: logits near 0.05, as in TS
for (let k = 0; k < 7; k++) {
  outputMean[layout.euler + k] = poseMean[k];
  outputStd[layout.euler + k] = Math.max(Math.sqrt(Math.max(poseSquare[k] - poseMean[k] ** 2, 0)), 1e-3);
}
log(`standardisation of the pose outputs from ${statsCount} wide scenes: mean ${Array.from(poseMean, (m) => m.toFixed(3)).join(' ')}`);

// Rasteriser fixture: the face area in the crop camera of two fixture scenes (the studio draws it with back-face culling).
const rasterFixture: Record<string, unknown>[] = [];
const rasterArrays: Float32Array[] = [];
const rasterIds: Int32Array[] = [];
for (const index of [0, 3]) {
  const scene = sampleStudioScene(model, hashSeed('gpu-pack-stats', index), WIDE_SCENE_CONFIG);
  const { frame, pose } = cropPoseOfPhotoFit(
    model,
    { rotation: sceneRotation(scene), translationMm: scene.translationMm, focalPx: scene.focalPx, principalPointPx: scene.principalPointPx },
    faceCropTransform(detectorLikeLandmarks(model, scene), S),
    S,
  );
  const cropCamera = cropPoseToCamera(pose, frame);
  const points = transformPointsArray(evaluateMorphableModel(model, scene.identity, scene.expression), cropCamera.rotation, cropCamera.translationMm);
  const camera = { focalPx: cropCamera.focalPx, principalPointPx: frame.principalPointPx, width: S, height: S };
  const raster = rasterize(cameraToClipArray(points, camera), model.triangles, { width: S, height: S }, { cullBackFaces: true });
  const vertexNormals = computeVertexNormalsArray(points, model.triangles);
  const normals = new Float32Array(S * S * 3);
  for (let p = 0; p < S * S; p++) {
    const id = raster.triangleIdPlusOne[p];
    if (!id) continue;
    const b1 = raster.barycentrics[2 * p],
      b2 = raster.barycentrics[2 * p + 1],
      weights = [1 - b1 - b2, b1, b2];
    const n = [0, 1, 2].map((a) => weights.reduce((s, w, k) => s + w * vertexNormals[3 * model.triangles[3 * (id - 1) + k] + a], 0));
    const length = Math.hypot(...n) || 1;
    normals.set(
      n.map((c) => c / length),
      3 * p,
    );
  }
  rasterFixture.push({ focalPx: camera.focalPx, principalPointPx: camera.principalPointPx, sizePx: S, yawDeg: scene.anglesDeg[1] });
  rasterArrays.push(points, normals);
  rasterIds.push(raster.triangleIdPlusOne);
}
await save('fixture_raster_points.npy', { dtype: 'f4', shape: [2, model.vertexCount, 3], values: Float32Array.from([...rasterArrays[0], ...rasterArrays[2]]) });
await save('fixture_raster_normals.npy', { dtype: 'f4', shape: [2, S, S, 3], values: Float32Array.from([...rasterArrays[1], ...rasterArrays[3]]) });
await save('fixture_raster_ids.npy', { dtype: 'i4', shape: [2, S, S], values: Int32Array.from([...rasterIds[0], ...rasterIds[1]]) });

// Studio validation set (the slow part: one studio render and one detection per crop).
const valCount = Number(values['val-count']);
const detector = await createFaceDetector(await loadDetectorModelFiles());
const validation = await renderValidationSet(
  model,
  detector,
  valCount,
  S,
  (i) => hashSeed('gpu-pack-validation', i),
  (done) => {
    if (done % 25 === 0 || done === valCount) log(`studio validation renders ${done}/${valCount}`);
  },
);
detector.dispose();
const columns = Math.min(valCount, 20),
  rows = Math.ceil(valCount / columns);
const mosaic = new Uint8Array(columns * S * rows * S * 3);
for (let i = 0; i < valCount; i++) {
  const left = (i % columns) * S,
    top = Math.floor(i / columns) * S;
  for (let y = 0; y < S; y++)
    mosaic.set(validation.crops.subarray((i * S * S + y * S) * 3, (i * S * S + (y + 1) * S) * 3), ((top + y) * columns * S + left) * 3);
}
// 4:4:4 and 8-pixel-aligned tiles: no block or chroma sample straddles two crops.
await sharp(Buffer.from(mosaic), { raw: { width: columns * S, height: rows * S, channels: 3 } })
  .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
  .toFile(join(outDir, 'studio_val_crops.jpg'));
await save('studio_val_targets.npy', { dtype: 'f4', shape: [valCount, targetSize(model)], values: validation.targets });
await save('studio_val_alignment_offsets_px.npy', { dtype: 'f4', shape: [valCount, 4, 2], values: validation.alignmentOffsetsPx });
log(`studio validation: ${validation.records.filter((r) => r.detected).length}/${valCount} detected`);

// Encoder parity: the TS encoder at its initial weights on the first crops (exact floats, −1…1).
const encoder = new FaceEncoder(network, ENCODER_SEED);
const parityCount = Math.min(PARITY_CROPS, valCount);
const parityCrops = Float32Array.from(validation.crops.subarray(0, parityCount * S * S * 3), (v) => v / 127.5 - 1);
const rawOutputs = tf.tidy(() => encoder.applyRaw(tf.tensor4d(parityCrops, [parityCount, S, S, 3])).dataSync() as Float32Array);
await save('fixture_encoder_crops.npy', { dtype: 'f4', shape: [parityCount, S, S, 3], values: parityCrops });
await save('fixture_encoder_raw_outputs.npy', { dtype: 'f4', shape: [parityCount, layout.size], values: rawOutputs });
const initChecksums = Object.fromEntries(
  encoder
    .namedParameters()
    .filter(([name]) => !name.startsWith('output_'))
    .map(([name, v]) => {
      const data = v.dataSync();
      let sum = 0,
        square = 0;
      for (const x of data) {
        sum += x;
        square += x * x;
      }
      return [name, { shape: v.shape, sum, sumOfSquares: square, first: Array.from(data.subarray(0, 4)) }];
    }),
);
encoder.dispose();

// The shipped GAR's mean latent: what the exported encoder's w outputs are set to.
const garDir = resolve(values.gar!);
const garManifest = JSON.parse(await readFile(join(garDir, 'checkpoint.json'), 'utf8')) as { weightsPath: string; config: { network: { wDim: number } } };
const wAvg = decodeSafetensors(await readFile(join(garDir, garManifest.weightsPath))).tensors.get('G_ema.mapping.w_avg');
if (!wAvg || wAvg.values.length !== network.wDim) throw new Error(`${garDir}: no G_ema.mapping.w_avg of ${network.wDim} values`);

const manifest = {
  format: PACK_FORMAT,
  createdBy: 'scripts/gpu/export-training-pack.ts',
  model: {
    name: model.name,
    identityCount: K,
    expressionNames: model.expressionNames,
    faceVertexCount: model.vertexCount,
    narrowFaceVertexCount: model.narrowFaceVertexCount,
    licence: 'MIT (ICT-FaceKit)',
  },
  renderMesh: {
    vertexCount: V,
    triangleCount: F,
    faceTriangleCount: mesh.faceTriangleCount,
    sourceVertexRanges: 'face+head/neck+mouth socket 0–13293, eyeballs 21451–24590, teeth with z > 80 mm',
    materials: MATERIALS,
    irisRadiusMm: mesh.irisRadiusMm,
    texturesUv: 'u ∈ [0, 2) over the texture width, v up (row 0 = v 1)',
  },
  landmarkVertexIndices: Array.from(model.landmarkVertexIndices),
  detectorLandmarkVertexIndices: DETECTOR_LANDMARK_VERTICES,
  alignment: {
    template: ALIGNED_CROP_TEMPLATE,
    leftEye: [36, 37, 38, 39, 40, 41],
    rightEye: [42, 43, 44, 45, 46, 47],
    mouthCorners: [48, 54],
    rule: 'least-squares similarity (rotation, uniform scale, shift) of the two eye centres and two mouth corners onto template × crop side',
  },
  cropFrame: {
    focalPerSide: CROP_FOCAL_PER_SIDE,
    depthRefMm: CROP_DEPTH_REF_MM,
    pivotMm: landmarkPivotMm(model),
    principalPoint: 'the photo centre mapped into the crop',
  },
  network: { ...network, seed: ENCODER_SEED, layout },
  outputStandardisation: { mean: Array.from(outputMean), std: Array.from(outputStd) },
  wAvg: Array.from(wAvg.values),
  gar: { dir: values.gar, weightsPath: garManifest.weightsPath },
  skinTextures: { count: textureCount, widthPx: texels.widthPx, heightPx: texels.heightPx, encoding: 'sRGB 8-bit JPEG of linear albedo' },
  studioValidation: {
    count: valCount,
    columns,
    sizePx: S,
    records: validation.records,
    targetLayout: 'identity K | expression weights E | euler 3 rad | pivotPx 2 | logFocal | logDepth',
  },
  fixtures: { encoderInitChecksums: initChecksums, poseScenes: poseFixture, raster: rasterFixture },
  wideSceneConfig: WIDE_SCENE_CONFIG,
};
await writeFile(join(outDir, 'manifest.json'), JSON.stringify(manifest));
log(`pack written to ${outDir}`);
