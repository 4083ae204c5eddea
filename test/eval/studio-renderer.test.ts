import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene, studioSceneRecord } from '../../src/shading/studio-scene.ts';
import { jpegQuantisationTable, jpegRoundTrip } from '../../src/shading/studio-jpeg.ts';
import { computeAmbientOcclusion } from '../../src/shading/studio-shadow-map.ts';
import { paintOccluders } from '../../src/shading/studio-occluders.ts';
import { computeVertexNormalsArray } from '../../src/geometry/vertex-normals.ts';
import { trianglesWithinVertexRange } from '../../src/morphable/morphable-model.ts';
import { hashSeed } from '../../src/common/seeded-random.ts';
import { StudioRandom } from '../../src/shading/studio-random.ts';
import { sharedModel } from '../helpers/model.ts';

test('seeded random and seed hashing are deterministic and distinct per stream', () => {
  const a = new StudioRandom(7),
    b = new StudioRandom(7);
  for (let i = 0; i < 100; i++) assert.equal(a.next(), b.next());
  assert.notEqual(hashSeed('benchmark', 1, 0), hashSeed('train', 1, 0));
  assert.notEqual(hashSeed('benchmark', 1, 0), hashSeed('benchmark', 1, 1));
  const normals = Array.from({ length: 20000 }, () => a.normal());
  const mean = normals.reduce((s, x) => s + x, 0) / normals.length;
  const variance = normals.reduce((s, x) => s + (x - mean) ** 2, 0) / normals.length;
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `mean ${mean}, variance ${variance}`);
});

test('studio photo: deterministic for a seed, a lit face over a background, truth consistent with the image', async () => {
  const model = await sharedModel();
  const scene = sampleStudioScene(model, 12345, { width: 256, height: 256 });
  const first = renderStudioPhoto(model, scene);
  const second = renderStudioPhoto(model, sampleStudioScene(model, 12345, { width: 256, height: 256 }));
  assert.deepEqual(first.image.data, second.image.data);
  const other = renderStudioPhoto(model, sampleStudioScene(model, 999, { width: 256, height: 256 }));
  assert.notDeepEqual(first.image.data, other.image.data);

  const { image, truth } = first;
  assert.equal(image.width, 256);
  assert.ok(Math.abs(truth.anglesDeg[1]) <= 60 && Math.abs(truth.anglesDeg[0]) <= 15 && Math.abs(truth.anglesDeg[2]) <= 10);
  // Landmarks inside the image; face height (brow to chin) a sensible fraction of it.
  for (let k = 0; k < 68; k++) {
    assert.ok(truth.landmarks2d[2 * k] > 0 && truth.landmarks2d[2 * k] < 256 && truth.landmarks2d[2 * k + 1] > 0 && truth.landmarks2d[2 * k + 1] < 256);
  }
  const chinToBrow = Math.abs(truth.landmarks2d[2 * 8 + 1] - truth.landmarks2d[2 * 19 + 1]);
  assert.ok(chinToBrow > 0.12 * 256 && chinToBrow < 0.5 * 256, `chin to brow ${chinToBrow} px`);
  // The nose tip shows shading variation (texture + light), not a flat colour.
  const nose = [Math.round(truth.landmarks2d[2 * 30]), Math.round(truth.landmarks2d[2 * 30 + 1])];
  const values: number[] = [];
  for (let dy = -15; dy <= 15; dy++)
    for (let dx = -15; dx <= 15; dx++) {
      const i = 4 * ((nose[1] + dy) * 256 + nose[0] + dx);
      values.push(image.data[i] + image.data[i + 1] + image.data[i + 2]);
    }
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  assert.ok(std > 3, `face patch std ${std}`);
  assert.ok(mean > 30, `face patch is lit (mean ${mean})`);
  assert.equal(truth.verticesModel.length, model.vertexCount * 3);
});

test('studio scenes follow the configured ranges', async () => {
  const model = await sharedModel();
  let maxYaw = 0;
  for (let i = 0; i < 40; i++) {
    const scene = sampleStudioScene(model, hashSeed('range', i));
    maxYaw = Math.max(maxYaw, Math.abs(scene.anglesDeg[1]));
    assert.ok(Math.abs(scene.anglesDeg[1]) <= 60);
    assert.ok(scene.expression.every((w) => w >= 0 && w <= 0.7));
    assert.ok(scene.translationMm[2] < -200, 'face in front of the camera');
  }
  assert.ok(maxYaw > 40, 'yaw range is used');
});

test('JPEG round trip: standard tables scaled by quality, 8×8 blocking, 4:2:0 chroma smearing', () => {
  assert.equal(jpegQuantisationTable(50, false)[0], 16, 'quality 50 is the Annex K table');
  assert.equal(jpegQuantisationTable(75, false)[0], 8);
  assert.equal(jpegQuantisationTable(50, true)[63], 99);
  const width = 64,
    height = 64;
  const random = new StudioRandom(3);
  const source = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let k = 0; k < 3; k++) source[3 * (y * width + x) + k] = 60 + 2 * x + y + 25 * random.normal();
  const errorAt = (quality: number) => {
    const copy = source.slice();
    jpegRoundTrip(copy, width, height, quality);
    return { copy, rms: Math.sqrt(copy.reduce((s, v, i) => s + (v - Math.min(255, Math.max(0, source[i]))) ** 2, 0) / copy.length) };
  };
  const high = errorAt(95),
    low = errorAt(60);
  assert.ok(high.rms > 0.5 && high.rms < low.rms, `rms q95 ${high.rms}, q60 ${low.rms}`);
  // Blocking: on a smooth image, the output's jumps across 8-pixel block borders stray from the
  // input's more than jumps inside blocks do.
  const smoothImage = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let k = 0; k < 3; k++) smoothImage[3 * (y * width + x) + k] = 120 + 60 * Math.sin(x / 9 + k) * Math.cos(y / 11);
  const blocky = smoothImage.slice();
  jpegRoundTrip(blocky, width, height, 40);
  let across = 0,
    inside = 0;
  for (let y = 0; y < height; y++)
    for (let x = 0; x + 1 < width; x++) {
      const p = 3 * (y * width + x);
      const jump = Math.abs(blocky[p + 1] - smoothImage[p + 1] - (blocky[p + 4] - smoothImage[p + 4]));
      if (x % 8 === 7) across += jump / (height * 7);
      else inside += jump / (height * 56);
    }
  assert.ok(across > 1.5 * inside, `block edges ${across} vs inside ${inside}`);
  // One red pixel on grey: its colour spreads to neighbours (chroma at half resolution), its luma stays put.
  const dot = new Float32Array(16 * 16 * 3).fill(128);
  dot.set([250, 60, 60], 3 * (8 * 16 + 8));
  jpegRoundTrip(dot, 16, 16, 95);
  const redness = (x: number, y: number) => dot[3 * (y * 16 + x)] - dot[3 * (y * 16 + x) + 1];
  // Before compression the dot's redness (R − G) is 190 and its neighbours' 0.
  assert.ok(redness(8, 8) > 3 && redness(8, 8) < 95, `dot keeps some but not all of its colour (${redness(8, 8)})`);
  assert.ok(redness(9, 8) > 3, `colour smeared to the pixel sharing its chroma sample (${redness(9, 8)})`);
});

test('ambient occlusion: darker in the eye sockets and beside the nose than on the nose tip and forehead', async () => {
  const model = await sharedModel();
  const triangles = trianglesWithinVertexRange(model.triangles, model.vertexCount);
  const normals = computeVertexNormalsArray(model.neutral, triangles);
  const occlusion = computeAmbientOcclusion(model.neutral, normals, triangles, { directionCount: 16, mapSizePx: 128 });
  const at = (k: number) => occlusion[model.landmarkVertexIndices[k]];
  assert.ok(occlusion.every((v) => v >= 0 && v <= 1));
  const noseTip = at(30),
    innerEyeCorners = (at(39) + at(42)) / 2,
    noseWings = (at(31) + at(35)) / 2;
  assert.ok(noseTip > 0.9, `nose tip open (${noseTip})`);
  assert.ok(innerEyeCorners < noseTip - 0.1, `inner eye corners ${innerEyeCorners} vs nose tip ${noseTip}`);
  assert.ok(noseWings < noseTip - 0.05, `nose wings ${noseWings} vs nose tip ${noseTip}`);
});

test('occluders: a hand covers skin-coloured pixels near the jaw, hair strands are thin dark lines; all recorded', async () => {
  const model = await sharedModel();
  const base = sampleStudioScene(model, 4242, { width: 192, height: 192, hairProbability: 0, handProbability: 0 });
  const withHand = sampleStudioScene(model, 4242, { width: 192, height: 192, hairProbability: 0, handProbability: 1 });
  const withHair = sampleStudioScene(model, 4242, { width: 192, height: 192, hairProbability: 1, handProbability: 0 });
  assert.equal(base.occluders.hand, null);
  assert.ok(withHand.occluders.hand && withHair.occluders.hair && withHair.occluders.hair.strands.length >= 5);
  const linear = () => new Float32Array(192 * 192 * 3).fill(0.5);
  const frame = { originPx: [96, 80] as [number, number], unitPx: 40 };
  const handImage = linear();
  const handCoverage = paintOccluders(handImage, 192, 192, withHand.occluders, frame, 1);
  const handFraction = handCoverage.reduce((s, c) => s + c, 0) / handCoverage.length;
  assert.ok(handFraction > 0.02 && handFraction < 0.3, `hand area ${handFraction}`);
  const tone = withHand.occluders.hand!.toneRgb;
  const full = handCoverage.findIndex((c) => c === 1);
  assert.ok(Math.abs(handImage[3 * full] / handImage[3 * full + 2] - tone[0] / tone[2]) < 0.05, 'hand has the skin tone');
  const hairImage = linear();
  const hairCoverage = paintOccluders(hairImage, 192, 192, withHair.occluders, frame, 1);
  const hairFraction = hairCoverage.reduce((s, c) => s + c, 0) / hairCoverage.length;
  assert.ok(hairFraction > 0.003 && hairFraction < 0.1, `hair area ${hairFraction}`);
  // Renders with and without the occluders differ; the record is plain JSON and complete.
  const plain = renderStudioPhoto(model, base).image.data,
    occluded = renderStudioPhoto(model, withHand).image.data;
  const changed = plain.filter((v, i) => Math.abs(v - occluded[i]) > 30).length / plain.length;
  assert.ok(changed > 0.01, `the hand shows in the render (${changed})`);
  const record = studioSceneRecord(withHand);
  assert.deepEqual(JSON.parse(JSON.stringify(record)), record);
  for (const key of ['identity', 'expression', 'anglesDeg', 'light', 'specular', 'skin', 'irisRgb', 'background', 'post', 'ambientOcclusion', 'occluders'])
    assert.ok(key in record, key);
});
