// A figure of one turned face of an AFLW2000-3D-layout folder: the photo with its ground-truth
// pt3d_68 (white), then the `<stem>.overlay.png` of each given `facegar reconstruct` output folder,
// all cut around the face and enlarged. Made for README's "Turned faces" (docs/images/).
//   node --import tsx scripts/profile-figure.ts --data DIR --name image00075 --overlays out/a,out/b --out docs/images/x.png
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RgbaImage } from '../src/common/image.ts';
import { aflwGroundTruth } from '../src/eval/aflw2000-protocol.ts';
import { fillRect } from '../src/eval/report-drawing.ts';
import { parseMatFile } from '../src/io/mat-file.ts';
import { decodeImageFile } from '../src/io/node/decode-image.ts';
import { writePngAtomic } from '../src/io/node/encode-image.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    name: { type: 'string' },
    overlays: { type: 'string' },
    out: { type: 'string' },
    panel: { type: 'string', default: '320' },
  },
});
if (!values.data || !values.name || !values.overlays || !values.out) throw new Error('needs --data DIR --name STEM --overlays DIR[,DIR…] --out PNG');
const panelPx = Number(values.panel);
const photo = await decodeImageFile(join(values.data, `${values.name}.jpg`));
const truth = aflwGroundTruth(await parseMatFile(new Uint8Array(await readFile(join(values.data, `${values.name}.mat`)))));
for (let k = 0; k < 68; k++) fillRect(photo, Math.round(truth.landmarks2d[2 * k]) - 1, Math.round(truth.landmarks2d[2 * k + 1]) - 1, 3, 3, [255, 255, 255]);
const xs = Array.from({ length: 68 }, (_, k) => truth.landmarks2d[2 * k]),
  ys = Array.from({ length: 68 }, (_, k) => truth.landmarks2d[2 * k + 1]);
const side = Math.round(1.5 * Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)));
const left = Math.round((Math.min(...xs) + Math.max(...xs) - side) / 2),
  top = Math.round((Math.min(...ys) + Math.max(...ys) - side) / 2);
// [left, top, side²] of an image (grey where it leaves the image), enlarged to panelPx² (nearest neighbour).
const cut = (image: RgbaImage) => {
  const panel = new Uint8ClampedArray(panelPx * panelPx * 3).fill(128);
  for (let y = 0; y < panelPx; y++)
    for (let x = 0; x < panelPx; x++) {
      const sx = left + Math.floor((x * side) / panelPx),
        sy = top + Math.floor((y * side) / panelPx);
      if (sx < 0 || sy < 0 || sx >= image.width || sy >= image.height) continue;
      for (let c = 0; c < 3; c++) panel[3 * (y * panelPx + x) + c] = image.data[4 * (sy * image.width + sx) + c];
    }
  return panel;
};
const panels = [cut(photo)];
for (const dir of values.overlays.split(',')) panels.push(cut(await decodeImageFile(join(dir, `${values.name}.overlay.png`))));
const gap = 4,
  width = panels.length * panelPx + (panels.length - 1) * gap;
const data = new Uint8ClampedArray(width * panelPx * 4).fill(255);
panels.forEach((panel, i) => {
  for (let y = 0; y < panelPx; y++)
    for (let x = 0; x < panelPx; x++) {
      const from = 3 * (y * panelPx + x),
        to = 4 * (y * width + i * (panelPx + gap) + x);
      data[to] = panel[from];
      data[to + 1] = panel[from + 1];
      data[to + 2] = panel[from + 2];
    }
});
await writePngAtomic(values.out, { width, height: panelPx, data });
console.log(`${values.out}: ${panels.length} panels of ${panelPx}², yaw ${truth.yawDeg.toFixed(1)}°`);
