/**
 * A pool of normal maps of random model geometry for GPU GAR training (scripts/gpu/gar_data.py
 * NormalMapPool): exactly what GarTrainer feeds G — GeometrySampler at the GAR resolution,
 * renderNormalMap's encoding n·0.5 + 0.5 with background 0 — stored as 8-bit RGB (±0.2° of
 * quantisation) in WebP sheets of up to 1024 maps (32 × 32 tiles; WebP caps a side at 16383 px),
 * near-lossless by default (--near-lossless 60: values move by ≤ 2 levels, 0.7° mean, for ~35 % fewer
 * bytes than lossless; 100 = lossless) with the face mask kept exactly in its own bit plane, plus each map's projected iBUG-68 landmarks (crop pixels, float16) for the landmark
 * loss and its head angles. Maps 2k and 2k + 1 are a pair (samplePairedGeometries: same identity
 * coefficients, other pose and expression), for the identity loss; each map alone is a draw
 * from the sampler's prior.
 *
 *   FACEGAR_MODEL_DIR=… node --import tsx scripts/gpu/export-normal-maps.ts --out .gpu-pack-gar/normal-maps-64
 *        [--resolution 64] [--count 4000] [--seed 0] [--yaw-std 0.5] [--pitch-std 0.1] [--roll-std 0.05]
 *        [--near-lossless 60] [--max-bytes N]   (stop adding maps once the sheets would pass N bytes)
 *
 * Writes <out>.bin (sheets, then landmarks, then angles) and <out>.json (the index). Resumable it is
 * not: ~50–90 ms a map on the 2-core machine, so 4000 maps take 4–6 minutes.
 */
import { dirname, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.ts';
import { GeometrySampler } from '../../src/gar/geometry-sampler.ts';
import { samplePairedGeometries } from '../../src/gar/identity-consistency.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../../src/io/node/atomic-write.ts';
import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';
import { floatToHalfBits } from './npy-file.ts';

const TILES_PER_SIDE = 32;
const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    resolution: { type: 'string', default: '64' },
    count: { type: 'string', default: '4000' },
    seed: { type: 'string', default: '0' },
    'yaw-std': { type: 'string' },
    'pitch-std': { type: 'string' },
    'roll-std': { type: 'string' },
    'max-bytes': { type: 'string' },
    model: { type: 'string' },
    'near-lossless': { type: 'string', default: '60' },
  },
});
if (!values.out) {
  process.stderr.write(
    'usage: node --import tsx scripts/gpu/export-normal-maps.ts --out OUT_STEM [--resolution 64] [--count 4000] [--seed 0] [--max-bytes N]\n',
  );
  process.exit(2);
}
const nearLossless = Number(values['near-lossless']);
const R = Number(values.resolution),
  wanted = Number(values.count) & ~1,
  maxBytes = values['max-bytes'] ? Number(values['max-bytes']) : Infinity;
const poseOverrides = {
  ...(values['yaw-std'] ? { yawStd: Number(values['yaw-std']) } : {}),
  ...(values['pitch-std'] ? { pitchStd: Number(values['pitch-std']) } : {}),
  ...(values['roll-std'] ? { rollStd: Number(values['roll-std']) } : {}),
};
await initBackend();
const { model } = await loadMorphableModel({ modelDir: values.model });
const sampler = new GeometrySampler(model, { resolution: R, ...poseOverrides });
const random = new SeededRandom(Number(values.seed));
const perSheet = TILES_PER_SIDE * TILES_PER_SIDE;

/** A sheet of `count` maps (RGB bytes, map-major) as lossless WebP, tiles row-major. */
async function encodeSheet(maps: Uint8Array, count: number): Promise<Buffer> {
  const columns = Math.min(count, TILES_PER_SIDE),
    rows = Math.ceil(count / TILES_PER_SIDE);
  const width = columns * R,
    sheet = Buffer.alloc(width * rows * R * 3);
  for (let k = 0; k < count; k++) {
    const x0 = (k % TILES_PER_SIDE) * R,
      y0 = Math.floor(k / TILES_PER_SIDE) * R;
    for (let y = 0; y < R; y++) sheet.set(maps.subarray((k * R + y) * R * 3, (k * R + y + 1) * R * 3), ((y0 + y) * width + x0) * 3);
  }
  return sharp(sheet, { raw: { width, height: rows * R, channels: 3 } })
    .webp({ lossless: true, nearLossless: nearLossless < 100, quality: nearLossless, effort: 6 })
    .toBuffer();
}

const sheets: Buffer[] = [];
const sheetCounts: number[] = [];
const landmarks: number[] = [],
  angles: number[] = [];
const maskBits: number[] = []; // one bit a pixel, map-major, row-major: 1 = face
let pending = new Uint8Array(perSheet * R * R * 3),
  inSheet = 0,
  total = 0,
  bytes = 0;
const started = Date.now();
const flush = async () => {
  if (inSheet === 0) return;
  const sheet = await encodeSheet(pending, inSheet);
  sheets.push(sheet);
  sheetCounts.push(inSheet);
  bytes += sheet.length;
  pending = new Uint8Array(perSheet * R * R * 3);
  inSheet = 0;
};
let limit = wanted;
const EXTRA_BYTES_PER_MAP = 64 + 2 * 68 * 2 + 2 * 3; // mask (deflated, measured ~64 B), landmarks, angles
while (total < limit) {
  // After each sheet, cap the count by the byte budget at the bytes per map measured so far.
  if (inSheet === 0 && total > 0) {
    const perMap = bytes / total + EXTRA_BYTES_PER_MAP;
    limit = Math.min(wanted, total + 2 * Math.floor((maxBytes - perMap * total) / perMap / 2));
    if (total >= limit) break;
  }
  const geometries = samplePairedGeometries(sampler, random, 1);
  const rendered = sampler.renderNormalMaps(geometries);
  const values01 = rendered.dataSync();
  rendered.dispose();
  for (let i = 0; i < values01.length; i++) pending[inSheet * R * R * 3 + i] = Math.round(values01[i] * 255);
  for (let p = 0; p < values01.length; p += 3) maskBits.push(values01[p] + values01[p + 1] + values01[p + 2] > 1e-6 ? 1 : 0);
  inSheet += 2;
  total += 2;
  for (const g of geometries) {
    landmarks.push(...g.landmarks2d);
    angles.push(...g.eulerRad);
  }
  if (inSheet === perSheet) await flush();
  if (total % 200 === 0) process.stderr.write(`\r${total}/${limit} maps, ${((Date.now() - started) / total).toFixed(0)} ms a map`);
}
await flush();
process.stderr.write('\n');

const f16 = (values: number[]) => {
  const out = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => out.writeUInt16LE(floatToHalfBits(v), i * 2));
  return out;
};
const landmarkBytes = f16(landmarks),
  angleBytes = f16(angles);
const packedMask = Buffer.alloc(Math.ceil(maskBits.length / 8));
maskBits.forEach((bit, i) => {
  if (bit) packedMask[i >> 3] |= 1 << (i & 7);
});
const maskBytes = deflateSync(packedMask, { level: 9 });
const sections: { name: string; offset: number; length: number }[] = [];
let offset = 0;
for (const [name, data] of [
  ...sheets.map((s, i) => [`sheet${i}`, s] as const),
  ['mask', maskBytes] as const,
  ['landmarks2d', landmarkBytes] as const,
  ['eulerRad', angleBytes] as const,
]) {
  sections.push({ name, offset, length: data.length });
  offset += data.length;
}
const out = resolve(values.out);
await ensureWritableDirectory(dirname(out));
await writeFileAtomic(`${out}.bin`, Buffer.concat([...sheets, maskBytes, landmarkBytes, angleBytes]));
const index = {
  format: 'facegar-normal-maps',
  version: 1,
  resolution: R,
  count: total,
  encoding: 'n*0.5+0.5, background 0, uint8 RGB, WebP sheets',
  nearLossless,
  mask: { encoding: 'deflate of bits (LSB first), 1 = face; zero the sheets outside it' },
  tilesPerSide: TILES_PER_SIDE,
  sheetCounts,
  paired: true,
  sampler: { ...sampler.config },
  seed: Number(values.seed),
  landmarks2d: { dtype: 'float16', shape: [total, 68, 2], units: 'crop pixels, x right, y down, pixel centres at +0.5' },
  eulerRad: { dtype: 'float16', shape: [total, 3], order: 'pitch, yaw, roll' },
  sections,
};
await writeFileAtomic(`${out}.json`, JSON.stringify(index) + '\n');
process.stdout.write(
  `${out}.bin: ${total} maps at ${R}², ${(offset / 1e6).toFixed(2)} MB (sheets ${(bytes / 1e6).toFixed(2)} MB, ` +
    `${(bytes / total).toFixed(0)} B a map), ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
);
