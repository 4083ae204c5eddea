// `facegar train-encoder --gar RUN_DIR --out ENC_DIR`: self-supervised training of the face
// encoder on renders of a frozen GAR (EMA generator), with progress on stderr, a JSONL loss log,
// periodic atomic checkpoints (checkpoint.json + checkpoint-<step>.safetensors, as train-gar's)
// and resume.
import { appendFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT_CODES, InputMissingError, UsageError } from '../common/errors.ts';
import { integerOption, nonNegativeNumberOption, optionalPositiveNumberOption, parseCommandArgs, requireOption } from './command-options.ts';
import type { EncoderCheckpointManifest } from '../invert/encoder-checkpoint.ts';
import type { EncoderTrainer } from '../invert/train-encoder.ts';
import type { CheckpointKind } from '../io/node/checkpoint-files.ts';

const HELP = `Usage: facegar train-encoder --gar <run dir> --out <encoder dir> [options]

Trains the face encoder (renderer inverting) on images the GAR of <run dir> renders from
random geometry (model prior + pose distribution) and latents: it learns to predict identity,
expression, pose, focal, depth and w back. The encoder's preset follows the GAR's resolution.
Writes to the encoder dir: checkpoint.json + checkpoint-<step>.safetensors (atomically), losses.jsonl.

Options:
      --gar <dir>         [string] GAR run dir made by facegar train-gar (required)
      --out <dir>         [string] encoder dir (required)
      --steps <n>         [number] total optimiser steps (default: 2000)
      --batch <n>         [number] batch size (default: 8)
      --seed <n>          [number] random seed (default: 0)
      --lr <x>            [number] Adam learning rate (default: 0.001)
      --rerender <x>      [number] weight of the re-render consistency loss, 0 = off (default: 0)
      --checkpoint-every <n> [number] steps between checkpoints (default: 100)
      --resume            [boolean] continue from the encoder dir's checkpoint (required if one exists)
      --init-from <dir>   [string] a new run starts from this encoder's weights (a checkpoint or an
                        exported folder such as models/encoder-small), with fresh optimiser state:
                        fine-tune an encoder for another GAR of the same resolution
      --model <dir>       [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache)
  -q, --quiet             [boolean] no progress
  -h, --help              [boolean] this help
`;

export const ENCODER_MANIFEST = 'checkpoint.json';

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      gar: { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string', default: '2000' },
      batch: { type: 'string', default: '8' },
      seed: { type: 'string', default: '0' },
      lr: { type: 'string' },
      rerender: { type: 'string', default: '0' },
      'checkpoint-every': { type: 'string', default: '100' },
      resume: { type: 'boolean', default: false },
      'init-from': { type: 'string' },
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
  requireOption(values.gar, '--gar <run dir>');
  requireOption(values.out, '--out <encoder dir>');
  const steps = integerOption(values.steps, 'steps', 1);
  const batchSize = integerOption(values.batch, 'batch', 1);
  const seed = integerOption(values.seed, 'seed', 0);
  const every = integerOption(values['checkpoint-every'], 'checkpoint-every', 1);
  const learningRate = optionalPositiveNumberOption(values.lr, 'lr');
  const rerenderWeight = nonNegativeNumberOption(values.rerender, 'rerender');

  const { initBackend } = await import('../engine/backend.ts');
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  const { readGarCheckpoint, trimLossLog } = await import('../io/node/checkpoint-files.ts');
  const { decodeGarGenerator } = await import('../gar/checkpoint.ts');
  const { GeometrySampler } = await import('../gar/geometry-sampler.ts');
  const { encoderNetworkConfig, encoderPresetForResolution } = await import('../invert/encoder-config.ts');
  const { EncoderTrainer } = await import('../invert/train-encoder.ts');
  const { decodeEncoderTrainer, encoderTrainerFrom } = await import('../invert/encoder-checkpoint.ts');
  const { ensureWritableDirectory } = await import('../io/node/atomic-write.ts');

  await initBackend();
  const garDir = resolve(values.gar);
  const gar = await readGarCheckpoint(garDir);
  if (!gar) throw new InputMissingError(`${values.gar}: no GAR checkpoint (${ENCODER_MANIFEST}) there; make one with facegar train-gar`);
  const outDir = resolve(values.out);
  await ensureWritableDirectory(outDir);
  const existing = await readEncoderCheckpoint(outDir);
  if (existing && !values.resume)
    throw new UsageError(
      `${values.out} already holds an encoder checkpoint at step ${existing.manifest.step}: pass --resume to continue it, or choose another --out`,
    );
  const initFrom = values['init-from'] === undefined || existing ? undefined : await readEncoderCheckpoint(resolve(values['init-from']));
  if (values['init-from'] !== undefined && !existing && !initFrom)
    throw new InputMissingError(`${values['init-from']}: no encoder checkpoint (${ENCODER_MANIFEST}) there`);
  const { model } = await loadMorphableModel({ modelDir: values.model });
  const generator = decodeGarGenerator(gar.manifest, gar.weights, 'G_ema');
  const resolution = generator.config.resolution;
  const sampler = new GeometrySampler(model, { resolution });
  let trainer: EncoderTrainer;
  try {
    const train = { batchSize, seed, rerenderWeight, ...(learningRate ? { learningRate } : {}) };
    if (existing) {
      // A resumed run goes on from its own weights: --init-from only starts new runs.
      trainer = decodeEncoderTrainer(existing.manifest, existing.weights, generator, sampler);
    } else if (initFrom) {
      trainer = encoderTrainerFrom(initFrom.manifest, initFrom.weights, generator, sampler, train);
    } else {
      const network = encoderNetworkConfig(encoderPresetForResolution(resolution), {
        identityCount: model.identityCount,
        expressionCount: model.expressionNames.length,
        wDim: generator.config.wDim,
      });
      trainer = new EncoderTrainer({ network, generator, sampler, train });
      trainer.initialiseOutputStatistics();
    }
  } catch (error) {
    generator.dispose();
    if (initFrom && error instanceof Error && !(error instanceof UsageError)) throw new UsageError(`--init-from ${values['init-from']}: ${error.message}`);
    throw error instanceof Error && !(error instanceof UsageError) && /checkpoint|manifest/.test(error.message)
      ? new UsageError(`${values.out}: ${error.message}`)
      : error;
  }
  await trimLossLog(outDir, trainer.step);
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(line);
  };
  const interactive = Boolean(process.stderr.isTTY) && !values.quiet;
  log(
    `facegar train-encoder: GAR ${values.gar} (step ${gar.manifest.step}, ${resolution}²), ${existing ? `resuming at step ${trainer.step}` : 'new run'}, target ${steps} steps, batch ${trainer.config.batchSize}\n`,
  );
  const extra = {
    gar: { step: gar.manifest.step, weightsPath: join(garDir, gar.manifest.weightsPath) },
    notes: { command: `facegar train-encoder ${args.join(' ')}` },
  };
  const started = Date.now();
  const startStep = trainer.step;
  try {
    while (trainer.step < steps) {
      const losses = trainer.trainStep();
      if (!Number.isFinite(losses.total)) throw new UsageError(`the encoder loss diverged at step ${trainer.step} (try a smaller --lr)`);
      await appendFile(join(outDir, 'losses.jsonl'), JSON.stringify({ ...losses, time: new Date().toISOString() }) + '\n');
      const done = trainer.step - startStep,
        seconds = (Date.now() - started) / 1000;
      const eta = ((steps - trainer.step) * seconds) / done;
      const width = 24,
        filled = Math.round((width * trainer.step) / steps);
      const line = `${'█'.repeat(filled)}${'░'.repeat(width - filled)} step ${trainer.step}/${steps} loss ${losses.total.toFixed(4)} param ${losses.parameter.toFixed(4)} vertex ${losses.vertexMm.toFixed(2)} mm${losses.rerender !== undefined ? ` rerender ${losses.rerender.toFixed(4)}` : ''} ${((done * trainer.config.batchSize) / seconds).toFixed(1)} img/s ETA ${Math.round(eta)} s`;
      if (interactive) log(`\r\x1b[2K${line}`);
      else if (trainer.step % every === 0 || trainer.step === steps) log(line + '\n');
      if (trainer.step % every === 0 || trainer.step === steps) await saveEncoderCheckpoint(outDir, trainer, extra);
    }
  } finally {
    if (interactive) log('\n');
    trainer.dispose();
    generator.dispose();
  }
  log(`facegar train-encoder: step ${Math.max(trainer.step, startStep)} saved in ${values.out} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return EXIT_CODES.ok;
}

/**
 * Save the encoder trainer into `dir` atomically: weights first, then the manifest naming them,
 * then the previous weights are removed (a crash leaves the previous checkpoint intact).
 */
export async function saveEncoderCheckpoint(
  dir: string,
  trainer: EncoderTrainer,
  extra: Pick<EncoderCheckpointManifest, 'gar' | 'notes'> = {},
): Promise<EncoderCheckpointManifest> {
  const { encodeEncoderCheckpoint } = await import('../invert/encoder-checkpoint.ts');
  const { saveCheckpointFiles } = await import('../io/node/checkpoint-files.ts');
  return saveCheckpointFiles(dir, trainer.step, (weightsPath) => encodeEncoderCheckpoint(trainer, weightsPath, extra), await encoderCheckpointKind());
}

/** The encoder checkpoint in `dir` (manifest + weight bytes), or undefined when there is none. */
export async function readEncoderCheckpoint(dir: string): Promise<{ manifest: EncoderCheckpointManifest; weights: Uint8Array } | undefined> {
  const { readCheckpointFiles } = await import('../io/node/checkpoint-files.ts');
  return readCheckpointFiles(dir, await encoderCheckpointKind());
}

async function encoderCheckpointKind(): Promise<CheckpointKind<EncoderCheckpointManifest>> {
  const { validateEncoderCheckpointManifest } = await import('../invert/encoder-checkpoint.ts');
  return { validate: validateEncoderCheckpointManifest, name: 'encoder checkpoint', weightsName: 'encoder weights' };
}
