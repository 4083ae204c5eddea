// `facegar prepare PHOTOS_DIR --out DATASET_DIR`: detect and align the largest face of every
// photo into canonical crops for GAR training, with a dataset.json index. Resumable: photos
// already listed (as images or as skipped) are not processed again.
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { EXIT_CODES, UsageError } from '../common/errors.ts';

const HELP = `Usage: facegar prepare <photos dir> --out <dataset dir> [options]

Detects the largest face in every photo (searched recursively), aligns it to the canonical
crop (similarity transform from the eye centres and mouth corners) and writes, atomically:
  <out>/<size>/<id>.png   the aligned crop at each size
  <out>/dataset.json      images (files, landmarks in crop pixels of the largest size, source),
                          skipped photos and why
Running again on the same --out continues where it stopped.

Options:
  -o, --out <dir>       [string] dataset directory (required)
      --size <list>     [string] crop sizes in pixels, comma-separated (default: 128)
      --synthetic <n>   [number] studio renders instead of photos (needs src/shading/studio-renderer.ts; not available yet)
  -q, --quiet           [boolean] no progress
  -h, --help            [boolean] this help
`;

interface DatasetImage { id: string; source: string; files: Record<string, string>; landmarks68: number[]; detectionScore: number }
interface Dataset { format: 1; sizes: number[]; images: DatasetImage[]; skipped: { source: string; reason: string }[] }

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true, strict: true, options: {
        out: { type: 'string', short: 'o' }, size: { type: 'string', default: '128' }, synthetic: { type: 'string' },
        quiet: { type: 'boolean', short: 'q', default: false }, help: { type: 'boolean', short: 'h', default: false },
        verbose: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (try --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) { process.stdout.write(HELP); return EXIT_CODES.ok; }
  if (values.synthetic !== undefined) throw new UsageError('--synthetic needs the studio renderer (src/shading/studio-renderer.ts), which this version does not have yet');
  if (!values.out) throw new UsageError('--out <dataset dir> is required (try --help)');
  if (positionals.length !== 1) throw new UsageError('give exactly one photos directory (try --help)');
  const sizes = String(values.size).split(',').map((s) => Number(s.trim()));
  for (const size of sizes) if (!Number.isInteger(size) || size < 8 || size > 4096) throw new UsageError(`Expected integers between 8 and 4096 for --size but received ${values.size}`);

  const { expandInputs } = await import('./expand-inputs.ts');
  const { decodeImageFile } = await import('../io/node/decode-image.ts');
  const { writePngAtomic } = await import('../io/node/encode-image.ts');
  const { ensureWritableDirectory, writeFileAtomic } = await import('../io/node/atomic-write.ts');
  const { loadDetectorModelFiles } = await import('../io/node/detector-models.ts');
  const { createFaceDetector, alignFaceCrop } = await import('../detect/index.ts');
  const { applyAffine2D } = await import('../common/image.ts');
  const { FacegarError } = await import('../common/errors.ts');

  const photosDir = resolve(positionals[0]);
  const inputs = await expandInputs([photosDir]);
  if (inputs.length === 0) throw new UsageError(`no image files found in ${positionals[0]}`);
  const outDir = resolve(values.out);
  await ensureWritableDirectory(outDir);
  for (const size of sizes) await ensureWritableDirectory(join(outDir, String(size)));
  const datasetPath = join(outDir, 'dataset.json');
  let dataset: Dataset = { format: 1, sizes: [...sizes].sort((a, b) => a - b), images: [], skipped: [] };
  try {
    const previous = JSON.parse(await readFile(datasetPath, 'utf8')) as Dataset;
    if (previous.sizes.join(',') !== dataset.sizes.join(',')) throw new UsageError(`${values.out} holds crops of sizes ${previous.sizes.join(',')}: use the same --size or another --out`);
    dataset = previous;
  } catch (error) {
    if (error instanceof UsageError) throw error;
  }
  const done = new Set([...dataset.images.map((i) => i.source), ...dataset.skipped.map((s) => s.source)]);
  const detector = await createFaceDetector(await loadDetectorModelFiles());
  const largest = Math.max(...sizes);
  const show = !values.quiet;
  const started = Date.now();
  let processed = 0;
  try {
    for (const [index, { path }] of inputs.entries()) {
      const source = relative(photosDir, path);
      if (done.has(source)) continue;
      try {
        const image = await decodeImageFile(path);
        const faces = await detector.detect(image);
        if (faces.length === 0) {
          dataset.skipped.push({ source, reason: 'no face found' });
        } else {
          const face = faces[0];
          const id = `${String(dataset.images.length + dataset.skipped.length).padStart(6, '0')}-${basename(path, extname(path)).replace(/[^\w.-]+/g, '_')}`;
          const files: Record<string, string> = {};
          let landmarks68: number[] = [];
          for (const size of sizes) {
            const { crop, cropFromImage } = alignFaceCrop(image, face.landmarks68, size);
            for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255; // outside the photo: opaque black
            files[String(size)] = `${size}/${id}.png`;
            await writePngAtomic(join(outDir, files[String(size)]), crop);
            if (size === largest) {
              landmarks68 = [];
              for (let i = 0; i < 68; i++) landmarks68.push(...applyAffine2D(cropFromImage, face.landmarks68[2 * i], face.landmarks68[2 * i + 1]).map((v) => Math.round(v * 100) / 100));
            }
          }
          dataset.images.push({ id, source, files, landmarks68, detectionScore: Math.round(face.detectionScore * 1000) / 1000 });
        }
      } catch (error) {
        if (!(error instanceof FacegarError)) throw error;
        dataset.skipped.push({ source, reason: error.message });
      }
      await writeFileAtomic(datasetPath, JSON.stringify(dataset, null, 1) + '\n');
      processed++;
      if (show) {
        const filled = Math.round(24 * (index + 1) / inputs.length);
        const line = `${'█'.repeat(filled)}${'░'.repeat(24 - filled)} ${index + 1}/${inputs.length} ${source}`;
        process.stderr.write(process.stderr.isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
      }
    }
  } finally {
    detector.dispose();
    if (show && process.stderr.isTTY) process.stderr.write('\n');
  }
  await writeFileAtomic(datasetPath, JSON.stringify(dataset, null, 1) + '\n');
  if (show) process.stderr.write(`facegar prepare: ${dataset.images.length} crops, ${dataset.skipped.length} skipped (${processed} processed now) in ${((Date.now() - started) / 1000).toFixed(1)} s → ${values.out}\n`);
  return EXIT_CODES.ok;
}
