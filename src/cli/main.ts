import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { EXIT_CODES, FacegarError, UsageError } from '../common/errors.ts';
import { VERSION } from './version.ts';
import { optionalIntegerOption, parseCommandArgs } from './command-options.ts';
import { MESH_FORMATS, type MeshFormat } from './mesh-formats.ts';
import { DEFAULT_RENDERER } from '../api/default-renderer.ts';

const MAIN_HELP = `facegar ${VERSION} — 3D face reconstruction from a single photo

Usage:
  facegar reconstruct <inputs...> [options]   photo(s) → mesh, parameters JSON, overlay PNG
  facegar prepare <photos dir> --out <dir>     detect + align faces into a GAR training dataset
  facegar train-gar --data <dir> --out <dir>  train the Generative Adversarial Renderer
  facegar sample [--normal-from <photo>] --out <png>  GAR renders over random or fitted normal maps
  facegar train-encoder --gar <dir> --out <dir>  train the encoder that inverts a GAR
  facegar train-normals --out <dir>           train the normal estimator of the GAR's consistency loss
  facegar eval <benchmark> [options]          accuracy: synthetic (studio renders), see facegar eval --help
  facegar bench [--json] [--quick]           engine and reconstruction speed on this machine
  facegar --version [--verbose]               version (and tensor backend with --verbose)
  facegar <command> --help                    options of a command

Exit codes:
  0 ok · 1 internal error · 2 usage · 3 input missing · 4 not an image · 5 no face
  6 model unavailable · 7 output not writable · 8 fit failed · 9 batch with some failures

Environment:
  FACEGAR_MODEL_DIR   ICT-FaceKit model directory (else the cache, else downloaded once)
  FACEGAR_CACHE_DIR   cache for the model and its compact form (default ~/.cache/facegar)
  FACEGAR_OFFLINE=1   never download
  FACEGAR_BACKEND     tensor backend: wasm (default) | cpu | tensorflow
`;

const DEFAULT_RENDERER_TEXT: string = DEFAULT_RENDERER;

const RECONSTRUCT_HELP = `Usage: facegar reconstruct <inputs...> [options]

Inputs are image files (JPEG, PNG, WebP, TIFF, …), directories (searched recursively) or
quoted globs ("photos/**/*.jpg"). For each input <stem> it writes, atomically:
  <stem>.obj            fitted mesh (full face area, UVs, normals), model space, millimetres
                        (several faces: <stem>.face1.obj, <stem>.face2.obj, … largest first)
  <stem>.overlay.png    the photo with the fitted mesh drawn over it
  <stem>.json           landmarks (68, original pixels), identity, expression, pose, camera, timings
  <stem>.gar.png        GAR path only: the aligned crop beside the final GAR render, enlarged
and one line per input in <out>/summary.jsonl as it finishes.

Renderers: the GAR path (detect → aligned crop at the GAR's resolution → encoder estimate →
refinement through the Generative Adversarial Renderer) or the graphics path (landmark fit, then
photometric fit through the SH graphics renderer). --gar/--encoder select the GAR path; with no
option, the GAR and encoder shipped under models/ are used when both exist and the default
renderer is gar (it is ${DEFAULT_RENDERER_TEXT} in this version); otherwise the graphics path runs.

Options:
  -o, --out <dir>            [string] output directory (default: out)
  -m, --model <dir>          [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache, download)
      --format <list>        [string] mesh formats, comma-separated: obj, ply, glb (textured) (default: obj)
      --max-faces <n>        [number] most faces per photo, largest first (default: 4)
      --resume               [boolean] skip inputs whose outputs are complete (default: false)
      --layout <name>        [string] also write benchmark predictions into --out:
                             now:  <subject>/<subset>/<stem>.obj + <stem>.txt (7 landmarks, mm), subject and
                                   subset from the input path …/<subject>/<subset>/<stem>.jpg (facegar eval now)
                             micc: <subject>/<video>.obj + .txt, the mean mesh over the frames of each input
                                   folder …/<subject>/<video>/ (Indoor-Cooperative, PTZ-Indoor, PTZ-Outdoor;
                                   facegar eval micc)
      --renderer <name>      [string] gar | graphics (default: ${DEFAULT_RENDERER_TEXT}; gar needs a GAR)
      --gar <dir>            [string] GAR run dir (facegar train-gar) or model dir (default: models/gar-small
                             when shipped; $FACEGAR_SHIPPED_MODELS_DIR replaces models/)
      --encoder <dir>        [string] encoder dir (facegar train-encoder) (default: models/encoder-small with
                             the shipped GAR; none with --gar: refinement starts from the mean face)
      --shape-encoder <dir>  [string] GAR path: a shape encoder (identity, expression, pose, camera from renders of
                             known geometry) that starts the fit and centres its identity prior; none = without
                             (default: models/shape-encoder-* when shipped, with an encoder)
      --preset <name>        [string] GAR path: instant (encoder only) | fast | default | quality (default: default)
      --workers <n>          [number] worker threads (default: number of cores, ${availableParallelism()} here)
      --landmark-steps <n>   [number] graphics path: landmark-stage iterations (default: 200)
      --photometric-steps <n> [number] graphics path: photometric-stage iterations, 0 = landmarks only (default: 16)
      --render-size <px>     [number] graphics path: photometric render size (default: 128)
                             (any of these three, with no renderer named, selects the graphics path)
      --focal <how>          [string] the camera's focal length: exif (from the photo's EXIF when it has one, else
                             estimated), fit (always estimated) or a number of pixels (default: exif)
      --max-decode-side <px> [number] larger photos are downscaled on decode; results stay in original pixels (default: 4096)
      --backend <name>       [string] wasm | cpu | tensorflow (default: wasm)
      --offline              [boolean] never download the model (default: false)
      --json                 [boolean] print one JSON summary on stdout instead of progress
  -q, --quiet                [boolean] no progress, only the final line
  -v, --verbose              [boolean] stack traces for internal errors
  -h, --help                 [boolean] this help
`;

/**
 * Commands that live in their own file (`src/cli/<name>-command.ts`, exporting
 * `run(args): Promise<number>`), loaded only when called so `--help` stays instant.
 */
const COMMAND_MODULES: Record<string, () => Promise<{ run(args: string[]): Promise<number> }>> = {
  eval: () => import('./eval-command.ts'),
  'train-gar': () => import('./train-gar-command.ts'),
  sample: () => import('./sample-command.ts'),
  'train-encoder': () => import('./train-encoder-command.ts'),
  'train-normals': () => import('./train-normals-command.ts'),
  prepare: () => import('./prepare-command.ts'),
  bench: () => import('./bench-command.ts'),
};

/** Run the CLI; resolves to the process exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(MAIN_HELP);
      return command === undefined ? EXIT_CODES.usage : EXIT_CODES.ok;
    }
    if (command === '--version' || command === '-V') {
      process.stdout.write(`facegar ${VERSION}\n`);
      if (verbose) {
        const { initBackend, describeBackend } = await import('../engine/backend.ts');
        await initBackend();
        const info = describeBackend();
        process.stdout.write(`node ${process.version}\nbackend ${JSON.stringify(info)}\n`);
      }
      return EXIT_CODES.ok;
    }
    if (command === 'reconstruct') return await reconstructCommand(rest);
    const external = COMMAND_MODULES[command];
    if (external) return await (await external()).run(rest);
    throw new UsageError(`unknown command "${command}" (try: facegar --help)`);
  } catch (error) {
    return reportError(error, verbose);
  }
}

async function reconstructCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    out: { type: 'string', short: 'o', default: 'out' },
    model: { type: 'string', short: 'm' },
    format: { type: 'string', default: 'obj' },
    'max-faces': { type: 'string', default: '4' },
    resume: { type: 'boolean', default: false },
    layout: { type: 'string' },
    renderer: { type: 'string' },
    gar: { type: 'string' },
    encoder: { type: 'string' },
    'shape-encoder': { type: 'string' },
    preset: { type: 'string' },
    workers: { type: 'string' },
    'landmark-steps': { type: 'string' },
    'photometric-steps': { type: 'string' },
    'render-size': { type: 'string' },
    'max-decode-side': { type: 'string', default: '4096' },
    focal: { type: 'string', default: 'exif' },
    backend: { type: 'string' },
    offline: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    quiet: { type: 'boolean', short: 'q', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  }, { allowPositionals: true });
  if (values.help) {
    process.stdout.write(RECONSTRUCT_HELP);
    return EXIT_CODES.ok;
  }
  if (positionals.length === 0) throw new UsageError('no inputs given (try: facegar reconstruct --help)');
  const formats = String(values.format).split(',').map((f) => f.trim().toLowerCase());
  for (const format of formats) {
    if (!(MESH_FORMATS as readonly string[]).includes(format)) throw new UsageError(`Expected one of ${MESH_FORMATS.join(', ')} for --format but received ${format}`);
  }
  if (values.layout !== undefined && values.layout !== 'now' && values.layout !== 'micc') throw new UsageError(`Expected one of now, micc for --layout but received ${values.layout}`);
  const backend = values.backend ?? process.env.FACEGAR_BACKEND;
  if (backend !== undefined && !['wasm', 'cpu', 'tensorflow'].includes(backend)) {
    throw new UsageError(`Expected one of wasm, cpu, tensorflow for --backend but received ${backend}`);
  }
  const fit = {
    landmarkSteps: optionalIntegerOption(values['landmark-steps'], 'landmark-steps', 0),
    photometricSteps: optionalIntegerOption(values['photometric-steps'], 'photometric-steps', 0),
    renderSizePx: optionalIntegerOption(values['render-size'], 'render-size', 16),
  };
  const { validateFitConfig } = await import('../fit/fit-config.ts');
  validateFitConfig(fit);
  const maxFaces = optionalIntegerOption(values['max-faces'], 'max-faces', 1) ?? 4;
  const maxDecodeSidePx = optionalIntegerOption(values['max-decode-side'], 'max-decode-side', 64) ?? 4096;
  const workers = optionalIntegerOption(values.workers, 'workers', 1) ?? availableParallelism();
  const focal = values.focal === 'exif' || values.focal === 'fit' ? values.focal : Number(values.focal);
  if (typeof focal === 'number' && !(focal > 0 && Number.isFinite(focal))) throw new UsageError(`Expected exif, fit or a positive number of pixels for --focal but received ${values.focal}`);
  const presets = ['instant', 'fast', 'default', 'quality'];
  if (values.preset !== undefined && !presets.includes(values.preset)) throw new UsageError(`Expected one of ${presets.join(', ')} for --preset but received ${values.preset}`);
  const { chooseRenderer } = await import('../io/node/gar-models.ts');
  // Options of the graphics path only: with no renderer named they choose it; beside an option of the GAR path they are a mistake.
  const graphicsOption = (['landmark-steps', 'photometric-steps', 'render-size'] as const).find((name) => values[name] !== undefined);
  const garOption = values.renderer === 'gar' ? '--renderer gar' : values.gar !== undefined ? '--gar' : values.encoder !== undefined ? '--encoder' : values['shape-encoder'] !== undefined ? '--shape-encoder' : values.preset !== undefined && values.renderer === undefined ? '--preset' : undefined;
  if (graphicsOption && garOption) throw new UsageError(`--${graphicsOption} belongs to the graphics path and ${garOption} to the GAR path: use one (--renderer graphics or gar)`);
  const choice = await chooseRenderer({ renderer: values.renderer, gar: values.gar, encoder: values.encoder, shapeEncoder: values['shape-encoder'], ...(graphicsOption ? { defaultRenderer: 'graphics' as const } : {}) });
  if (choice.renderer === 'graphics' && values.preset !== undefined) throw new UsageError('--preset belongs to the GAR path (try --renderer gar)');
  if (choice.renderer === 'gar' && values.preset === 'instant' && !choice.encoderDir) throw new UsageError('--preset instant needs an encoder (--encoder ENC_DIR)');

  // Heavy modules load only now, so --help stays instant.
  const { expandInputs } = await import('./expand-inputs.ts');
  const { runBatch } = await import('./run-batch.ts');
  const { BatchProgress, formatBytesProgress, formatDuration } = await import('./progress.ts');
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');

  const inputs = await expandInputs(positionals);
  if (inputs.length === 0) throw new UsageError(`no image files found in ${positionals.join(' ')}`);
  const showProgress = !values.json && !values.quiet;
  const progress = new BatchProgress(inputs.length, { enabled: showProgress });
  const printLine = (line: string) => { if (showProgress) progress.log(line); };

  let lastDownloadLine = 0;
  const loaded = await loadMorphableModel({
    modelDir: values.model,
    offline: values.offline || undefined,
    onProgress: (stage, done, total) => {
      if (!showProgress || Date.now() - lastDownloadLine < 500) return;
      lastDownloadLine = Date.now();
      printLine(stage === 'download' ? `downloading the morphable model: ${formatBytesProgress(done, total)}` : `preparing the morphable model (first use): ${done}/${total} files`);
    },
  });
  const gar = choice.renderer === 'gar' ? { garDir: choice.garDir!, encoderDir: choice.encoderDir, shapeEncoderDir: choice.shapeEncoderDir, preset: (values.preset ?? 'default') as 'instant' | 'fast' | 'default' | 'quality' } : undefined;
  if (gar) await checkGarModels(gar, loaded.model, backend as 'wasm' | 'cpu' | 'tensorflow' | undefined);
  if (gar) printLine(`renderer: ${choice.reason}, preset ${gar.preset}`);
  const outcome = await runBatch({
    inputs,
    resume: values.resume,
    workers,
    progress,
    settings: {
      outDir: resolve(values.out),
      formats: formats as MeshFormat[],
      maxFaces,
      fit: Object.fromEntries(Object.entries(fit).filter(([, v]) => v !== undefined)),
      renderer: choice.renderer,
      gar,
      compactModelPath: loaded.compactPath,
      backend: backend as 'wasm' | 'cpu' | 'tensorflow' | undefined,
      maxDecodeSidePx,
      layout: values.layout as 'now' | 'micc' | undefined,
      focal,
    },
  });
  if (values.layout === 'micc') {
    const { writeMiccPredictions } = await import('./micc-predictions.ts');
    const videos = await writeMiccPredictions(resolve(values.out), loaded.model);
    if (showProgress) progress.log(`MICC predictions: ${videos} videos averaged`);
  }
  progress.close();
  const ok = outcome.results.filter((r) => r.status === 'ok').length;
  const failed = outcome.results.length - ok;
  if (values.json) {
    process.stdout.write(JSON.stringify({ version: VERSION, outDir: resolve(values.out), inputs: inputs.length, ok, failed, skipped: outcome.skipped, exitCode: outcome.exitCode, elapsedMs: Math.round(outcome.elapsedMs), results: outcome.results }) + '\n');
  } else {
    const reasons = new Map<string, number>();
    for (const r of outcome.results) if (r.status === 'failed') reasons.set(r.code ?? 'internal', (reasons.get(r.code ?? 'internal') ?? 0) + 1);
    const reasonText = failed ? ` (${[...reasons].map(([code, n]) => `${code}: ${n}`).join(', ')})` : '';
    const skippedText = outcome.skipped ? `, ${outcome.skipped} already done` : '';
    process.stderr.write(`facegar: ${ok} of ${inputs.length} reconstructed${skippedText}, ${failed} failed${reasonText} in ${formatDuration(outcome.elapsedMs)} → ${values.out}\n`);
  }
  return outcome.exitCode;
}

/**
 * Read and decode the GAR path's networks once before the batch starts, so a missing or corrupt
 * GAR or encoder ends the command with one line and exit 6 instead of failing in every worker.
 */
async function checkGarModels(dirs: { garDir: string; encoderDir?: string; shapeEncoderDir?: string }, model: import('../morphable/morphable-model.ts').MorphableModel, backend: 'wasm' | 'cpu' | 'tensorflow' | undefined): Promise<void> {
  const { readGarModelFiles } = await import('../io/node/gar-models.ts');
  const { decodeGarModels } = await import('../api/gar-models.ts');
  const { initBackend } = await import('../engine/backend.ts');
  const files = await readGarModelFiles(dirs);
  await initBackend({ backend });
  decodeGarModels(files, model).dispose();
}

/** One line on stderr and the error's exit code; a stack trace only for internal errors with --verbose. */
export function reportError(error: unknown, verbose: boolean): number {
  if (error instanceof FacegarError) {
    process.stderr.write(`facegar: ${error.message}\n`);
    return error.exitCode;
  }
  const exitCode = (error as { exitCode?: unknown })?.exitCode;
  const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
  process.stderr.write(`facegar: internal error: ${message}${verbose ? '' : ' (run with --verbose for details)'}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
  return typeof exitCode === 'number' ? exitCode : EXIT_CODES.internal;
}
