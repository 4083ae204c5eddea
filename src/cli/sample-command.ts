// `facegar sample`: what a trained GAR draws. Without --normal-from: random geometries from the
// model prior and the training pose distribution → normal maps → renders of the EMA generator,
// as one PNG grid (a row per geometry: normal map | renders with several latents). With
// --normal-from photos: each face found is fitted by the graphics path, cropped and framed as the
// GAR path frames it, and its normal map rendered the same way (a row per face: crop | normal map | renders).
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT_CODES, FacegarError, InputMissingError, ModelUnavailableError, UsageError } from '../common/errors.ts';
import { createRgbaImage, type RgbaImage } from '../common/image.ts';
import { DEFAULT_MAX_FACES } from '../api/default-renderer.ts';
import { DEFAULT_MAX_DECODE_SIDE_PX } from './reconstruct-options.ts';
import type { Generator } from '../gar/generator.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { integerOption, optionalIntegerOption, parseCommandArgs, requireOption } from './command-options.ts';

const HELP = `Usage: facegar sample [--gar <dir>] --out <grid.png> [options]
       facegar sample [--gar <dir>] --normal-from <photo> [<photo>...] --out <grid.png> [options]

Renders normal maps with --latents latent codes through the GAR's EMA generator and writes one PNG
(atomically), one column per latent (the same latent down a column: one appearance, several shapes).

Without --normal-from: --n random face geometries (the model prior and the pose distribution
train-gar uses), a row each: normal map | renders.
With --normal-from: every face found in the photos (largest first, at most --max-faces per photo)
is fitted by the graphics path, cut out as the GAR path cuts it (aligned crop at the GAR's
resolution) and its fitted mesh rasterised in that crop's camera, a row each:
photo crop | normal map | renders.

Options:
      --gar <dir>           [string] train-gar run directory or exported model directory, or a shipped GAR's
                            name: studio (models/gar-small, MIT) or real (models/gar-real-64, non-commercial)
                            (default: the shipped GAR, models/gar-small; $FACEGAR_SHIPPED_MODELS_DIR replaces models/)
  -o, --out <file>          [string] grid PNG to write (required)
      --normal-from <photo> [string] photo (file, directory or quoted glob) whose fitted faces to render;
                            more may follow as arguments
      --max-faces <n>       [number] with --normal-from: most faces per photo, largest first (default: ${DEFAULT_MAX_FACES})
      --n <n>               [number] without --normal-from: random geometries, one row each (default: 8)
      --latents <n>         [number] renders per row, one column each (default: 4)
      --scale <n>           [number] enlarge every cell n× (nearest neighbour) (default: with --normal-from,
                            the least n making cells ≥ 128 px; otherwise 1)
      --seed <n>            [number] seed of the geometries and latents (default: 0)
      --truncation <psi>    [number] truncation ψ towards the mean latent, 1 = none (default: 1)
      --generator <which>   [string] ema | raw (default: ema; exported models hold only ema)
  -m, --model <dir>         [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache)
  -q, --quiet               [boolean] no summary line
  -h, --help                [boolean] this help
`;

/** With --normal-from, cells are enlarged to at least this side by default. */
const MIN_PHOTO_CELL_PX = 128;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      gar: { type: 'string' },
      out: { type: 'string', short: 'o' },
      'normal-from': { type: 'string', multiple: true },
      'max-faces': { type: 'string' },
      n: { type: 'string' },
      latents: { type: 'string', default: '4' },
      scale: { type: 'string' },
      seed: { type: 'string', default: '0' },
      truncation: { type: 'string', default: '1' },
      generator: { type: 'string', default: 'ema' },
      model: { type: 'string', short: 'm' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
    { allowPositionals: true },
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_CODES.ok;
  }
  requireOption(values.out, '--out <grid.png>');
  const photoArgs = [...(values['normal-from'] ?? []), ...positionals];
  const fromPhotos = values['normal-from'] !== undefined;
  if (!fromPhotos && positionals.length > 0) throw new UsageError(`Unexpected argument '${positionals[0]}': photos go after --normal-from (try --help)`);
  if (fromPhotos && values.n !== undefined) throw new UsageError('--n counts random geometries: drop it with --normal-from (one row per face found)');
  if (!fromPhotos && values['max-faces'] !== undefined) throw new UsageError('--max-faces belongs to --normal-from');
  const rows = integerOption(values.n ?? '8', 'n', 1, 256);
  const maxFaces = integerOption(values['max-faces'] ?? String(DEFAULT_MAX_FACES), 'max-faces', 1, 64);
  const latents = integerOption(values.latents, 'latents', 1, 64);
  const scaleOption = optionalIntegerOption(values.scale, 'scale', 1, 64);
  const seed = integerOption(values.seed, 'seed', 0, 2 ** 31);
  const truncationPsi = Number(values.truncation);
  if (!Number.isFinite(truncationPsi) || truncationPsi < 0 || truncationPsi > 2)
    throw new UsageError(`Expected a number between 0 and 2 for --truncation but received ${values.truncation}`);
  if (values.generator !== 'ema' && values.generator !== 'raw') throw new UsageError(`Expected ema or raw for --generator but received ${values.generator}`);
  const outPath = resolve(values.out);
  // Photos as reconstruct takes them: files, directories (searched recursively), quoted globs.
  const { expandInputs } = await import('./expand-inputs.ts');
  const photos = fromPhotos ? (await expandInputs(photoArgs)).map((input) => input.path) : [];
  if (fromPhotos && photos.length === 0) throw new UsageError(`no image files found in ${photoArgs.join(' ')}`);

  const garDir = await findGarDir(values.gar);
  const { readGarModelFiles } = await import('../io/node/gar-models.ts');
  const { validateGarCheckpointManifest } = await import('../gar/checkpoint.ts');
  const files = await readGarModelFiles({ garDir });
  const step = validateGarCheckpointManifest(files.gar.manifest).step;

  const { initBackend } = await import('../engine/backend.ts');
  const { decodeGarGenerator } = await import('../gar/checkpoint.ts');
  const { renderSampleGrid } = await import('../gar/sample-grid.ts');
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  const { writePngAtomic } = await import('../io/node/encode-image.ts');
  const tf = await import('@tensorflow/tfjs-core');

  await initBackend();
  let generator: Generator;
  try {
    generator = decodeGarGenerator(files.gar.manifest, files.gar.weights, values.generator === 'ema' ? 'G_ema' : 'G');
  } catch (error) {
    throw new UsageError(
      `${values.gar ?? garDir}: cannot load the ${values.generator === 'ema' ? 'EMA ' : ''}generator (${(error as Error).message.split('\n')[0]})`,
    );
  }
  try {
    const { model } = await loadMorphableModel({ modelDir: values.model });
    const resolution = generator.config.resolution;
    const { normals, crops, summary } = fromPhotos
      ? await photoNormalMaps(model, photos, resolution, maxFaces)
      : await randomNormalMaps(model, resolution, rows, seed);
    let grid: RgbaImage;
    try {
      grid = renderSampleGrid(generator, normals, { latentsPerRow: latents, seed: seed + 1, truncationPsi });
    } finally {
      tf.dispose(normals);
    }
    if (crops) grid = prependColumn(grid, crops);
    const scale = scaleOption ?? (fromPhotos ? Math.ceil(MIN_PHOTO_CELL_PX / resolution) : 1);
    await writePngAtomic(outPath, enlargeNearest(grid, scale));
    const what = fromPhotos ? `${summary}, ${latents} latents each` : `${rows}×${latents} renders`;
    if (!values.quiet) process.stderr.write(`facegar sample: ${what} at ${resolution}² from step ${step}, cells ${resolution * scale} px → ${values.out}\n`);
  } finally {
    generator.dispose();
  }
  return EXIT_CODES.ok;
}

/**
 * The GAR's directory: --gar as given (exit 3 when it holds no checkpoint), else the shipped GAR
 * (exit 6 when none is shipped).
 */
async function findGarDir(gar: string | undefined): Promise<string> {
  const { chooseRenderer, isGarName, shippedModelsDir } = await import('../io/node/gar-models.ts');
  const { CHECKPOINT_MANIFEST } = await import('../io/node/checkpoint-files.ts');
  if (gar !== undefined && isGarName(gar)) return (await chooseRenderer({ gar })).garDir!;
  if (gar !== undefined) {
    const dir = resolve(gar);
    const found = await stat(join(dir, CHECKPOINT_MANIFEST)).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!found) throw new InputMissingError(`${gar}: no GAR checkpoint (${CHECKPOINT_MANIFEST}) there; train one with facegar train-gar`);
    return dir;
  }
  try {
    const choice = await chooseRenderer({ renderer: 'gar' });
    return choice.garDir!;
  } catch (error) {
    if (!(error instanceof ModelUnavailableError)) throw error;
    throw new ModelUnavailableError(
      `no --gar given and no GAR shipped in ${shippedModelsDir()}; pass --gar RUN_DIR (facegar train-gar) or an exported model directory`,
    );
  }
}

interface NormalMapRows {
  /** [rows, R, R, 3] camera-space normal maps, n·0.5+0.5, background 0. Caller disposes. */
  normals: import('@tensorflow/tfjs-core').Tensor4D;
  /** One opaque R×R photo crop per row, when the rows come from photos. */
  crops?: RgbaImage[];
  /** With photos: e.g. "3 faces from 2 photos", for the summary line. */
  summary?: string;
}

async function randomNormalMaps(model: MorphableModel, resolution: number, rows: number, seed: number): Promise<NormalMapRows> {
  const { GeometrySampler } = await import('../gar/geometry-sampler.ts');
  const { SeededRandom } = await import('../common/seeded-random.ts');
  const { normals } = new GeometrySampler(model, { resolution }).sampleNormalMaps(new SeededRandom(seed), rows);
  return { normals };
}

/**
 * Fit every face in the photos with the graphics path and frame it as the GAR path does: the
 * crop alignFaceCrop cuts from the detector's landmarks (what the GAR was trained on), and the
 * fitted mesh seen by that crop's camera (the photo's camera turned and rescaled by the crop's
 * similarity), rasterised as training rasterises normal maps. A photo that cannot be decoded or
 * holds no face fails the command with reconstruct's error kind, naming the photo.
 */
async function photoNormalMaps(model: MorphableModel, photos: string[], resolution: number, maxFaces: number): Promise<NormalMapRows> {
  const { Reconstructor } = await import('../api/reconstruct.ts');
  const { alignFaceCrop } = await import('../detect/align-face-crop.ts');
  const { transformPointsArray } = await import('../geometry/camera.ts');
  const { cropCamera } = await import('../gar/normal-training-data.ts');
  const { GeometrySampler } = await import('../gar/geometry-sampler.ts');
  const { decodeImageFileScaled } = await import('../io/node/decode-image.ts');
  const { loadDetectorModelFiles } = await import('../io/node/detector-models.ts');

  const reconstructor = await Reconstructor.create({ model, detector: await loadDetectorModelFiles() });
  const crops: RgbaImage[] = [];
  const framed: ReturnType<typeof cropCamera>[] = [];
  try {
    for (const photo of photos) {
      const faces = await namingPhoto(photo, async () => {
        const { image } = await decodeImageFileScaled(photo, { maxSide: DEFAULT_MAX_DECODE_SIDE_PX /* as reconstruct's default */ });
        const { faces } = await reconstructor.reconstruct(image, { renderer: 'graphics', maxFaces });
        return faces.map((face) => ({ face, image }));
      });
      for (const { face, image } of faces) {
        const { crop, cropFromImage } = alignFaceCrop(image, face.detectedLandmarks2d, resolution);
        for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255; // outside the photo: opaque black, as the GAR path and training see it
        crops.push(crop);
        const verticesCamera = transformPointsArray(face.vertices, face.rotation, face.translationMm);
        const photoCamera = { focalPx: face.focalPx, principalPointPx: face.principalPointPx, width: image.width, height: image.height };
        framed.push(cropCamera(verticesCamera, photoCamera, cropFromImage, resolution));
      }
    }
  } finally {
    reconstructor.dispose();
  }
  const normals = new GeometrySampler(model, { resolution }).renderNormalMaps(framed);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return { normals, crops, summary: `${plural(crops.length, 'face')} from ${plural(photos.length, 'photo')}` };
}

/** Run `work` for one photo; a user error it throws keeps its kind and exit code but names the photo. */
async function namingPhoto<T>(photo: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof FacegarError) || error.message.includes(photo)) throw error;
    throw new FacegarError(error.code, `${photo}: ${error.message}`, { cause: error });
  }
}

/** `grid` with one more column of cells on its left: `cells[row]`, each cell-sized (grid height / rows). */
function prependColumn(grid: RgbaImage, cells: RgbaImage[]): RgbaImage {
  const side = grid.height / cells.length;
  const out = createRgbaImage(grid.width + side, grid.height);
  for (let y = 0; y < grid.height; y++) {
    const cell = cells[Math.floor(y / side)],
      cellY = y % side;
    out.data.set(cell.data.subarray(cellY * side * 4, (cellY + 1) * side * 4), y * out.width * 4);
    out.data.set(grid.data.subarray(y * grid.width * 4, (y + 1) * grid.width * 4), (y * out.width + side) * 4);
  }
  return out;
}

/** Every pixel repeated `factor`× in x and y (nearest neighbour): small GAR cells a person can see. */
function enlargeNearest(image: RgbaImage, factor: number): RgbaImage {
  if (factor === 1) return image;
  const out = createRgbaImage(image.width * factor, image.height * factor);
  const view = new Uint32Array(out.data.buffer, out.data.byteOffset, out.width * out.height);
  const source = new Uint32Array(image.data.buffer.slice(image.data.byteOffset, image.data.byteOffset + image.data.byteLength));
  for (let y = 0; y < out.height; y++) {
    const sourceRow = Math.floor(y / factor) * image.width,
      row = y * out.width;
    for (let x = 0; x < out.width; x++) view[row + x] = source[sourceRow + Math.floor(x / factor)];
  }
  return out;
}
