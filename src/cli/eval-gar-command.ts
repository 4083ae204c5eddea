// `facegar eval gar --gar RUN_DIR --data HELDOUT_DIR`: quality of a trained GAR against held-back
// crops, next to the same network at initialisation and the real-vs-real floor (src/eval/gar-quality.ts).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT_CODES, InputMissingError, UsageError } from '../common/errors.ts';
import { halveImage, type RgbaImage } from '../common/image.ts';
import { integerOption, parseCommandArgs, requireOption } from './command-options.ts';

export const EVAL_GAR_HELP = `facegar eval gar --gar RUN_DIR --data HELDOUT_DIR [options]
  Measures a GAR checkpoint (its EMA generator) against held-back crops made by
  facegar prepare (e.g. --synthetic 300 --seed 1, a seed training did not use), beside the same
  network at initialisation and the real set's own floor:
    KID ×10³        kernel inception distance (cubic kernel, unbiased MMD², 100 subsets) in the
                    identity-feature space of FaceRes, --n renders vs the held-back crops;
                    real-vs-real = two disjoint halves of the crops (the floor)
    landmark NME    FaceMesh's landmarks in each render vs the model landmarks of the geometry
                    it was given, mean error / inter-ocular distance (brows, eyes, nose, mouth;
                    and all 68); for the real crops against their truth landmarks
    swap            same latent w, geometry A → B: share of renders whose landmarks lie closer to
                    B than to A; identity cosine of (w, A)·(w, B) vs (w, A)·(w', A) and the share
                    where the same latent is the closer (the latent keeps the look)
  Options of gar:
      --gar <dir>           [string] run directory of facegar train-gar (required)
      --data <dir>          [string] held-back dataset of facegar prepare (required)
      --n <count>           [number] renders per generator (default: 200)
      --swaps <count>       [number] geometry-swap triplets (default: 32)
      --seed <n>            [number] seed of geometries, latents and KID subsets (default: 0)
      --embedding <name>    [string] faceres | mobilefacenet (default: faceres)
      --normal-estimator <dir> [string] a facegar train-normals output at the GAR's resolution: adds
                            normal agreement (mean angle between the normals it estimates from each
                            render and the normal map the render was given, on the face mask)
      --out <grid.png>      [string] also write a grid: per generator (trained | initial), 4 rows of
                            normal map | 4 latents, and a swap row: normal A | G(w, A) | normal B | G(w, B)
      --json                [boolean] print one JSON object on stdout instead of the table
  -m, --model <dir>         [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache)
  -q, --quiet               [boolean] no progress lines on stderr
`;

/** `facegar eval gar …`; resolves to the exit code. */
export async function evalGarCommand(args: string[], help: string): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      gar: { type: 'string' },
      data: { type: 'string' },
      n: { type: 'string', default: '200' },
      swaps: { type: 'string', default: '32' },
      seed: { type: 'string', default: '0' },
      embedding: { type: 'string', default: 'faceres' },
      out: { type: 'string', short: 'o' },
      'normal-estimator': { type: 'string' },
      json: { type: 'boolean', default: false },
      model: { type: 'string', short: 'm' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
    { allowPositionals: false },
  );
  if (values.help) {
    process.stdout.write(help);
    return EXIT_CODES.ok;
  }
  requireOption(values.gar, '--gar <run dir>');
  requireOption(values.data, '--data <held-back dataset dir>');
  const count = integerOption(values.n, 'n', 4, 100_000);
  const swaps = integerOption(values.swaps, 'swaps', 0, 10_000);
  const seed = integerOption(values.seed, 'seed', 0, 2 ** 31);
  if (values.embedding !== 'faceres' && values.embedding !== 'mobilefacenet')
    throw new UsageError(`Expected faceres or mobilefacenet for --embedding but received ${values.embedding}`);
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`${line}\n`);
  };

  const { readGarCheckpoint } = await import('../io/node/checkpoint-files.ts');
  const checkpoint = await readGarCheckpoint(resolve(values.gar));
  if (!checkpoint) throw new InputMissingError(`${values.gar}: no GAR checkpoint (checkpoint.json) there; train one with facegar train-gar`);
  const resolution = checkpoint.manifest.config.network.resolution;
  const real = await readHeldOut(resolve(values.data), resolution);

  const { initBackend } = await import('../engine/backend.ts');
  const { decodeGarGenerator } = await import('../gar/checkpoint.ts');
  const { Generator } = await import('../gar/generator.ts');
  const { GeometrySampler } = await import('../gar/geometry-sampler.ts');
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  const { loadDetectorModelFiles } = await import('../io/node/detector-models.ts');
  const { loadFaceEmbeddingModelFile } = await import('../io/node/face-embedding-model.ts');
  const { createFaceEmbedder, FACE_EMBEDDING_MODELS } = await import('../detect/face-embedding.ts');
  const { loadGraphModelFromBytes } = await import('../detect/graph-model.ts');
  const { FaceMesh } = await import('../detect/facemesh.ts');
  const quality = await import('../eval/gar-quality.ts');
  await initBackend();

  let trained;
  try {
    trained = decodeGarGenerator(checkpoint.manifest, checkpoint.weights, 'G_ema');
  } catch (error) {
    throw new UsageError(`${values.gar}: cannot load the generator (${(error as Error).message})`);
  }
  // The trainer initialises G (and its EMA) from this seed: the same network before any step.
  const initial = new Generator(checkpoint.manifest.config.network, checkpoint.manifest.config.train.seed * 3 + 1);
  const disposables: { dispose(): void }[] = [trained, initial];
  try {
    const [{ model }, detectorFiles, embeddingBytes] = await Promise.all([
      loadMorphableModel({ modelDir: values.model }),
      loadDetectorModelFiles(),
      loadFaceEmbeddingModelFile({ name: values.embedding }),
    ]);
    const embedder = await createFaceEmbedder(embeddingBytes, FACE_EMBEDDING_MODELS[values.embedding]);
    disposables.push(embedder);
    const faceMesh = new FaceMesh(await loadGraphModelFromBytes(detectorFiles.facemesh, 'facemesh'));
    disposables.push(faceMesh);
    const sampler = new GeometrySampler(model, { resolution });
    const normalEstimator = values['normal-estimator'] ? await loadNormalEstimator(resolve(values['normal-estimator']), resolution) : undefined;
    if (normalEstimator) disposables.push(normalEstimator);
    const judges = { embedder, faceMesh, normalEstimator };
    const config = { count, swaps, seed };
    const settings = quality.validateGarQualityConfig(config);

    let started = Date.now();
    const realFeatures = quality.embedCrops(embedder, real.crops, settings.batchSize);
    const embedRealMs = Date.now() - started;
    log(`facegar eval gar: ${real.crops.length} held-back crops at ${resolution}² embedded in ${(embedRealMs / 1000).toFixed(1)} s`);
    const realQuality = await quality.measureRealSet(realFeatures, judges, config, real.truthLandmarks.length > 0 ? real : undefined);
    realQuality.timesMs.embed = embedRealMs;
    log(`facegar eval gar: real-vs-real floor done`);
    started = Date.now();
    const trainedQuality = await quality.measureGenerator(trained, sampler, realFeatures, judges, config);
    log(`facegar eval gar: trained EMA generator (step ${checkpoint.manifest.step}) done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    started = Date.now();
    const initialQuality = await quality.measureGenerator(initial, sampler, realFeatures, judges, config);
    log(`facegar eval gar: initial generator done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const rows = [
      { name: `trained (step ${checkpoint.manifest.step})`, quality: trainedQuality },
      { name: 'initial', quality: initialQuality },
      { name: 'real vs real', quality: realQuality },
    ];
    if (values.json) {
      process.stdout.write(
        JSON.stringify({
          gar: values.gar,
          data: values.data,
          step: checkpoint.manifest.step,
          resolution,
          embedding: values.embedding,
          realCount: real.crops.length,
          config: settings,
          rows,
        }) + '\n',
      );
    } else {
      process.stdout.write(quality.formatGarQualityTable(rows));
    }
    if (values.out !== undefined) {
      const { renderQualityGrid } = await import('../eval/gar-quality-grid.ts');
      const { writePngAtomic } = await import('../io/node/encode-image.ts');
      await writePngAtomic(resolve(values.out), renderQualityGrid([trained, initial], sampler, { seed }));
      log(`facegar eval gar: grid (trained | initial) → ${values.out}`);
    }
  } finally {
    for (const item of disposables) item.dispose();
  }
  return EXIT_CODES.ok;
}

/** A facegar train-normals checkpoint's estimator, checked to work at `resolution`. */
async function loadNormalEstimator(dir: string, resolution: number) {
  const { readCheckpointFiles } = await import('../io/node/checkpoint-files.ts');
  const { decodeNormalEstimator, validateNormalEstimatorManifest } = await import('../gar/normal-estimator-training.ts');
  const saved = await readCheckpointFiles(dir, {
    validate: validateNormalEstimatorManifest,
    name: 'normal-estimator checkpoint',
    weightsName: 'normal-estimator weights',
  });
  if (!saved) throw new InputMissingError(`${dir}: no normal-estimator checkpoint (checkpoint.json) there; train one with facegar train-normals`);
  let estimator;
  try {
    estimator = decodeNormalEstimator(saved.manifest, saved.weights);
  } catch (error) {
    throw new UsageError(`${dir}: unusable normal-estimator checkpoint (${(error as Error).message})`);
  }
  if (estimator.config.resolution !== resolution) {
    estimator.dispose();
    throw new UsageError(`${dir}: the normal estimator works at ${estimator.config.resolution}², the GAR at ${resolution}²`);
  }
  return estimator;
}

/**
 * The held-back crops at `resolution` (a larger stored size halved down to it) and their truth
 * landmarks scaled to that size ([68*2] crop pixels; dataset.json stores them at the largest size).
 */
async function readHeldOut(dataDir: string, resolution: number): Promise<{ crops: RgbaImage[]; truthLandmarks: Float32Array[] }> {
  const { decodeImageFile } = await import('../io/node/decode-image.ts');
  const path = join(dataDir, 'dataset.json');
  let dataset: { sizes: number[]; images: { files: Record<string, string>; landmarks68?: number[] }[] };
  try {
    dataset = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new InputMissingError(
      `${path}: cannot read a dataset (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); make one with facegar prepare`,
    );
  }
  if (!Array.isArray(dataset?.sizes) || !Array.isArray(dataset.images)) throw new UsageError(`${path}: not a facegar prepare dataset (no sizes or images)`);
  const size = dataset.sizes.filter((s) => s >= resolution && Number.isInteger(Math.log2(s / resolution))).sort((a, b) => a - b)[0];
  if (size === undefined)
    throw new UsageError(
      `${dataDir}: no crops of ${resolution}px or a power-of-two multiple (have ${dataset.sizes.join(', ')}); run facegar prepare --size ${resolution}`,
    );
  if (dataset.images.length < 8) throw new UsageError(`${dataDir}: ${dataset.images.length} images; the measures need at least 8`);
  const largest = Math.max(...dataset.sizes);
  const crops: RgbaImage[] = [],
    truthLandmarks: Float32Array[] = [];
  for (const entry of dataset.images) {
    let image = await decodeImageFile(join(dataDir, entry.files[String(size)]));
    while (image.width > resolution) image = halveImage(image);
    crops.push(image);
    const landmarks = Float32Array.from(entry.landmarks68 ?? [], (v) => (v * resolution) / largest);
    truthLandmarks.push(landmarks);
  }
  // Real landmark agreement only where every crop has its 68 truth points.
  return { crops, truthLandmarks: truthLandmarks.every((l) => l.length === 136) ? truthLandmarks : [] };
}
