/**
 * Pack a `facegar prepare` dataset's aligned crops into one small file pair for GPU training
 * (scripts/gpu/train_gar.py): <out>.bin holds the crops one after another as lossy WebP (RGB,
 * alpha dropped as GarTrainer drops it), <out>.json the index (byte offsets, sources, resolution).
 * At 64² WebP quality 85 averages ~1.1 kB a crop (36 dB PSNR) where a PNG takes ~11 kB.
 *
 *   node --import tsx scripts/gpu/pack-crops.ts --data DATASET_DIR [--data DATASET_DIR …] --out .gpu-pack-gar/crops-64
 *        [--resolution 64] [--quality 85] [--exclude LIST] [--max-count N] [--seed 0]
 *
 * --exclude LIST: a text file of dataset `source` names (one a line, `#` comments), e.g. the
 *   held-out photos, left out of the pack. --max-count N: a seeded random subset of N crops (to
 *   fit a size budget). Crops stored larger than --resolution are halved down to it with the
 *   trainer's own halveImage (2×2 box), as `facegar train-gar` does.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { halveImage } from '../../src/common/image.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../../src/io/node/atomic-write.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', multiple: true },
    out: { type: 'string' },
    resolution: { type: 'string', default: '64' },
    quality: { type: 'string', default: '85' },
    exclude: { type: 'string' },
    'max-count': { type: 'string' },
    seed: { type: 'string', default: '0' },
  },
});
if (!values.data || !values.out) {
  process.stderr.write(
    'usage: node --import tsx scripts/gpu/pack-crops.ts --data DATASET_DIR --out OUT_STEM [--resolution 64] [--quality 85] [--exclude LIST] [--max-count N]\n',
  );
  process.exit(2);
}
const resolution = Number(values.resolution),
  quality = Number(values.quality);
interface Entry {
  source: string;
  file: string;
}
// Several datasets (e.g. LFW and UTKFace prepared apart) go into one pack, in the order given.
const all: Entry[] = [];
for (const data of values.data) {
  const dataDir = resolve(data);
  const dataset = JSON.parse(await readFile(join(dataDir, 'dataset.json'), 'utf8')) as {
    sizes: number[];
    images: { source: string; files: Record<string, string> }[];
  };
  const size = dataset.sizes.filter((s) => s >= resolution && Number.isInteger(Math.log2(s / resolution))).sort((a, b) => a - b)[0];
  if (size === undefined) throw new Error(`${dataDir}: no crops of ${resolution}px or a power-of-two multiple (have ${dataset.sizes.join(', ')})`);
  for (const image of dataset.images) all.push({ source: image.source, file: join(dataDir, image.files[String(size)]) });
}

const excluded = new Set<string>();
if (values.exclude) {
  for (const line of (await readFile(values.exclude, 'utf8')).split('\n')) {
    const name = line.replace(/#.*/, '').trim();
    if (name) excluded.add(name);
  }
}
let entries = all.filter((e) => !excluded.has(e.source) && !excluded.has(basename(e.source)));
const excludedCount = all.length - entries.length;
if (values['max-count'] !== undefined && entries.length > Number(values['max-count'])) {
  // Seeded Fisher–Yates, then back to dataset order so the pack reads like the dataset.
  const random = new SeededRandom(Number(values.seed));
  const order = entries.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.integer(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const kept = new Set(order.slice(0, Number(values['max-count'])));
  entries = entries.filter((_, i) => kept.has(i));
}

async function encode(entry: Entry): Promise<Buffer> {
  let image = await decodeImageFile(entry.file);
  while (image.width > resolution) image = halveImage(image);
  const rgb = Buffer.alloc(resolution * resolution * 3);
  for (let i = 0, j = 0; i < image.data.length; i += 4, j += 3) {
    rgb[j] = image.data[i];
    rgb[j + 1] = image.data[i + 1];
    rgb[j + 2] = image.data[i + 2];
  }
  return sharp(rgb, { raw: { width: resolution, height: resolution, channels: 3 } })
    .webp({ quality, effort: 6 })
    .toBuffer();
}

const blobs: Buffer[] = [];
const offsets = [0];
const started = Date.now();
for (let start = 0; start < entries.length; start += 16) {
  for (const blob of await Promise.all(entries.slice(start, start + 16).map(encode))) {
    blobs.push(blob);
    offsets.push(offsets[offsets.length - 1] + blob.length);
  }
  if ((start / 16) % 100 === 0) process.stderr.write(`\r${Math.min(start + 16, entries.length)}/${entries.length} crops`);
}
process.stderr.write('\n');
const out = resolve(values.out);
await ensureWritableDirectory(dirname(out));
const bytes = Buffer.concat(blobs);
await writeFileAtomic(`${out}.bin`, bytes);
const index = {
  format: 'facegar-crops',
  version: 1,
  encoding: 'webp',
  quality,
  resolution,
  channels: 3,
  count: entries.length,
  offsets,
  sources: entries.map((e) => e.source),
  excluded: excludedCount,
  datasets: values.data.map((d) => basename(resolve(d))),
};
await writeFileAtomic(`${out}.json`, JSON.stringify(index) + '\n');
process.stdout.write(
  `${out}.bin: ${entries.length} crops at ${resolution}², WebP q${quality}, ${(bytes.length / 1e6).toFixed(2)} MB ` +
    `(${(bytes.length / Math.max(1, entries.length)).toFixed(0)} B a crop), ${excludedCount} excluded, ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
