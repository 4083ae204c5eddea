// `facegar prepare PHOTOS_DIR --out DATASET_DIR`: detect and align the largest face of every
// photo into canonical crops for GAR training, with a dataset.json index. `--synthetic N`
// does the same for N studio renders; `--fit` adds the graphics-path fit of every face (the
// encoder's pseudo-labels). Resumable: sources already listed (as images or as skipped) are not
// processed again, except to add a missing fit.
import { readFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { EXIT_CODES, InputMissingError, UsageError } from '../common/errors.ts';
import { parseCommandArgs, requireOption } from './command-options.ts';
import type { RgbaImage } from '../common/image.ts';

const HELP = `Usage: facegar prepare <photos dir> --out <dataset dir> [options]
       facegar prepare --synthetic <n> --out <dataset dir> [options]

Detects the largest face in every photo (searched recursively), aligns it to the canonical
crop (similarity transform from the eye centres and mouth corners) and writes, atomically:
  <out>/<size>/<id>.png   the aligned crop at each size
  <out>/dataset.json      images (files, landmarks in crop pixels of the largest size, source,
                          with --fit the graphics-path fit), skipped photos and why
Running again on the same --out continues where it stopped (and with --fit, fits the crops
an earlier run prepared without); a damaged dataset.json is refused (exit 2), not replaced.

Options:
  -o, --out <dir>       [string] dataset directory (required)
      --size <list>     [string] crop sizes in pixels, comma-separated (default: 128; 64 with --synthetic)
      --synthetic <n>   [number] n studio renders (seed stream 'train', never the benchmark's) instead of photos
      --seed <n>        [number] seed of the synthetic stream (default: 0)
      --align <how>     [string] synthetic faces: truth (model landmarks of the render, the ones the
                        GAR's normal maps are framed by) | detect (the detector, as for photos) (default: truth)
      --pad <fraction>  [number] photos: mirror-pad each side by this fraction of the longer side before
                        detecting and cropping, for tight crops such as UTKFace's (default: 0)
      --max-outside <f> [number] photos: skip a face whose aligned crop has more than this fraction of its
                        area outside the original photo (mirror padding or black) (default: 1, keep all)
      --include <file>  [string] photos: only these sources (one path per line, relative to the photos dir)
      --exclude <file>  [string] photos: never these sources (same format; e.g. a held-out list)
      --fit             [boolean] also fit the morphable model to every face through the graphics
                        renderer (as facegar reconstruct --renderer graphics, ~1.5 s a face) and store
                        identity, expression, pose and camera, in the photo and in the largest crop
  -m, --model <dir>     [string] ICT-FaceKit model directory for --synthetic and --fit (default: $FACEGAR_MODEL_DIR, cache)
  -q, --quiet           [boolean] no progress
  -h, --help            [boolean] this help
`;

interface DatasetImage {
  id: string;
  source: string;
  files: Record<string, string>;
  landmarks68: number[];
  /** Detector score; absent when the crop was aligned on known (synthetic truth) landmarks. */
  detectionScore?: number;
  /** With --pad: fraction of the largest crop's area that lies outside the original photo (filled by the mirror). */
  outsideFraction?: number;
  /** Synthetic faces: the scene's head angles [pitch, yaw, roll], degrees. */
  anglesDeg?: number[];
  /** With --fit: the graphics-path fit. */
  fit?: DatasetFit;
}
/** The graphics fit of one face: model coefficients, the pose in the photo, and in the crop frame (invert/crop-frame.ts). */
interface DatasetFit {
  identity: number[];
  expression: number[];
  photo: { rotation: number[]; anglesDeg: number[]; translationMm: number[]; focalPx: number; principalPointPx: number[] };
  crop: { sizePx: number; principalPointPx: number[]; eulerRad: number[]; pivotPx: number[]; logFocal: number; logDepth: number };
  /** Mean landmark distance between fit and detection (or synthetic truth), over the inter-ocular distance. */
  landmarkErrorIod: number;
}
/** Longest time between two saves of dataset.json. */
const SAVE_INTERVAL_MS = 10_000;

/** A list file: one source path per line (relative, '/'-separated); blank lines and '#' comments ignored. */
async function readSourceList(path: string, option: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputMissingError(`cannot read ${option} list ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return new Set(
    text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#')),
  );
}

interface Dataset {
  format: 1;
  sizes: number[];
  images: DatasetImage[];
  skipped: { source: string; reason: string }[];
}

/** A dataset.json's contents when they have the index's shape (format 1, sizes, images, skipped), else undefined. */
function parseDatasetIndex(text: string): Dataset | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const dataset = parsed as Partial<Dataset> | null;
  const skipped = dataset?.skipped ?? [];
  const valid =
    (dataset?.format ?? 1) === 1 &&
    Array.isArray(dataset?.sizes) &&
    dataset.sizes.every((size) => Number.isInteger(size)) &&
    Array.isArray(dataset.images) &&
    dataset.images.every((image) => typeof image?.source === 'string') &&
    Array.isArray(skipped) &&
    skipped.every((entry) => typeof entry?.source === 'string');
  return valid ? ({ ...dataset, format: 1, skipped } as Dataset) : undefined;
}

/** One thing to crop: a photo file or a synthetic render, by its dataset source name. */
interface PrepareSource {
  source: string;
  stem: string;
  load(): Promise<{ image: RgbaImage; truthLandmarks68?: Float32Array; anglesDeg?: number[] }>;
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      out: { type: 'string', short: 'o' },
      size: { type: 'string' },
      synthetic: { type: 'string' },
      seed: { type: 'string', default: '0' },
      align: { type: 'string', default: 'truth' },
      model: { type: 'string', short: 'm' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      fit: { type: 'boolean', default: false },
      pad: { type: 'string', default: '0' },
      'max-outside': { type: 'string', default: '1' },
      include: { type: 'string' },
      exclude: { type: 'string' },
    },
    { allowPositionals: true },
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_CODES.ok;
  }
  requireOption(values.out, '--out <dataset dir>');
  const synthetic = values.synthetic !== undefined;
  if (synthetic && positionals.length !== 0) throw new UsageError('give either a photos directory or --synthetic <n>, not both (try --help)');
  if (!synthetic && positionals.length !== 1) throw new UsageError('give exactly one photos directory (try --help)');
  const sizeText = values.size ?? (synthetic ? '64' : '128');
  const sizes = sizeText.split(',').map((s) => Number(s.trim()));
  for (const size of sizes)
    if (!Number.isInteger(size) || size < 8 || size > 4096) throw new UsageError(`Expected integers between 8 and 4096 for --size but received ${sizeText}`);
  const count = Number(values.synthetic);
  if (synthetic && (!Number.isInteger(count) || count < 1))
    throw new UsageError(`Expected a positive integer for --synthetic but received ${values.synthetic}`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`Expected an integer ≥ 0 for --seed but received ${values.seed}`);
  if (values.align !== 'truth' && values.align !== 'detect') throw new UsageError(`Expected truth or detect for --align but received ${values.align}`);
  const useDetector = !synthetic || values.align === 'detect';
  const padFraction = Number(values.pad);
  if (!(padFraction >= 0 && padFraction <= 2)) throw new UsageError(`Expected a number between 0 and 2 for --pad but received ${values.pad}`);
  const maxOutside = Number(values['max-outside']);
  if (!(maxOutside >= 0 && maxOutside <= 1)) throw new UsageError(`Expected a number between 0 and 1 for --max-outside but received ${values['max-outside']}`);
  if (synthetic && (values.include !== undefined || values.exclude !== undefined || padFraction > 0)) {
    throw new UsageError('--pad, --include and --exclude apply to photos, not to --synthetic');
  }

  const { decodeImageFile } = await import('../io/node/decode-image.ts');
  const { writePngAtomic } = await import('../io/node/encode-image.ts');
  const { ensureWritableDirectory, writeFileAtomic } = await import('../io/node/atomic-write.ts');
  const { alignFaceCrop, faceCropTransform } = await import('../detect/align-face-crop.ts');
  const { applyAffine2D, fractionOutsideRect, invertAffine2D, padImageMirror } = await import('../common/image.ts');
  const { FacegarError } = await import('../common/errors.ts');

  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  const sources: PrepareSource[] = [];
  const largest = Math.max(...sizes);
  if (synthetic) {
    const { renderTrainingFace, syntheticRenderSizePx, syntheticSourceName } = await import('../gar/synthetic-faces.ts');
    let model: Awaited<ReturnType<typeof loadMorphableModel>>['model'] | undefined;
    const renderSize = syntheticRenderSizePx(largest);
    for (let index = 0; index < count; index++) {
      sources.push({
        source: syntheticSourceName(seed, index),
        stem: `synthetic-s${seed}-${index}`,
        load: async () => {
          model ??= (await loadMorphableModel({ modelDir: values.model })).model;
          const { image, truth } = renderTrainingFace(model, seed, index, renderSize);
          return { image, truthLandmarks68: truth.landmarks2d, anglesDeg: truth.anglesDeg.map((a) => Math.round(a * 100) / 100) };
        },
      });
    }
  } else {
    const { expandInputs } = await import('./expand-inputs.ts');
    const photosDir = resolve(positionals[0]);
    const inputs = await expandInputs([photosDir]);
    if (inputs.length === 0) throw new UsageError(`no image files found in ${positionals[0]}`);
    const include = values.include === undefined ? undefined : await readSourceList(values.include, '--include');
    const exclude = values.exclude === undefined ? undefined : await readSourceList(values.exclude, '--exclude');
    for (const { path } of inputs) {
      const source = relative(photosDir, path).split(sep).join('/');
      if ((include && !include.has(source)) || exclude?.has(source)) continue;
      sources.push({ source, stem: basename(path, extname(path)), load: async () => ({ image: await decodeImageFile(path) }) });
    }
    if (sources.length === 0) throw new UsageError(`no photo of ${positionals[0]} is left after --include/--exclude`);
  }

  const outDir = resolve(values.out);
  await ensureWritableDirectory(outDir);
  for (const size of sizes) await ensureWritableDirectory(join(outDir, String(size)));
  const datasetPath = join(outDir, 'dataset.json');
  let dataset: Dataset = { format: 1, sizes: [...sizes].sort((a, b) => a - b), images: [], skipped: [] };
  const previousText = await readFile(datasetPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new UsageError(`${datasetPath}: cannot read the dataset index (${error.code ?? error.message})`);
  });
  if (previousText !== undefined) {
    // A damaged index is refused, not replaced: starting over would silently redo hours of work.
    const previous = parseDatasetIndex(previousText);
    if (!previous) throw new UsageError(`${datasetPath} is damaged (not a facegar dataset index): repair or move it away to start over, or use another --out`);
    if (previous.sizes.join(',') !== dataset.sizes.join(','))
      throw new UsageError(`${values.out} holds crops of sizes ${previous.sizes.join(',')}: use the same --size or another --out`);
    dataset = previous;
  }
  const wantsFit = values.fit;
  const recordsBySource = new Map(dataset.images.map((record) => [record.source, record]));
  const done = new Set([...dataset.images.filter((i) => !wantsFit || i.fit).map((i) => i.source), ...dataset.skipped.map((s) => s.source)]);
  let detector:
    { detect(image: RgbaImage): Promise<{ landmarks68: Float32Array; detectionScore: number; mesh468?: Float32Array }[]>; dispose(): void } | undefined;
  if (useDetector) {
    const { loadDetectorModelFiles } = await import('../io/node/detector-models.ts');
    const { createFaceDetector } = await import('../detect/index.ts');
    // Training crops are aligned by the landmarks: no fallback faces whose mesh FaceMesh itself doubts.
    detector = await createFaceDetector(await loadDetectorModelFiles(), { fallbackMinDetectionScore: 1 });
  }
  let fitter: ((image: RgbaImage, landmarks68: Float32Array, mesh468: Float32Array | undefined) => DatasetFit) | undefined;
  let disposeFitter = () => {};
  if (wantsFit && sources.some(({ source }) => !done.has(source))) {
    const { initBackend } = await import('../engine/backend.ts');
    const { ModelTensors } = await import('../fit/model-tensors.ts');
    const { fitFace } = await import('../fit/fit-face.ts');
    const { interOcularDistance } = await import('../api/reconstruct.ts');
    const { cropPoseOfPhotoFit } = await import('../invert/crop-frame.ts');
    await initBackend();
    const { model } = await loadMorphableModel({ modelDir: values.model });
    const modelTensors = new ModelTensors(model);
    disposeFitter = () => modelTensors.dispose();
    const round = (v: number, digits: number) => Number(v.toFixed(digits));
    const list = (values: ArrayLike<number>, digits: number) => Array.from(values, (v) => round(v, digits));
    fitter = (image, landmarks68, mesh468) => {
      const fit = fitFace(modelTensors, image, landmarks68, {}, undefined, mesh468);
      const { frame, pose } = cropPoseOfPhotoFit(model, fit, faceCropTransform(landmarks68, largest), largest);
      return {
        identity: list(fit.identity, 5),
        expression: list(fit.expressionWeights, 5),
        photo: {
          rotation: list(fit.rotation, 7),
          anglesDeg: list(fit.anglesDeg, 3),
          translationMm: list(fit.translationMm, 3),
          focalPx: round(fit.focalPx, 3),
          principalPointPx: list(fit.principalPointPx, 3),
        },
        crop: {
          sizePx: largest,
          principalPointPx: list(frame.principalPointPx, 4),
          eulerRad: list(pose.eulerRad, 6),
          pivotPx: list(pose.pivotPx, 6),
          logFocal: round(pose.logFocal, 6),
          logDepth: round(pose.logDepth, 6),
        },
        landmarkErrorIod: round(fit.landmarkErrorPx / interOcularDistance(landmarks68), 5),
      };
    };
  }
  const show = !values.quiet;
  const started = Date.now();
  let processed = 0;
  let lastSaved = Date.now();
  try {
    for (const [index, { source, stem, load }] of sources.entries()) {
      if (done.has(source)) continue;
      try {
        const loaded = await load();
        const { truthLandmarks68, anglesDeg } = loaded;
        const padPx = Math.round(padFraction * Math.max(loaded.image.width, loaded.image.height));
        const original = { left: padPx, top: padPx, width: loaded.image.width, height: loaded.image.height };
        // Coordinates below (landmarks, the fit's photo pose) are those of the padded photo.
        const image = padPx > 0 ? padImageMirror(loaded.image, padPx) : loaded.image;
        let landmarks: Float32Array | undefined = truthLandmarks68;
        let detectionScore: number | undefined;
        let mesh468: Float32Array | undefined;
        if (detector) {
          const faces = await detector.detect(image);
          landmarks = faces[0]?.landmarks68;
          detectionScore = faces[0]?.detectionScore;
          mesh468 = faces[0]?.mesh468;
        }
        const earlier = recordsBySource.get(source);
        if (earlier) {
          // Prepared by an earlier run without --fit: only the fit is missing.
          if (landmarks) earlier.fit = fitter!(image, landmarks, mesh468);
        } else if (!landmarks) {
          dataset.skipped.push({ source, reason: 'no face found' });
        } else if (maxOutside < 1 && fractionOutsideRect(invertAffine2D(faceCropTransform(landmarks, largest)), largest, largest, original) > maxOutside) {
          const outside = fractionOutsideRect(invertAffine2D(faceCropTransform(landmarks, largest)), largest, largest, original);
          dataset.skipped.push({ source, reason: `aligned crop ${(100 * outside).toFixed(0)} % outside the photo (--max-outside ${maxOutside})` });
        } else {
          const id = `${String(dataset.images.length + dataset.skipped.length).padStart(6, '0')}-${stem.replace(/[^\w.-]+/g, '_')}`;
          const files: Record<string, string> = {};
          let landmarks68: number[] = [];
          for (const size of sizes) {
            const { crop, cropFromImage } = alignFaceCrop(image, landmarks, size);
            for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255; // outside the photo: opaque black
            files[String(size)] = `${size}/${id}.png`;
            await writePngAtomic(join(outDir, files[String(size)]), crop);
            if (size === largest) {
              landmarks68 = [];
              for (let i = 0; i < 68; i++)
                landmarks68.push(...applyAffine2D(cropFromImage, landmarks[2 * i], landmarks[2 * i + 1]).map((v) => Math.round(v * 100) / 100));
            }
          }
          const outsideFraction =
            padPx > 0 ? fractionOutsideRect(invertAffine2D(faceCropTransform(landmarks, largest)), largest, largest, original) : undefined;
          dataset.images.push({
            id,
            source,
            files,
            landmarks68,
            ...(outsideFraction !== undefined ? { outsideFraction: Math.round(outsideFraction * 1000) / 1000 } : {}),
            ...(detectionScore !== undefined ? { detectionScore: Math.round(detectionScore * 1000) / 1000 } : {}),
            ...(anglesDeg ? { anglesDeg } : {}),
            ...(fitter ? { fit: fitter(image, landmarks, mesh468) } : {}),
          });
        }
      } catch (error) {
        if (!(error instanceof FacegarError)) throw error;
        dataset.skipped.push({ source, reason: error.message });
      }
      processed++;
      // dataset.json grows with every face: rewriting it after each one is quadratic on large
      // folders. A kill loses at most the last few seconds' faces, which a rerun prepares again.
      if (Date.now() - lastSaved > SAVE_INTERVAL_MS) {
        await writeFileAtomic(datasetPath, JSON.stringify(dataset, null, 1) + '\n');
        lastSaved = Date.now();
      }
      if (show) {
        const filled = Math.round((24 * (index + 1)) / sources.length);
        const elapsed = (Date.now() - started) / 1000;
        const line = `${'█'.repeat(filled)}${'░'.repeat(24 - filled)} ${index + 1}/${sources.length} ${source} (${(processed / elapsed).toFixed(1)}/s)`;
        process.stderr.write(process.stderr.isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
      }
    }
  } finally {
    detector?.dispose();
    disposeFitter();
    if (show && process.stderr.isTTY) process.stderr.write('\n');
  }
  await writeFileAtomic(datasetPath, JSON.stringify(dataset, null, 1) + '\n');
  if (show)
    process.stderr.write(
      `facegar prepare: ${dataset.images.length} crops, ${dataset.skipped.length} skipped (${processed} processed now) in ${((Date.now() - started) / 1000).toFixed(1)} s → ${values.out}\n`,
    );
  return EXIT_CODES.ok;
}
