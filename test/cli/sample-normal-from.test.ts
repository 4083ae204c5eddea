// `facegar sample --normal-from photo`: faces fitted by the graphics path, cropped and framed as
// the GAR path does, rendered by a tiny random-weight GAR (exported layout: G_ema only).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.ts';
import { ALIGNED_CROP_TEMPLATE } from '../../src/detect/align-face-crop.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import type { RgbaImage } from '../../src/common/image.ts';
import { hasStackTrace, runCli } from '../helpers/cli.ts';
import { sharedModel } from '../helpers/model.ts';
import { photosDir } from '../helpers/shared-data.ts';
import { writeTinyGarModels } from './reconstruct-gar-fixtures.ts';

const R = 32; // the tiny GAR's resolution
let work: string, shipped: string, garDir: string, empty: string;
let twoFaces: string, notes: string, blank: string;

before(async () => {
  await initBackend({ backend: 'wasm' });
  work = await mkdtemp(join(tmpdir(), 'facegar-sample-from-'));
  shipped = join(work, 'models');
  garDir = join(shipped, 'gar-small');
  empty = join(work, 'no-models');
  await mkdir(empty);
  await writeTinyGarModels(await sharedModel(), garDir, join(work, 'encoder'));
  // 000002 at full size beside 000006 at half size: two faces, 000002's the larger.
  twoFaces = join(work, 'two-faces.png');
  const small = await sharp(join(photosDir, '000006.jpg')).resize(205, 297).toBuffer();
  await sharp({ create: { width: 423 + 205 + 40, height: 594, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .composite([
      { input: join(photosDir, '000002.jpg'), left: 0, top: 0 },
      { input: small, left: 423 + 40, top: 150 },
    ])
    .png()
    .toFile(twoFaces);
  notes = join(work, 'notes.jpg');
  await writeFile(notes, 'not a photo\n');
  blank = join(work, 'blank.jpg');
  await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 200, g: 200, b: 200 } } })
    .jpeg()
    .toFile(blank);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** RGB of pixel (x, y) of cell (row, column), cells `side` px. */
function cellPixel(grid: RgbaImage, side: number, row: number, column: number, x: number, y: number): number[] {
  const offset = 4 * ((row * side + y) * grid.width + column * side + x);
  return Array.from(grid.data.subarray(offset, offset + 3));
}

/** Mean absolute RGB difference between cell a of grid A and cell b of grid B, sampled on the R×R crop pixels. */
function cellDistance(a: RgbaImage, sideA: number, cellA: [number, number], b: RgbaImage, sideB: number, cellB: [number, number]): number {
  let sum = 0;
  for (let y = 0; y < R; y++) {
    for (let x = 0; x < R; x++) {
      const p = cellPixel(a, sideA, ...cellA, (x * sideA) / R, (y * sideA) / R),
        q = cellPixel(b, sideB, ...cellB, (x * sideB) / R, (y * sideB) / R);
      for (let c = 0; c < 3; c++) sum += Math.abs(p[c] - q[c]);
    }
  }
  return sum / (3 * R * R);
}

describe('facegar sample --normal-from (tiny random GAR)', () => {
  let single: RgbaImage;

  test('one photo: a row photo crop | normal map | renders, cells enlarged to 128 px; the normal map covers the face the crop shows', async () => {
    const out = join(work, 'one.png');
    const run = await runCli(['sample', '--gar', garDir, '--normal-from', join(photosDir, '000002.jpg'), '--latents', '2', '--out', out]);
    assert.equal(run.code, 0, run.stderr.slice(-600));
    assert.match(run.stderr, /1 face from 1 photo, 2 latents each at 32² from step 7, cells 128 px/);
    single = await decodeImageFile(out);
    const side = 128;
    assert.deepEqual([single.width, single.height], [4 * side, side], 'crop + normal map + 2 renders, one row');
    // Nearest-neighbour enlargement: each 4×4 block is one colour.
    for (const [x, y] of [
      [200, 40],
      [77, 90],
      [300, 3],
    ]) {
      const base = cellPixel(single, 1, 0, 0, x - (x % 4), y - (y % 4));
      assert.deepEqual(cellPixel(single, 1, 0, 0, x, y), base, `block at ${x}, ${y}`);
    }
    // Normal map (column 1): background in the corners; the face (normal towards the camera:
    // blue n_z·0.5+0.5 > ½) on the forehead, cheeks, nose and chin where the aligned crop puts
    // them (the eyes and the open mouth are holes in the mesh, as in training).
    for (const [x, y] of [
      [0, 0],
      [side - 1, 0],
      [0, side - 1],
      [side - 1, side - 1],
    ])
      assert.deepEqual(cellPixel(single, side, 0, 1, x, y), [0, 0, 0], `normal-map corner ${x}, ${y}`);
    const [leftEye, rightEye, leftMouth] = ALIGNED_CROP_TEMPLATE;
    const facePoints: [string, number, number][] = [
      ['forehead', 0.5, leftEye[1] - 0.12],
      ['left cheek', leftEye[0], leftEye[1] + 0.12],
      ['right cheek', rightEye[0], rightEye[1] + 0.12],
      ['nose', 0.5, (leftEye[1] + leftMouth[1]) / 2],
      ['chin', 0.5, leftMouth[1] + 0.12],
    ];
    for (const [name, fx, fy] of facePoints) {
      const pixel = cellPixel(single, side, 0, 1, Math.round(fx * side), Math.round(fy * side));
      assert.ok(pixel[2] > 128, `normal map at the ${name} (${fx}, ${fy}): ${pixel}`);
    }
    let covered = 0,
      total = 0;
    for (let y = Math.round(0.25 * side); y < Math.round(0.8 * side); y++) {
      for (let x = Math.round(0.3 * side); x < Math.round(0.7 * side); x++, total++) if (cellPixel(single, side, 0, 1, x, y).some((v) => v > 0)) covered++;
    }
    assert.ok(covered > 0.8 * total, `the face's centre is mesh: ${covered} of ${total} px covered`);
    // The crop (column 0) is a photo, not a flat fill; the renders differ from each other and from the normal map.
    let spread = 0,
      renders = 0,
      fromNormals = 0;
    for (let y = 0; y < side; y += 4) {
      for (let x = 0; x < side; x += 4) {
        const crop = cellPixel(single, side, 0, 0, x, y),
          normal = cellPixel(single, side, 0, 1, x, y);
        const first = cellPixel(single, side, 0, 2, x, y),
          second = cellPixel(single, side, 0, 3, x, y);
        for (let c = 0; c < 3; c++) {
          spread += Math.abs(crop[c] - cellPixel(single, side, 0, 0, 64, 64)[c]);
          renders += Math.abs(first[c] - second[c]);
          fromNormals += Math.abs(first[c] - normal[c]);
        }
      }
    }
    assert.ok(spread > 20 * 32 * 32, `crop varies: ${spread}`);
    assert.ok(renders > 0 && fromNormals > 0, `${renders} ${fromNormals}`);
    assert.ok(!hasStackTrace(run.stderr));
  });

  test('the shipped GAR by default; two faces in a photo give two rows, the larger first; --scale 1', async () => {
    assert.ok(single, 'needs the first test');
    const out = join(work, 'two.png');
    const run = await runCli(['sample', '--normal-from', twoFaces, '--latents', '2', '--scale', '1', '--out', out, '-q'], {
      env: { FACEGAR_SHIPPED_MODELS_DIR: shipped },
    });
    assert.equal(run.code, 0, run.stderr.slice(-600));
    assert.equal(run.stderr, '', '--quiet');
    const grid = await decodeImageFile(out);
    assert.deepEqual([grid.width, grid.height], [4 * R, 2 * R]);
    // Row 0 is 000002 (the larger face): its crop and normal map match the single-photo run's;
    // row 1 (000006) does not.
    const larger = cellDistance(grid, R, [0, 0], single, 128, [0, 0]),
      smaller = cellDistance(grid, R, [1, 0], single, 128, [0, 0]);
    assert.ok(larger < 12 && smaller > 2 * larger, `crop distance to the single run: row 0 ${larger.toFixed(1)}, row 1 ${smaller.toFixed(1)}`);
    const normals = cellDistance(grid, R, [0, 1], single, 128, [0, 1]);
    assert.ok(normals < 12, `normal-map distance of row 0 to the single run: ${normals.toFixed(1)}`);
    for (const row of [0, 1]) assert.ok(cellPixel(grid, R, row, 1, R / 2, Math.round(0.55 * R))[2] > 128, `row ${row} normal map has a face`);
  });

  test('bad inputs: the reconstruct exit codes, one line naming the input; no GAR anywhere: exit 6', async () => {
    const out = join(work, 'bad.png');
    const cases: [string[], number, RegExp, Record<string, string>?][] = [
      [['--gar', garDir, '--normal-from', notes], 4, /notes\.jpg: not an image/],
      [['--gar', garDir, '--normal-from', join(photosDir, '000002.jpg'), join(work, 'missing.jpg')], 3, /missing\.jpg: no such file/],
      [['--gar', garDir, '--normal-from', blank], 5, /blank\.jpg: no face found/],
      [['--normal-from', join(photosDir, '000002.jpg')], 6, /no --gar given and no GAR shipped/, { FACEGAR_SHIPPED_MODELS_DIR: empty }],
      [['--gar', join(work, 'nowhere'), '--normal-from', join(photosDir, '000002.jpg')], 3, /nowhere: no GAR checkpoint/],
      [['--gar', garDir, '--normal-from', empty], 2, /no image files found in .*no-models/],
      [['--gar', garDir, '--normal-from', blank, '--n', '3'], 2, /--n counts random geometries/],
      [['--gar', garDir, blank], 2, /photos go after --normal-from/],
    ];
    for (const [args, code, message, env] of cases) {
      const run = await runCli(['sample', ...args, '--out', out], { env });
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr.slice(-400)}`);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.ok(!hasStackTrace(run.stderr));
    }
  });
});
