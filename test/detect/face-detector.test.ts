import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createFaceDetector, DEFAULT_FACE_DETECTOR_CONFIG, type DetectedFace, type FaceDetector } from '../../src/detect/index.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { sharedModel } from '../helpers/model.ts';
import { boxIoU } from '../../src/detect/blazeface.ts';
import { averageMirroredIbug68, cropCornersMoveFraction } from '../../src/detect/face-detector.ts';
import { IBUG68_MIRROR } from '../../src/detect/mesh-landmark-map.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { createRgbaImage, mirrorImage, padImageMirror, warpAffine, type RgbaImage } from '../../src/common/image.ts';
import { UsageError } from '../../src/common/errors.ts';
import type { DetectorModelFiles } from '../../src/detect/face-detector.ts';
import { join } from 'node:path';
import { frameWithFaceAt, loadFacePicture } from '../helpers/moving-face.ts';
import { photosDir, sharedDir } from '../helpers/shared-data.ts';
import { fivePointsFromIbug68, listExamplePhotos, normalisedMeanError, readFivePoints, type FivePoints } from './photo-data.ts';

let files: DetectorModelFiles;
let detector: FaceDetector;

before(async () => {
  files = await loadDetectorModelFiles();
  detector = await createFaceDetector(files);
});
after(() => detector.dispose());

/** Copy `image` into `canvas` with its top-left corner at (x0, y0). */
function paste(canvas: RgbaImage, image: RgbaImage, x0: number, y0: number): void {
  for (let y = 0; y < image.height; y++) {
    const row = image.data.subarray(y * image.width * 4, (y + 1) * image.width * 4);
    canvas.data.set(row, ((y + y0) * canvas.width + x0) * 4);
  }
}

function shifted(points: FivePoints, dx: number, dy: number): FivePoints {
  return points.map(([x, y]) => [x + dx, y + dy]);
}

describe('example photos', () => {
  test('one face each; eyes, nose tip and mouth corners agree with the 5-point detections', async (t) => {
    const errors: number[] = [];
    for (const photo of await listExamplePhotos()) {
      const image = await decodeImageFile(photo.path);
      const faces = await detector.detect(image);
      assert.equal(faces.length, 1, `${photo.name}: ${faces.length} faces`);
      const error = normalisedMeanError(fivePointsFromIbug68(faces[0].landmarks68), await readFivePoints(photo.name));
      t.diagnostic(
        `${photo.name} ${image.width}x${image.height} error/IOD ${error.toFixed(4)} detection ${faces[0].detectionScore.toFixed(2)} mesh ${faces[0].meshScore.toFixed(2)}`,
      );
      assert.ok(error < 0.1, `${photo.name}: mean error ${error.toFixed(3)} of the inter-ocular distance`);
      assert.ok(faces[0].meshScore > 0.5 && faces[0].detectionScore >= 0.5, `${photo.name}: low scores`);
      errors.push(error);
    }
    assert.equal(errors.length, 17);
    const mean = errors.reduce((s, e) => s + e, 0) / errors.length;
    t.diagnostic(`set mean error/IOD ${mean.toFixed(4)}, max ${Math.max(...errors).toFixed(4)}`);
    assert.ok(mean < 0.06, `set mean error ${mean.toFixed(4)} of the inter-ocular distance`);
  });

  test('landmarks and mesh are laid out as iBUG-68 on an upright face', async () => {
    const [face] = await detector.detect(await decodeImageFile((await listExamplePhotos())[0].path));
    const L = face.landmarks68;
    const x = (i: number) => L[2 * i],
      y = (i: number) => L[2 * i + 1];
    for (let i = 0; i < 8; i++) assert.ok(y(i + 1) > y(i) && y(15 - i) > y(16 - i), `jaw descends to the chin at point ${i + 1}`);
    assert.ok(x(0) < x(8) && x(8) < x(16), 'jaw runs image-left to image-right');
    assert.ok(
      [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16].every((i) => y(8) > y(i)),
      'chin is the lowest jaw point',
    );
    assert.ok(x(36) < x(39) && x(39) < x(42) && x(42) < x(45), 'eye corners left to right');
    assert.ok(x(17) < x(21) && x(22) < x(26) && y(19) < y(37), 'brows over the eyes');
    assert.ok(y(27) < y(30) && y(30) < y(33) && y(33) < y(51) && y(51) < y(57) && y(57) < y(8), 'bridge, tip, nostrils, lips, chin downwards');
    assert.ok(x(48) < x(51) && x(51) < x(54) && y(62) < y(66), 'mouth corners and lips');
    const box = face.box;
    for (let i = 0; i < 468; i++) {
      const px = face.mesh468[3 * i],
        py = face.mesh468[3 * i + 1];
      assert.ok(px >= box.x - 1e-3 && px <= box.x + box.width + 1e-3 && py >= box.y - 1e-3 && py <= box.y + box.height + 1e-3, 'box holds the mesh');
    }
  });
});

describe('several, none, large', () => {
  test('two photos side by side give two faces, largest first', async () => {
    const [big, small] = ['000114.jpg', '000033.jpg'];
    const photos = await listExamplePhotos();
    const bigImage = await decodeImageFile(photos.find((p) => p.name === big)!.path);
    const smallImage = await decodeImageFile(photos.find((p) => p.name === small)!.path);
    const canvas = createRgbaImage(bigImage.width + smallImage.width, Math.max(bigImage.height, smallImage.height));
    paste(canvas, bigImage, 0, 0);
    paste(canvas, smallImage, bigImage.width, 40);
    const faces = await detector.detect(canvas);
    assert.equal(faces.length, 2);
    assert.ok(faces[0].box.width * faces[0].box.height > faces[1].box.width * faces[1].box.height);
    const bigError = normalisedMeanError(fivePointsFromIbug68(faces[0].landmarks68), await readFivePoints(big));
    const smallError = normalisedMeanError(fivePointsFromIbug68(faces[1].landmarks68), shifted(await readFivePoints(small), bigImage.width, 40));
    assert.ok(bigError < 0.1 && smallError < 0.1, `errors ${bigError.toFixed(3)}, ${smallError.toFixed(3)}`);
    const one = await createFaceDetector(files, { maxFaces: 1 });
    try {
      const only = await one.detect(canvas);
      assert.equal(only.length, 1);
      assert.ok(Math.abs(only[0].box.x - faces[0].box.x) < 2, 'maxFaces 1 keeps the largest face');
    } finally {
      one.dispose();
    }
  });

  test('a face rotated 50 degrees in the image plane keeps accurate landmarks', async () => {
    const photo = (await listExamplePhotos()).find((p) => p.name === '000114.jpg')!;
    const image = await decodeImageFile(photo.path);
    const angle = (50 * Math.PI) / 180,
      cos = Math.cos(angle),
      sin = Math.sin(angle);
    const cx = image.width / 2,
      cy = image.height / 2;
    // Rotate about the centre on a canvas of the same size: output → source is the inverse rotation.
    const rotated = warpAffine(
      image,
      { a: cos, b: sin, c: -sin, d: cos, tx: cx - cos * cx - sin * cy, ty: cy + sin * cx - cos * cy },
      image.width,
      image.height,
    );
    const reference = (await readFivePoints(photo.name)).map(
      ([x, y]) => [cos * (x - cx) - sin * (y - cy) + cx, sin * (x - cx) + cos * (y - cy) + cy] as [number, number],
    );
    const faces = await detector.detect(rotated);
    assert.equal(faces.length, 1);
    const error = normalisedMeanError(fivePointsFromIbug68(faces[0].landmarks68), reference);
    assert.ok(error < 0.1, `error ${error.toFixed(3)}`);
  });

  test('blank and empty images give no face', async () => {
    const grey = createRgbaImage(640, 480);
    grey.data.fill(128);
    assert.deepEqual(await detector.detect(grey), []);
    assert.deepEqual(await detector.detect(createRgbaImage(0, 0)), []);
    assert.deepEqual(await detector.detect(createRgbaImage(3, 2)), []);
  });

  test("a 4000 px upscaled photo gives the small photo's landmarks times the scale", async (t) => {
    const photo = (await listExamplePhotos()).find((p) => p.name === '000114.jpg')!;
    const small = await decodeImageFile(photo.path);
    const scale = 4000 / small.width;
    const large = warpAffine(small, { a: 1 / scale, b: 0, c: 0, d: 1 / scale, tx: 0, ty: 0 }, 4000, Math.round(small.height * scale));
    const [smallFace] = await detector.detect(small);
    const started = performance.now();
    const largeFaces = await detector.detect(large);
    t.diagnostic(`detect on ${large.width}x${large.height}: ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(largeFaces.length, 1);
    const reference = fivePointsFromIbug68(smallFace.landmarks68);
    const scaledBack = fivePointsFromIbug68(largeFaces[0].landmarks68).map(([x, y]) => [x / scale, y / scale] as [number, number]);
    const error = normalisedMeanError(scaledBack, reference);
    t.diagnostic(`large/scale vs small: ${error.toFixed(4)} of the inter-ocular distance`);
    assert.ok(error < 0.03, `error ${error.toFixed(4)}`);
    // Depth follows the same scale: compare the spread of z.
    const spread = (f: DetectedFace) => {
      let lo = Infinity,
        hi = -Infinity;
      for (let i = 2; i < f.mesh468.length; i += 3) {
        lo = Math.min(lo, f.mesh468[i]);
        hi = Math.max(hi, f.mesh468[i]);
      }
      return hi - lo;
    };
    const ratio = spread(largeFaces[0]) / scale / spread(smallFace);
    assert.ok(Math.abs(ratio - 1) < 0.1, `z spread ratio ${ratio.toFixed(3)}`);
  });
});

describe('resources and options', () => {
  test('detect() leaves no tensors behind; dispose() frees the models', async (t) => {
    const image = await decodeImageFile((await listExamplePhotos()).find((p) => p.name === '000114.jpg')!.path);
    const beforeCreate = tf.memory().numTensors;
    const own = await createFaceDetector(files);
    const afterCreate = tf.memory().numTensors;
    assert.ok(afterCreate > beforeCreate, 'models hold weight tensors');
    await own.detect(image);
    const runs = 5;
    const started = performance.now();
    for (let i = 0; i < runs; i++) await own.detect(image);
    t.diagnostic(`${((performance.now() - started) / runs).toFixed(1)} ms per detect() on ${image.width}x${image.height}`);
    assert.equal(tf.memory().numTensors, afterCreate);
    own.dispose();
    assert.equal(tf.memory().numTensors, beforeCreate);
    await assert.rejects(own.detect(image), /after dispose/);
  });

  test('bad options and images are usage errors', async () => {
    await assert.rejects(createFaceDetector(files, { maxFaces: 0 }), (e) => e instanceof UsageError && /maxFaces/.test(e.message));
    await assert.rejects(createFaceDetector(files, { minDetectionScore: 1.5 }), UsageError);
    await assert.rejects(createFaceDetector(files, { refineIterations: 0.5 }), UsageError);
    const broken = { width: 4, height: 4, data: new Uint8ClampedArray(3) };
    await assert.rejects(detector.detect(broken), (e) => e instanceof UsageError && /image/.test(e.message));
  });
});

test('track() follows a face that moved 60 px since the last frame as well as a fresh detection does; a blank frame loses it', async () => {
  const picture = await loadFacePicture(join(photosDir, '000002.jpg'), 384);
  const [first] = await detector.detect(frameWithFaceAt(picture, 0));
  const moved = frameWithFaceAt(picture, 60);
  const tracked = await detector.track!(moved, first);
  const [fresh] = await detector.detect(moved);
  assert.ok(tracked);
  let meanPx = 0;
  for (let k = 0; k < 68; k++)
    meanPx += Math.hypot(tracked.landmarks68[2 * k] - fresh.landmarks68[2 * k], tracked.landmarks68[2 * k + 1] - fresh.landmarks68[2 * k + 1]) / 68;
  const eyes = Math.hypot(fresh.landmarks68[2 * 45] - fresh.landmarks68[2 * 36], fresh.landmarks68[2 * 45 + 1] - fresh.landmarks68[2 * 36 + 1]);
  assert.ok(meanPx < 0.05 * eyes, `tracked vs detected: ${meanPx.toFixed(1)} px (eye corners ${eyes.toFixed(0)} px apart)`);
  assert.equal(await detector.track!({ width: 640, height: 480, data: new Uint8ClampedArray(640 * 480 * 4).fill(90) }, first), undefined);
});

describe('turned faces', () => {
  test('a second search takes faces BlazeFace is unsure of when FaceMesh confirms them; off at retryMinDetectionScore 1', async () => {
    const image = await decodeImageFile((await listExamplePhotos())[0].path);
    const picky = await createFaceDetector(files, { minDetectionScore: 0.99 });
    const pickyNoRetry = await createFaceDetector(files, { minDetectionScore: 0.99, retryMinDetectionScore: 1 });
    try {
      const [first] = await detector.detect(image);
      const retried = await picky.detect(image);
      assert.ok(retried.length >= 1, 'this photo also has an unsure face in the background');
      assert.ok(retried[0].detectionScore < 0.99 && retried[0].meshScore >= DEFAULT_FACE_DETECTOR_CONFIG.minMeshScore);
      assert.ok(boxIoU(retried[0].box, first.box) > 0.8, 'the largest is the same face');
      assert.deepEqual(await pickyNoRetry.detect(image), []);
    } finally {
      picky.dispose();
      pickyNoRetry.dispose();
    }
  });

  test("a profile FaceMesh rejects is kept as a fallback face with its low mesh score and BlazeFace's box; off at fallbackMinDetectionScore 1", async () => {
    const model = await sharedModel();
    const strict = await createFaceDetector(files, { fallbackMinDetectionScore: 1 });
    try {
      let fallbacks = 0;
      // Studio renders at 82–89° of yaw: BlazeFace finds such faces, FaceMesh's face flag often falls below 0.25.
      for (const [index, yawDeg] of [
        [0, 88],
        [1, -86],
        [2, 84],
        [3, -82],
        [4, 89],
      ] as const) {
        const { image, truth } = renderStudioPhoto(model, sampleStudioScene(model, 900 + index, { width: 300, height: 300, yawDeg }));
        const found = await detector.detect(image);
        const strictFound = await strict.detect(image);
        assert.ok(found.length >= strictFound.length);
        const face = found[0];
        if (!face || face.meshScore >= DEFAULT_FACE_DETECTOR_CONFIG.minMeshScore) continue;
        fallbacks++;
        assert.equal(strictFound.length, 0, "without the fallback FaceMesh's flag drops the face");
        assert.equal(found.length, 1, 'one fallback face at most');
        assert.ok(face.detectionScore >= DEFAULT_FACE_DETECTOR_CONFIG.fallbackMinDetectionScore);
        const cx = face.box.x + face.box.width / 2,
          cy = face.box.y + face.box.height / 2;
        const xs = Array.from({ length: 68 }, (_, k) => truth.landmarks2d[2 * k]),
          ys = Array.from({ length: 68 }, (_, k) => truth.landmarks2d[2 * k + 1]);
        assert.ok(cx > Math.min(...xs) && cx < Math.max(...xs) && cy > Math.min(...ys) && cy < Math.max(...ys), 'the box is on the face');
      }
      assert.ok(fallbacks >= 1, 'at least one of five profiles needs the fallback');
    } finally {
      strict.dispose();
    }
  });
});

/** 360² studio renders turned by each of `yawsDeg`, scene seeds firstSeed, firstSeed + 1, … */
async function studioRendersAtYaw(firstSeed: number, yawsDeg: number[]): Promise<RgbaImage[]> {
  const model = await sharedModel();
  return yawsDeg.map((yawDeg, index) => renderStudioPhoto(model, sampleStudioScene(model, firstSeed + index, { width: 360, height: 360, yawDeg })).image);
}

/**
 * Mean distance (px) between a photo's points and its mirror image's points mirrored back, by
 * name; `pick` chooses which of a face's point sets. Also returns the photo's points.
 */
async function mirrorDisagreementPx(
  found: FaceDetector,
  image: RgbaImage,
  pick: (face: DetectedFace) => Float32Array | undefined,
): Promise<{ meanPx: number; points: Float32Array }> {
  const [a] = await found.detect(image);
  const [b] = await found.detect(mirrorImage(image));
  const [pa, pb] = [a && pick(a), b && pick(b)];
  assert.ok(pa && pb, 'a face with those points in the photo and in its mirror image');
  let sum = 0;
  for (let k = 0; k < 68; k++) {
    const m = IBUG68_MIRROR[k];
    sum += Math.hypot(pa[2 * k] - (image.width - pb[2 * m]), pa[2 * k + 1] - pb[2 * m + 1]) / 68;
  }
  return { meanPx: sum, points: pa };
}

test(
  'mirrorLandmarkMap: the map also reads FaceMesh in the mirrored crop, so a photo and its mirror image get mirror-image points',
  { timeout: 60_000 },
  async () => {
    await assert.rejects(
      createFaceDetector(files, { mirrorLandmarkMap: 'yes' as unknown as boolean }),
      (e) => e instanceof UsageError && /mirrorLandmarkMap/.test(e.message),
    );
    const single = await createFaceDetector(files, { mirrorLandmarkMap: false });
    try {
      let disagreementMirrored = 0,
        disagreementSingle = 0,
        averagingMovesPx = 0,
        eyeDistancePx = 0;
      for (const image of await studioRendersAtYaw(950, [40, -55])) {
        const mirrored = await mirrorDisagreementPx(detector, image, (face) => face.modelLandmarks68);
        const plain = await mirrorDisagreementPx(single, image, (face) => face.modelLandmarks68);
        disagreementMirrored += mirrored.meanPx;
        disagreementSingle += plain.meanPx;
        for (let k = 0; k < 68; k++)
          averagingMovesPx += Math.hypot(mirrored.points[2 * k] - plain.points[2 * k], mirrored.points[2 * k + 1] - plain.points[2 * k + 1]) / 68;
        eyeDistancePx += Math.hypot(plain.points[90] - plain.points[72], plain.points[91] - plain.points[73]);
      }
      assert.ok(
        disagreementMirrored < 0.85 * disagreementSingle,
        `photo vs mirror photo: ${disagreementMirrored.toFixed(2)} px with the mirrored reading, ${disagreementSingle.toFixed(2)} px without`,
      );
      assert.ok(
        averagingMovesPx > 0 && averagingMovesPx < 0.1 * eyeDistancePx,
        `the average moves points ${averagingMovesPx.toFixed(2)} px (eyes ${eyeDistancePx.toFixed(0)} px apart)`,
      );
    } finally {
      single.dispose();
    }
  },
);

test('averageMirroredIbug68: each point with its mirror partner of the mirrored fit', () => {
  const direct = Float32Array.from({ length: 136 }, (_, i) => i);
  // A mirrored fit that found the same points puts each at its partner's name: the mean is the points.
  const sameFound = new Float32Array(136);
  for (let k = 0; k < 68; k++) [sameFound[2 * IBUG68_MIRROR[k]], sameFound[2 * IBUG68_MIRROR[k] + 1]] = [direct[2 * k], direct[2 * k + 1]];
  assert.deepEqual(averageMirroredIbug68(direct, sameFound), direct);
  // Left eye's outer corner (36) pairs with the right eye's (45).
  const shifted = Float32Array.from(sameFound);
  shifted[2 * 45] += 4;
  shifted[2 * 45 + 1] -= 2;
  const mean = averageMirroredIbug68(direct, shifted);
  assert.deepEqual([mean[72], mean[73]], [direct[72] + 2, direct[73] - 1]);
  assert.equal(mean[90], direct[90]);
  assert.throws(() => averageMirroredIbug68(direct, new Float32Array(10)), /136 numbers/);
});

test(
  "mirrorFaceMeshLandmarks: FaceMesh's own 68 points averaged with the mirrored pass, so a photo and its mirror image agree better",
  { timeout: 60_000 },
  async () => {
    await assert.rejects(
      createFaceDetector(files, { mirrorFaceMeshLandmarks: 1 as unknown as boolean }),
      (e) => e instanceof UsageError && /mirrorFaceMeshLandmarks/.test(e.message),
    );
    const plainDetector = await createFaceDetector(files, { mirrorFaceMeshLandmarks: false });
    try {
      let disagreementAveraged = 0,
        disagreementPlain = 0;
      for (const image of await studioRendersAtYaw(960, [8, -18])) {
        disagreementAveraged += (await mirrorDisagreementPx(detector, image, (face) => face.landmarks68)).meanPx;
        disagreementPlain += (await mirrorDisagreementPx(plainDetector, image, (face) => face.landmarks68)).meanPx;
      }
      assert.ok(
        disagreementAveraged < 0.85 * disagreementPlain,
        `photo vs mirror photo: ${disagreementAveraged.toFixed(2)} px averaged, ${disagreementPlain.toFixed(2)} px without`,
      );
    } finally {
      plainDetector.dispose();
    }
  },
);

test("tracking's same-crop test: corner movement as a fraction of the crop's side", () => {
  // A 192-px crop of a 384-px square at (100, 50): crop px → image px scale 2.
  const crop = { a: 2, b: 0, c: 0, d: 2, tx: 100, ty: 50 };
  assert.equal(cropCornersMoveFraction(crop, crop, 192), 0);
  // Shifted 7.68 px right: 2 % of the 384-px side.
  assert.ok(Math.abs(cropCornersMoveFraction(crop, { ...crop, tx: 107.68 }, 192) - 0.02) < 1e-12);
  // Scaled about its top-left corner by 1.1: the far corner moves 0.1 × √2 of the side.
  assert.ok(Math.abs(cropCornersMoveFraction(crop, { ...crop, a: 2.2, d: 2.2 }, 192) - 0.1 * Math.SQRT2) < 1e-12);
  // Turned 90° about the top-left corner: the far corner moves √2 × its diagonal, 2 sides.
  assert.ok(Math.abs(cropCornersMoveFraction(crop, { a: 0, b: -2, c: 2, d: 0, tx: 100, ty: 50 }, 192) - 2) < 1e-12);
});

test('a face that fills a tight crop is found by the search in the padded photo, in the photo’s own pixels', async () => {
  // A UTKFace crop (160 px, the face to its edges) that BlazeFace misses as it is.
  const image = await decodeImageFile(join(sharedDir, 'faces/utkface/38_0_1_20170116201824880.jpg'));
  const unpadded = await createFaceDetector(files, { paddedSearchFraction: 0 });
  try {
    assert.equal((await unpadded.detect(image)).length, 0, 'missed without the padded search');
    const [face] = await detector.detect(image);
    assert.ok(face, 'found with it');
    // The same search by hand: pad by a quarter of the side (mirrored, as the detector does), detect, move back.
    const padPx = Math.round(DEFAULT_FACE_DETECTOR_CONFIG.paddedSearchFraction * Math.max(image.width, image.height));
    const canvas = padImageMirror(image, padPx);
    const [byHand] = await unpadded.detect(canvas);
    for (const [name, points] of [
      ['landmarks68', face.landmarks68],
      ['modelLandmarks68', face.modelLandmarks68!],
    ] as const) {
      const expected = name === 'landmarks68' ? byHand.landmarks68 : byHand.modelLandmarks68!;
      points.forEach((v, i) => assert.ok(Math.abs(v + padPx - expected[i]) < 1e-3, `${name}[${i}]: ${v} + ${padPx} vs ${expected[i]}`));
    }
    assert.ok(Math.abs(face.box.x + padPx - byHand.box.x) < 1e-3 && Math.abs(face.box.y + padPx - byHand.box.y) < 1e-3);
    // The eyes lie inside the photo.
    for (const k of [36, 45]) assert.ok(face.landmarks68[2 * k] > 0 && face.landmarks68[2 * k] < image.width, `point ${k}`);
  } finally {
    unpadded.dispose();
  }
});
