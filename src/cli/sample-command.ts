// `facegar sample --gar RUN_DIR --out grid.png`: what a trained GAR draws. Random geometries
// from the model prior and the training pose distribution → normal maps → renders of the EMA
// generator, as one PNG grid (a row per geometry: normal map | renders with several latents).
import { resolve } from 'node:path';
import { EXIT_CODES, InputMissingError, UsageError } from '../common/errors.ts';
import { integerOption, parseCommandArgs, requireOption } from './command-options.ts';

const HELP = `Usage: facegar sample --gar <run dir> --out <grid.png> [options]

Draws --n random face geometries (the model prior and the pose distribution train-gar uses),
rasterises their normal maps and renders each with --latents latent codes through the run's
EMA generator. Writes one PNG (atomically): a row per geometry, the normal map in the first
column, then one column per latent (the same latent down a column: one appearance, several shapes).

Options:
      --gar <dir>         [string] run directory of facegar train-gar (required)
  -o, --out <file>        [string] grid PNG to write (required)
      --n <n>             [number] geometries, one row each (default: 8)
      --latents <n>       [number] renders per geometry, one column each (default: 4)
      --seed <n>          [number] seed of the geometries and latents (default: 0)
      --truncation <psi>  [number] truncation ψ towards the mean latent, 1 = none (default: 1)
      --generator <which> [string] ema | raw (default: ema)
  -m, --model <dir>       [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache)
  -q, --quiet             [boolean] no summary line
  -h, --help              [boolean] this help
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, {
    gar: { type: 'string' }, out: { type: 'string', short: 'o' }, n: { type: 'string', default: '8' }, latents: { type: 'string', default: '4' },
    seed: { type: 'string', default: '0' }, truncation: { type: 'string', default: '1' }, generator: { type: 'string', default: 'ema' },
    model: { type: 'string', short: 'm' }, quiet: { type: 'boolean', short: 'q', default: false },
    help: { type: 'boolean', short: 'h', default: false }, verbose: { type: 'boolean', short: 'v', default: false },
  }, { allowPositionals: false });
  if (values.help) { process.stdout.write(HELP); return EXIT_CODES.ok; }
  requireOption(values.gar, '--gar <run dir>');
  requireOption(values.out, '--out <grid.png>');
  const rows = integerOption(values.n, 'n', 1, 256);
  const latents = integerOption(values.latents, 'latents', 1, 64);
  const seed = integerOption(values.seed, 'seed', 0, 2 ** 31);
  const truncationPsi = Number(values.truncation);
  if (!Number.isFinite(truncationPsi) || truncationPsi < 0 || truncationPsi > 2) throw new UsageError(`Expected a number between 0 and 2 for --truncation but received ${values.truncation}`);
  if (values.generator !== 'ema' && values.generator !== 'raw') throw new UsageError(`Expected ema or raw for --generator but received ${values.generator}`);

  const { readGarCheckpoint } = await import('../io/node/checkpoint-files.ts');
  const runDir = resolve(values.gar);
  const checkpoint = await readGarCheckpoint(runDir);
  if (!checkpoint) throw new InputMissingError(`${values.gar}: no GAR checkpoint (checkpoint.json) there; train one with facegar train-gar`);

  const { initBackend } = await import('../engine/backend.ts');
  const { decodeGarGenerator } = await import('../gar/checkpoint.ts');
  const { GeometrySampler } = await import('../gar/geometry-sampler.ts');
  const { SeededRandom } = await import('../gar/seeded-random.ts');
  const { renderSampleGrid } = await import('../gar/sample-grid.ts');
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  const { writePngAtomic } = await import('../io/node/encode-image.ts');
  const tf = await import('@tensorflow/tfjs-core');

  await initBackend();
  let generator;
  try {
    generator = decodeGarGenerator(checkpoint.manifest, checkpoint.weights, values.generator === 'ema' ? 'G_ema' : 'G');
  } catch (error) {
    throw new UsageError(`${values.gar}: cannot load the generator (${(error as Error).message})`);
  }
  try {
    const { model } = await loadMorphableModel({ modelDir: values.model });
    const sampler = new GeometrySampler(model, { resolution: generator.config.resolution });
    const { normals } = sampler.sampleNormalMaps(new SeededRandom(seed), rows);
    let grid;
    try {
      grid = renderSampleGrid(generator, normals, { latentsPerRow: latents, seed: seed + 1, truncationPsi });
    } finally {
      tf.dispose(normals);
    }
    await writePngAtomic(resolve(values.out), grid);
    if (!values.quiet) process.stderr.write(`facegar sample: ${rows}×${latents} renders at ${generator.config.resolution}² from step ${checkpoint.manifest.step} → ${values.out}\n`);
  } finally {
    generator.dispose();
  }
  return EXIT_CODES.ok;
}
