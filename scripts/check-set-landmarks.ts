/**
 * Look at a test set's truth: a contact sheet of its photos with the 68 true landmarks drawn
 * over them (green: visible, red: hidden by the face, yellow: visibility unknown) and the
 * projection of every 50th face-area vertex (model space + true pose + true camera, white) —
 * they must sit on the rendered face. Also prints the largest difference between the stored
 * landmarks and the landmark vertices projected here (px).
 *
 *   node --import tsx scripts/check-set-landmarks.ts SET_DIR OUT.png [--first 0] [--count 12]
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { createRgbaImage, downscaleToMaxSide } from '../src/common/image.ts';
import { projectPointsArray, transformPointsArray } from '../src/geometry/camera.ts';
import { fillRect } from '../src/eval/report-drawing.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { syntheticSetSource } from '../src/io/node/synthetic-set-files.ts';
import { writePngAtomic } from '../src/io/node/encode-image.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { first: { type: 'string', default: '0' }, count: { type: 'string', default: '12' } },
});
const [setDir, outPath] = positionals;
if (!setDir || !outPath) throw new Error('usage: check-set-landmarks.ts SET_DIR OUT.png [--first N] [--count N]');
const { model } = await loadMorphableModel({});
const source = await syntheticSetSource(resolve(setDir), model);
const first = Number(values.first),
  count = Math.min(Number(values.count), source.count - first);
const cell = 384,
  perRow = 4,
  gap = 4;
const sheet = createRgbaImage(perRow * (cell + gap) + gap, Math.ceil(count / perRow) * (cell + gap) + gap);
let worstPx = 0;
for (let i = 0; i < count; i++) {
  const face = await source.face(first + i);
  const { truth } = face;
  const { image, scale } = downscaleToMaxSide(face.image, cell);
  const camera = { focalPx: truth.focalPx, principalPointPx: truth.principalPointPx, width: face.image.width, height: face.image.height };
  const cameraPoints = transformPointsArray(truth.verticesModel, truth.rotation, truth.translationMm);
  const projected = projectPointsArray(cameraPoints, camera);
  const dot = (u: number, v: number, rgb: [number, number, number], size: number) =>
    fillRect(image, Math.round(u * scale - size / 2), Math.round(v * scale - size / 2), size, size, rgb);
  for (let v = 0; v < model.vertexCount; v += 50) dot(projected[2 * v], projected[2 * v + 1], [255, 255, 255], 1);
  model.landmarkVertexIndices.forEach((vertex, k) => {
    worstPx = Math.max(worstPx, Math.hypot(projected[2 * vertex] - truth.landmarks2d[2 * k], projected[2 * vertex + 1] - truth.landmarks2d[2 * k + 1]));
    const seen = truth.landmarkVisible?.[k];
    dot(truth.landmarks2d[2 * k], truth.landmarks2d[2 * k + 1], seen === undefined ? [255, 220, 0] : seen ? [0, 230, 0] : [255, 0, 0], 3);
  });
  const x = gap + (i % perRow) * (cell + gap),
    y = gap + Math.floor(i / perRow) * (cell + gap);
  for (let r = 0; r < image.height; r++) sheet.data.set(image.data.subarray(4 * r * image.width, 4 * (r + 1) * image.width), 4 * ((y + r) * sheet.width + x));
}
await writePngAtomic(resolve(outPath), sheet);
process.stdout.write(`${count} faces drawn to ${outPath}; stored vs re-projected landmarks differ by at most ${worstPx.toFixed(4)} px\n`);
