// `facegar train-gar --data DATASET_DIR --out RUN_DIR`: adversarial training of the GAR on a
// prepared dataset, with progress on stderr, a JSONL loss log, periodic atomic checkpoints,
// sample grids, and resume.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT_CODES, InputMissingError, UsageError } from '../common/errors.ts';
import { integerOption, nonNegativeNumberOption, optionalPositiveNumberOption, parseCommandArgs, requireOption } from './command-options.ts';
import { halveImage, type RgbaImage } from '../common/image.ts';
import type { FaceEmbeddingModelName } from '../detect/face-embedding.ts';

const HELP = `Usage: facegar train-gar --data <dataset dir> --out <run dir> [options]

Trains the Generative Adversarial Renderer on aligned crops made by \`facegar prepare\`.
Writes to the run dir: checkpoint.json + checkpoint-<step>.safetensors (atomically),
samples-<step>.png (normal map | renders with 4 latents per row), losses.jsonl.

Options:
      --data <dir>        [string] dataset made by facegar prepare (required)
      --out <dir>         [string] run directory (required)
      --preset <name>     [string] tiny (32²) | small (64²) | base (128²) | paper (256²) (default: tiny)
      --steps <n>         [number] total optimiser steps (default: 1000)
      --batch <n>         [number] batch size (default: 4)
      --seed <n>          [number] random seed (default: 0)
      --lr <x>            [number] Adam learning rate (default: 0.0025)
      --checkpoint-every <n> [number] steps between checkpoints and sample grids (default: 100)
      --r1-gamma <x>      [number] R1 weight γ (default: 10; StyleGAN2-ADA's rule 0.0002·R²/batch gives ~0.05 at 32², batch 4)
      --no-path-length    [boolean] switch path-length regularisation off
      --normal-estimator <dir> [string] a facegar train-normals output (needed by --normal-weight > 0; remembered on resume)
      --normal-weight <x> [number] normal-consistency weight: estimated normals of G's image vs its normal map (default: 0)
      --landmark-weight <x> [number] landmark-consistency weight: FaceMesh landmarks of G's image vs the
                          geometry's projected model landmarks, over the inter-ocular distance (default: 0)
      --landmark-interval <n> [number] G steps between landmark-loss evaluations (lazy, like R1) (default: 4)
      --identity-weight <x> [number] identity contrastive loss weight: on its steps G renders pairs that share
                          z and identity coefficients with other pose and expression, and the
                          embeddings of a pair are pulled together, other pairs' pushed apart
                          (default: 0; needs an even --batch)
      --identity-interval <n> [number] G steps between identity-loss evaluations (lazy) (default: 4)
      --embedding <name>  [string] faceres | mobilefacenet: the identity network (default: faceres; remembered on resume)
                          With --resume, these seven (and only these) override the checkpoint's settings.
      --init-from <dir>   [string] a new run starts its generator from this GAR (a run dir or an exported
                          model such as models/gar-small), with a fresh discriminator: fine-tuning on
                          your photos. The network is that GAR's; --preset is ignored
      --ema-kimg <x>      [number] half-life of the generator's moving average, thousands of images (default: 10)
      --ema-rampup <x>    [number] the half-life is at most this fraction of the images seen; 0 = none
                          (default: 0.05, and 0 with --init-from: the average starts as that GAR)
      --freeze-generator <n> [number] the first n steps train the discriminator alone, the generator held:
                          with --init-from, the fresh discriminator catches up before it moves the
                          generator (default: 0)
      --resume            [boolean] continue from the run dir's checkpoint (required if one exists)
      --model <dir>       [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache)
  -q, --quiet             [boolean] no progress
  -h, --help              [boolean] this help
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      data: { type: 'string' },
      out: { type: 'string' },
      preset: { type: 'string', default: 'tiny' },
      steps: { type: 'string', default: '1000' },
      batch: { type: 'string', default: '4' },
      seed: { type: 'string', default: '0' },
      lr: { type: 'string' },
      'checkpoint-every': { type: 'string', default: '100' },
      'no-path-length': { type: 'boolean', default: false },
      'r1-gamma': { type: 'string' },
      'normal-estimator': { type: 'string' },
      'normal-weight': { type: 'string' },
      'landmark-weight': { type: 'string' },
      'landmark-interval': { type: 'string' },
      'identity-weight': { type: 'string' },
      'identity-interval': { type: 'string' },
      embedding: { type: 'string' },
      resume: { type: 'boolean', default: false },
      'init-from': { type: 'string' },
      'freeze-generator': { type: 'string', default: '0' },
      'ema-kimg': { type: 'string' },
      'ema-rampup': { type: 'string' },
      model: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
    { allowPositionals: false },
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_CODES.ok;
  }
  requireOption(values.data, '--data <dataset dir>');
  requireOption(values.out, '--out <run dir>');
  const steps = integerOption(values.steps, 'steps', 1);
  const batchSize = integerOption(values.batch, 'batch', 1);
  const seed = integerOption(values.seed, 'seed', 0);
  const generatorFrozenSteps = integerOption(values['freeze-generator'], 'freeze-generator', 0);
  const emaKimg = optionalPositiveNumberOption(values['ema-kimg'], 'ema-kimg');
  const emaRampup = values['ema-rampup'] === undefined ? undefined : nonNegativeNumberOption(values['ema-rampup'], 'ema-rampup');
  const every = integerOption(values['checkpoint-every'], 'checkpoint-every', 1);
  const learningRate = optionalPositiveNumberOption(values.lr, 'lr');
  const r1Gamma = values['r1-gamma'] === undefined ? undefined : nonNegativeNumberOption(values['r1-gamma'], 'r1-gamma');
  const consistencyOverrides = {
    ...(values['normal-weight'] !== undefined ? { normalWeight: nonNegativeNumberOption(values['normal-weight'], 'normal-weight') } : {}),
    ...(values['landmark-weight'] !== undefined ? { landmarkWeight: nonNegativeNumberOption(values['landmark-weight'], 'landmark-weight') } : {}),
    ...(values['landmark-interval'] !== undefined ? { landmarkInterval: integerOption(values['landmark-interval'], 'landmark-interval', 1) } : {}),
    ...(values['identity-weight'] !== undefined ? { identityWeight: nonNegativeNumberOption(values['identity-weight'], 'identity-weight') } : {}),
    ...(values['identity-interval'] !== undefined ? { identityInterval: integerOption(values['identity-interval'], 'identity-interval', 1) } : {}),
  };
  const { FACE_EMBEDDING_MODELS, DEFAULT_FACE_EMBEDDING_MODEL } = await import('../detect/face-embedding.ts');
  if (values.embedding !== undefined && !Object.hasOwn(FACE_EMBEDDING_MODELS, values.embedding)) {
    throw new UsageError(`Expected one of ${Object.keys(FACE_EMBEDDING_MODELS).join(', ')} for --embedding but received ${values.embedding}`);
  }

  const { garNetworkConfig } = await import('../gar/gar-config.ts');
  const network = garNetworkConfig(values.preset!);
  const { initBackend } = await import('../engine/backend.ts');
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  const { GeometrySampler } = await import('../gar/geometry-sampler.ts');
  const { GarTrainer } = await import('../gar/train-gar.ts');
  const { decodeGarTrainer, garTrainerFrom } = await import('../gar/checkpoint.ts');
  const { readGarCheckpoint, saveGarCheckpoint, trimLossLog } = await import('../io/node/checkpoint-files.ts');
  const { renderSampleGrid } = await import('../gar/sample-grid.ts');
  const { SeededRandom } = await import('../common/seeded-random.ts');
  const { writePngAtomic } = await import('../io/node/encode-image.ts');
  const { ensureWritableDirectory } = await import('../io/node/atomic-write.ts');
  const { appendFile } = await import('node:fs/promises');
  const tf = await import('@tensorflow/tfjs-core');

  await initBackend();
  const outDir = resolve(values.out);
  await ensureWritableDirectory(outDir);
  const existing = await readGarCheckpoint(outDir);
  if (existing && !values.resume)
    throw new UsageError(`${values.out} already holds a checkpoint at step ${existing.manifest.step}: pass --resume to continue it, or choose another --out`);
  // A resumed run goes on from its own weights: --init-from only starts new runs.
  const initFrom = values['init-from'] === undefined || existing ? undefined : await readGarCheckpoint(resolve(values['init-from']));
  if (values['init-from'] !== undefined && !existing && !initFrom)
    throw new InputMissingError(`${values['init-from']}: no GAR checkpoint (checkpoint.json) there`);
  const resolution = (existing ?? initFrom)?.manifest.config.network.resolution ?? network.resolution;
  const realImages = await loadDatasetImages(resolve(values.data), resolution);
  const { model } = await loadMorphableModel({ modelDir: values.model });
  const sampler = new GeometrySampler(model, { resolution });
  const train = {
    batchSize,
    seed,
    generatorFrozenSteps,
    ...(emaKimg ? { emaKimg } : {}),
    ...(emaRampup !== undefined ? { emaRampup } : initFrom ? { emaRampup: 0 } : {}),
    ...(learningRate ? { learningRate } : {}),
    ...(r1Gamma !== undefined ? { r1Gamma } : {}),
    ...(values['no-path-length'] ? { pathLengthWeight: 0 } : {}),
    ...consistencyOverrides,
  };
  let trainer: import('../gar/train-gar.ts').GarTrainer;
  try {
    trainer = existing
      ? decodeGarTrainer(
          { ...existing.manifest, config: { ...existing.manifest.config, train: { ...existing.manifest.config.train, ...consistencyOverrides } } },
          existing.weights,
          sampler,
          realImages,
        )
      : initFrom
        ? garTrainerFrom(initFrom.manifest, initFrom.weights, sampler, realImages, train)
        : new GarTrainer({ network, sampler, realImages, train });
  } catch (error) {
    if (initFrom && error instanceof Error && !(error instanceof UsageError)) throw new UsageError(`--init-from ${values['init-from']}: ${error.message}`);
    throw error;
  }
  const estimatorDir = values['normal-estimator'] ? resolve(values['normal-estimator']) : existing?.manifest.notes?.normalEstimator;
  // The identity network is recorded in the checkpoint's notes, so a resumed run keeps it even if the default changes.
  const embedding = (values.embedding ??
    existing?.manifest.notes?.identityEmbedding ??
    (trainer.config.identityWeight > 0 ? DEFAULT_FACE_EMBEDDING_MODEL : undefined)) as FaceEmbeddingModelName | undefined;
  const consistency = await loadConsistencyJudges(trainer, estimatorDir, embedding).catch((error) => {
    trainer.dispose();
    throw error;
  });
  await trimLossLog(outDir, trainer.step);
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(line);
  };
  const interactive = Boolean(process.stderr.isTTY) && !values.quiet;
  log(
    `facegar train-gar: ${realImages.length} images at ${resolution}², preset ${existing ? 'from checkpoint' : initFrom ? `from ${values['init-from']}` : values.preset}, ${existing ? `resuming at step ${trainer.step}` : 'new run'}, target ${steps} steps, batch ${trainer.config.batchSize}\n`,
  );

  const gridRandom = new SeededRandom(1234);
  const gridNormals = sampler.renderNormalMaps(Array.from({ length: 4 }, () => sampler.sample(gridRandom)));
  // Where the run's generator came from, kept on resume.
  const initFromNote = initFrom
    ? `${values['init-from']} (generator at its step ${initFrom.manifest.step}; discriminator fresh)`
    : existing?.manifest.notes?.initFrom;
  const notes: Record<string, string> = {
    command: `facegar train-gar ${args.join(' ')}`,
    ...(initFromNote ? { initFrom: initFromNote } : {}),
    ...(estimatorDir ? { normalEstimator: estimatorDir } : {}),
    ...(embedding ? { identityEmbedding: embedding } : {}),
  };
  const save = async () => {
    await saveGarCheckpoint(outDir, trainer, notes);
    const grid = renderSampleGrid(trainer.generatorEma, gridNormals, { latentsPerRow: 4, seed: 7 });
    await writePngAtomic(join(outDir, `samples-${String(trainer.step).padStart(8, '0')}.png`), grid);
  };
  const started = Date.now();
  const startStep = trainer.step;
  try {
    while (trainer.step < steps) {
      const losses = trainer.trainStep();
      await appendFile(join(outDir, 'losses.jsonl'), JSON.stringify({ ...losses, time: new Date().toISOString() }) + '\n');
      const done = trainer.step - startStep,
        seconds = (Date.now() - started) / 1000;
      const imagesPerSecond = (done * trainer.config.batchSize) / seconds;
      const eta = ((steps - trainer.step) * seconds) / done;
      const width = 24,
        filled = Math.round((width * trainer.step) / steps);
      const line = `${'█'.repeat(filled)}${'░'.repeat(width - filled)} step ${trainer.step}/${steps} G ${losses.lossG?.toFixed(3) ?? 'frozen'} D ${losses.lossD.toFixed(3)}${losses.r1 !== undefined ? ` R1 ${losses.r1.toFixed(3)}` : ''}${losses.normal !== undefined ? ` N ${losses.normal.toFixed(3)}` : ''}${losses.landmark !== undefined ? ` L ${losses.landmark.toFixed(3)}` : ''}${losses.identity !== undefined ? ` I ${losses.identity.toFixed(3)}` : ''} ${imagesPerSecond.toFixed(1)} img/s ETA ${Math.round(eta)} s`;
      if (interactive) log(`\r\x1b[2K${line}`);
      else if (trainer.step % every === 0 || trainer.step === steps) log(line + '\n');
      if (trainer.step % every === 0 || trainer.step === steps) await save();
    }
  } finally {
    if (interactive) log('\n');
    tf.dispose(gridNormals);
    trainer.dispose();
    consistency.dispose();
  }
  log(`facegar train-gar: step ${Math.max(trainer.step, startStep)} saved in ${values.out} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return EXIT_CODES.ok;
}

/**
 * Load the frozen judges the trainer's consistency weights need (the normal estimator from
 * `estimatorDir`, FaceMesh from the detector models, the `embedding` identity network from the
 * same models) and hand them to the trainer.
 */
async function loadConsistencyJudges(
  trainer: import('../gar/train-gar.ts').GarTrainer,
  estimatorDir: string | undefined,
  embedding: FaceEmbeddingModelName | undefined,
): Promise<{ dispose(): void }> {
  const disposers: (() => void)[] = [];
  const release = () => {
    for (const dispose of disposers.splice(0)) dispose();
  };
  try {
    if (trainer.config.normalWeight > 0) {
      if (!estimatorDir) throw new UsageError('--normal-weight > 0 needs --normal-estimator <dir> (make one with facegar train-normals)');
      const { readCheckpointFiles } = await import('../io/node/checkpoint-files.ts');
      const { decodeNormalEstimator, validateNormalEstimatorManifest } = await import('../gar/normal-estimator-training.ts');
      const saved = await readCheckpointFiles(estimatorDir, {
        validate: validateNormalEstimatorManifest,
        name: 'normal-estimator checkpoint',
        weightsName: 'normal-estimator weights',
      });
      if (!saved) throw new InputMissingError(`${estimatorDir}: no normal-estimator checkpoint (checkpoint.json) there`);
      let estimator;
      try {
        estimator = decodeNormalEstimator(saved.manifest, saved.weights);
      } catch (error) {
        throw new UsageError(`${estimatorDir}: unusable normal-estimator checkpoint (${(error as Error).message})`);
      }
      if (estimator.config.resolution !== trainer.network.resolution) {
        estimator.dispose();
        throw new UsageError(
          `${estimatorDir}: the normal estimator works at ${saved.manifest.config.network.resolution}², the GAR at ${trainer.network.resolution}² (train one with --size ${trainer.network.resolution})`,
        );
      }
      trainer.consistency.normalEstimator = estimator;
      disposers.push(() => estimator.dispose());
    }
    if (trainer.config.landmarkWeight > 0) {
      const { loadDetectorModelFiles } = await import('../io/node/detector-models.ts');
      const { loadGraphModelFromBytes } = await import('../detect/graph-model.ts');
      const { FaceMeshLandmarks } = await import('../gar/geometry-consistency.ts');
      const graph = await loadGraphModelFromBytes((await loadDetectorModelFiles()).facemesh, 'facemesh');
      const landmarks = new FaceMeshLandmarks(graph);
      trainer.consistency.landmarks = landmarks;
      disposers.push(() => {
        landmarks.dispose();
        graph.dispose();
      });
    }
    if (trainer.config.identityWeight > 0) {
      const { loadFaceEmbeddingModelFile } = await import('../io/node/face-embedding-model.ts');
      const { createFaceEmbedder, FACE_EMBEDDING_MODELS, DEFAULT_FACE_EMBEDDING_MODEL } = await import('../detect/face-embedding.ts');
      const { createIdentityConsistencyLoss } = await import('../gar/identity-consistency.ts');
      const name = embedding ?? DEFAULT_FACE_EMBEDDING_MODEL;
      const embedder = await createFaceEmbedder(await loadFaceEmbeddingModelFile({ name }), FACE_EMBEDDING_MODELS[name]);
      trainer.consistency.identity = createIdentityConsistencyLoss(embedder);
      disposers.push(() => embedder.dispose());
    }
  } catch (error) {
    release(); // the judges loaded before the failure
    throw error;
  }
  return { dispose: release };
}

/** The dataset's crops at `resolution` (a larger stored size is halved down to it). */
async function loadDatasetImages(dataDir: string, resolution: number): Promise<RgbaImage[]> {
  const { decodeImageFile } = await import('../io/node/decode-image.ts');
  let dataset: { sizes: number[]; images: { files: Record<string, string> }[] };
  try {
    dataset = JSON.parse(await readFile(join(dataDir, 'dataset.json'), 'utf8'));
  } catch (error) {
    throw new InputMissingError(
      `${join(dataDir, 'dataset.json')}: cannot read a dataset (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); make one with facegar prepare`,
    );
  }
  const size = dataset.sizes.filter((s) => s >= resolution && Number.isInteger(Math.log2(s / resolution))).sort((a, b) => a - b)[0];
  if (size === undefined)
    throw new UsageError(
      `${dataDir}: no crops of ${resolution}px or a power-of-two multiple (have ${dataset.sizes.join(', ')}); run facegar prepare --size ${resolution}`,
    );
  if (dataset.images.length === 0) throw new UsageError(`${dataDir}: the dataset has no images`);
  const images: RgbaImage[] = [];
  for (const entry of dataset.images) {
    let image = await decodeImageFile(join(dataDir, entry.files[String(size)]));
    while (image.width > resolution) image = halveImage(image);
    images.push(image);
  }
  return images;
}
