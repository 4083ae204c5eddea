// `facegar train-normals --out DIR`: train the normal estimator (the judge of the GAR's
// normal-consistency loss) on studio renders with exact normals; `--evaluate` prints its error
// on held-out renders. Checkpoints like the GAR's (checkpoint.json + safetensors, atomic).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT_CODES, UsageError } from '../common/errors.ts';
import { integerOption, optionalPositiveNumberOption, parseCommandArgs, requireOption } from './command-options.ts';
import type { NormalSample, NormalSampleStream } from '../gar/normal-training-data.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';

const HELP = `Usage: facegar train-normals --out <dir> [options]
       facegar train-normals --out <dir> --evaluate

Trains a small U-Net that estimates camera-space normals from an aligned face crop, on studio
renders aligned like \`facegar prepare --synthetic\` (truth landmarks) with their exact normal
maps. Loss: mean cosine distance on the face mask. Writes to <dir>: checkpoint.json +
checkpoint-<step>.safetensors (atomically), losses.jsonl, and caches the rendered samples
(samples-*.f32). Prints the mean angle (degrees) on held-out renders at the end.

Options:
      --out <dir>        [string] output directory (required)
      --steps <n>        [number] total optimiser steps (default: 1500)
      --size <px>        [number] crop side, the GAR resolution it will judge (default: 64)
      --faces <n>        [number] training renders (seed stream 'train', as prepare --synthetic) (default: 512)
      --heldout <n>      [number] held-out renders (their own seed stream) (default: 64)
      --batch <n>        [number] batch size (default: 8)
      --lr <x>           [number] Adam learning rate (default: 0.002)
      --seed <n>         [number] seed of the scenes, the initialisation and the batches (default: 0)
      --checkpoint-every <n> [number] steps between checkpoints and held-out evaluations (default: 250)
      --resume           [boolean] continue from the checkpoint in --out (required if one exists)
      --evaluate         [boolean] only print the held-out error of the checkpoint in --out
      --model <dir>      [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache)
  -q, --quiet            [boolean] no progress
  -h, --help             [boolean] this help
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      out: { type: 'string' },
      steps: { type: 'string', default: '1500' },
      size: { type: 'string', default: '64' },
      faces: { type: 'string', default: '512' },
      heldout: { type: 'string', default: '64' },
      batch: { type: 'string', default: '8' },
      lr: { type: 'string' },
      seed: { type: 'string', default: '0' },
      'checkpoint-every': { type: 'string', default: '250' },
      resume: { type: 'boolean', default: false },
      evaluate: { type: 'boolean', default: false },
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
  requireOption(values.out, '--out <dir>');
  const steps = integerOption(values.steps, 'steps', 1);
  const size = integerOption(values.size, 'size', 8, 512);
  if ((size & (size - 1)) !== 0) throw new UsageError(`Expected a power of two for --size but received ${values.size}`);
  const faces = integerOption(values.faces, 'faces', 1);
  const heldout = integerOption(values.heldout, 'heldout', 1);
  const batchSize = integerOption(values.batch, 'batch', 1);
  const seed = integerOption(values.seed, 'seed', 0);
  const every = integerOption(values['checkpoint-every'], 'checkpoint-every', 1);
  const learningRate = optionalPositiveNumberOption(values.lr, 'lr');

  const { initBackend } = await import('../engine/backend.ts');
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  const { ensureWritableDirectory } = await import('../io/node/atomic-write.ts');
  const { readCheckpointFiles, saveCheckpointFiles, trimLossLog } = await import('../io/node/checkpoint-files.ts');
  const training = await import('../gar/normal-estimator-training.ts');
  const { appendFile } = await import('node:fs/promises');
  await initBackend();
  const outDir = resolve(values.out);
  await ensureWritableDirectory(outDir);
  const kind = { validate: training.validateNormalEstimatorManifest, name: 'normal-estimator checkpoint', weightsName: 'normal-estimator weights' };
  const existing = await readCheckpointFiles(outDir, kind);
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(line);
  };
  const { model } = await loadMorphableModel({ modelDir: values.model });

  if (values.evaluate) {
    if (!existing) throw new UsageError(`${values.out} holds no normal-estimator checkpoint (train one first)`);
    const estimator = training.decodeNormalEstimator(existing.manifest, existing.weights);
    try {
      const R = estimator.config.resolution;
      const samples = await loadSamples(outDir, model, 'heldout', seed, heldout, R, log);
      const result = training.evaluateNormalEstimator(estimator, samples);
      process.stdout.write(
        `${JSON.stringify({ step: existing.manifest.step, resolution: R, heldOutRenders: result.samples, meanAngleDeg: round(result.meanAngleDeg), cosineDistance: round(result.cosineDistance) })}\n`,
      );
    } finally {
      estimator.dispose();
    }
    return EXIT_CODES.ok;
  }

  if (existing && !values.resume)
    throw new UsageError(`${values.out} already holds a checkpoint at step ${existing.manifest.step}: pass --resume to continue it, or choose another --out`);
  const trainer = existing
    ? training.decodeNormalEstimatorTrainer(existing.manifest, existing.weights)
    : new training.NormalEstimatorTrainer({ resolution: size, seed }, { batchSize, seed, ...(learningRate ? { learningRate } : {}) });
  try {
    await trimLossLog(outDir, trainer.step);
    const R = trainer.estimator.config.resolution;
    const trainSamples = await loadSamples(outDir, model, 'train', seed, faces, R, log);
    const heldOutSamples = await loadSamples(outDir, model, 'heldout', seed, heldout, R, log);
    const notes = { command: `facegar train-normals ${args.join(' ')}` };
    let heldOut = existing?.manifest.heldOut;
    const save = async () => {
      const result = training.evaluateNormalEstimator(trainer.estimator, heldOutSamples);
      heldOut = { ...result, step: trainer.step };
      await saveCheckpointFiles(
        outDir,
        trainer.step,
        (weightsPath) => training.encodeNormalEstimatorCheckpoint(trainer, weightsPath, { heldOut, notes }),
        kind,
      );
      log(
        `step ${trainer.step}: held-out mean angle ${result.meanAngleDeg.toFixed(2)}° (cosine distance ${result.cosineDistance.toFixed(4)}, ${result.samples} renders)\n`,
      );
    };
    log(
      `facegar train-normals: ${trainSamples.length} training renders at ${R}², ${trainer.estimator.namedParameters().reduce((s, [, v]) => s + v.size, 0)} parameters, ${existing ? `resuming at step ${trainer.step}` : 'new run'}, target ${steps} steps\n`,
    );
    const started = Date.now(),
      startStep = trainer.step;
    let windowLoss = 0,
      windowCount = 0;
    while (trainer.step < steps) {
      const loss = trainer.trainStep(trainSamples);
      windowLoss += loss;
      windowCount++;
      await appendFile(join(outDir, 'losses.jsonl'), JSON.stringify({ step: trainer.step, loss, time: new Date().toISOString() }) + '\n');
      if (trainer.step % every === 0 || trainer.step === steps) {
        const seconds = (Date.now() - started) / 1000;
        log(`step ${trainer.step}/${steps} loss ${(windowLoss / windowCount).toFixed(4)} ${((trainer.step - startStep) / seconds).toFixed(2)} steps/s\n`);
        windowLoss = 0;
        windowCount = 0;
        await save();
      }
    }
    if (heldOut)
      process.stdout.write(
        `${JSON.stringify({ step: trainer.step, resolution: R, heldOutRenders: heldOut.samples, meanAngleDeg: round(heldOut.meanAngleDeg), cosineDistance: round(heldOut.cosineDistance) })}\n`,
      );
    log(`facegar train-normals: step ${trainer.step} saved in ${values.out} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  } finally {
    trainer.dispose();
  }
  return EXIT_CODES.ok;
}

const round = (x: number) => Math.round(x * 10000) / 10000;

/**
 * The samples of a stream, rendered once and cached in `dir` as one float32 file
 * (per sample: image, normal map, landmarks), written atomically.
 */
async function loadSamples(
  dir: string,
  model: MorphableModel,
  stream: NormalSampleStream,
  seed: number,
  count: number,
  size: number,
  log: (line: string) => void,
): Promise<NormalSample[]> {
  const { renderNormalSample } = await import('../gar/normal-training-data.ts');
  const { writeFileAtomic } = await import('../io/node/atomic-write.ts');
  const plane = size * size * 3,
    per = 2 * plane + 136;
  const path = join(dir, `samples-${stream}-s${seed}-${size}px-${count}.f32`);
  try {
    const bytes = await readFile(path);
    if (bytes.byteLength === count * per * 4) {
      const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      return Array.from({ length: count }, (_, i) => ({
        image: values.subarray(i * per, i * per + plane),
        normalMap: values.subarray(i * per + plane, i * per + 2 * plane),
        landmarks2d: values.subarray(i * per + 2 * plane, (i + 1) * per),
      }));
    }
  } catch {
    // Not cached yet: render below.
  }
  const started = Date.now();
  const samples: NormalSample[] = [];
  const values = new Float32Array(count * per);
  for (let i = 0; i < count; i++) {
    const sample = renderNormalSample(model, stream, seed, i, size);
    values.set(sample.image, i * per);
    values.set(sample.normalMap, i * per + plane);
    values.set(sample.landmarks2d, i * per + 2 * plane);
    samples.push(sample);
    if ((i + 1) % 64 === 0 || i + 1 === count) log(`rendering ${stream} samples: ${i + 1}/${count} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  await writeFileAtomic(path, new Uint8Array(values.buffer));
  return samples;
}
