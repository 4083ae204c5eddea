import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { EXIT_CODES, FacegarError, UsageError } from '../common/errors.ts';
import { VERSION } from './version.ts';
import { optionalIntegerOption, parseCommandArgs } from './command-options.ts';
import { DEFAULT_MAX_FACES, DEFAULT_RENDERER, RENDERER_NAMES } from '../api/default-renderer.ts';
import { NODE_BACKEND_NAMES } from '../engine/backend-names.ts';
import { DEFAULT_FIT_CONFIG } from '../fit/fit-config.ts';
import { MESH_FORMATS, PREDICTION_LAYOUTS } from './mesh-formats.ts';
import {
  DEFAULT_GAR_PRESET,
  DEFAULT_MAX_DECODE_SIDE_PX,
  GAR_PRESET_NAMES,
  MACHINE_OPTIONS,
  MAX_FACES,
  RECONSTRUCT_SETTING_OPTIONS,
  oneOf,
  prepareBatchSettings,
  readBackendOption,
  readReconstructRequest,
} from './reconstruct-options.ts';
import { chooseShard, selectShard, shardSummaryName } from './shard.ts';

const MAIN_HELP = `facegar ${VERSION} — 3D face reconstruction from a single photo

Usage:
  facegar reconstruct <inputs...> [options]   photo(s) → mesh, parameters JSON, overlay PNG
  facegar prepare <photos dir> --out <dir>     detect + align faces into a GAR training dataset
  facegar train-gar --data <dir> --out <dir>  train the Generative Adversarial Renderer
  facegar sample [--normal-from <photo>] --out <png>  GAR renders over random or fitted normal maps
  facegar train-encoder --gar <dir> --out <dir>  train the encoder that inverts a GAR
  facegar train-normals --out <dir>           train the normal estimator of the GAR's consistency loss
  facegar eval <benchmark> [options]          accuracy: synthetic (studio renders), see facegar eval --help
  facegar queue add <inputs...> --redis <url> --out <dir>   enqueue a batch for workers (BullMQ on Redis)
  facegar queue status --redis <url> [--wait]  waiting, active, done and failed jobs
  facegar worker --redis <url>                take reconstruction jobs from the queue (any number of machines)
  facegar merge-summary <out dir>             one summary.jsonl from the shards' and workers' summaries
  facegar --version [--verbose]               version (and tensor backend with --verbose)
  facegar <command> --help                    options of a command

Exit codes:
  0 ok · 1 internal error · 2 usage · 3 input missing · 4 not an image · 5 no face
  6 model unavailable · 7 output not writable · 8 fit failed · 9 batch with some failures
  10 queue unavailable (Redis cannot be reached)

Environment:
  FACEGAR_MODEL_DIR   ICT-FaceKit model directory (else the cache, else downloaded once)
  FACEGAR_CACHE_DIR   cache for the model and its compact form (default ~/.cache/facegar)
  FACEGAR_OFFLINE=1   never download
  FACEGAR_BACKEND     tensor backend: wasm (default) | cpu | tensorflow
`;

// Enums and defaults in the help come from the code's own constants, so the help cannot drift from them.

const RECONSTRUCT_HELP = `Usage: facegar reconstruct <inputs...> [options]

Inputs are image files (JPEG, PNG, WebP, TIFF, …), directories (searched recursively) or
quoted globs ("photos/**/*.jpg", "photos/[!a]*.jpg"; a malformed glob is a usage error). Only
regular files are read (a FIFO or device fails with exit 4, files over 256 MiB too), and
facegar's own output images in the --out folder are never taken as photos.
The <stem> of an input is its path below its root (the directory argument, the glob's folder
before the first wildcard, or the file's own folder), extension kept: photos/a.jpg, photos/a.png
and photos/trip/a.jpg give a.jpg, a.png and trip/a.jpg (subfolders are made in --out). It
depends on that path alone, so it is the same in every run, --resume and shard. (A name ending
in .face<N> gets a trailing _.) Two inputs with the same stem from different roots are refused.
For each input <stem> it writes, atomically:
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
renderer is gar (it is ${DEFAULT_RENDERER} in this version); otherwise the graphics path runs.

Options:
  -o, --out <dir>            [string] output directory (default: out)
  -m, --model <dir>          [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache, download)
      --format <list>        [string] mesh formats, comma-separated: ${MESH_FORMATS.join(', ')} (glb is textured) (default: obj)
      --max-faces <n>        [number] most faces per photo, largest first, 1–${MAX_FACES} (default: ${DEFAULT_MAX_FACES})
      --resume               [boolean] skip inputs whose outputs are complete (default: false)
      --same-person          [boolean] the inputs are photos of one person: first fit each photo's largest face
                             (identity prior ÷ the number of photos), then reconstruct every photo with their
                             mean identity held and its own expression, pose and camera; also writes
                             <out>/person.json (identity, photos used) and <out>/person.obj (neutral shape).
                             With --resume, a person.json made from the same inputs is reused
      --layout <name>        [string] also write benchmark predictions into --out:
                             now:  <subject>/<subset>/<stem>.obj + <stem>.txt (7 landmarks, mm), subject and
                                   subset from the input path …/<subject>/<subset>/<stem>.jpg (facegar eval now)
                             micc: <subject>/<video>.obj + .txt, the mean mesh over the frames of each input
                                   folder …/<subject>/<video>/ (Indoor-Cooperative, PTZ-Indoor, PTZ-Outdoor;
                                   facegar eval micc)
      --renderer <name>      [string] ${RENDERER_NAMES.join(' | ')} (default: ${DEFAULT_RENDERER}; gar needs a GAR)
      --gar <dir|name>       [string] GAR run dir (facegar train-gar) or model dir, or a shipped GAR by name:
                             studio = models/gar-small (the default; trained on this project's renders, MIT),
                             real = models/gar-real-64 (fine-tuned on real photos of LFW, whose
                             licence makes its weights NON-COMMERCIAL RESEARCH USE ONLY; see README "Licences")
                             ($FACEGAR_SHIPPED_MODELS_DIR replaces models/)
      --encoder <dir>        [string] encoder dir (facegar train-encoder) (default: models/encoder-small with
                             the shipped GAR; none with --gar: refinement starts from the mean face)
      --shape-encoder <dir>  [string] GAR path: a shape encoder (identity, expression, pose, camera from renders of
                             known geometry) that starts the fit and centres its identity prior; none = without
                             (default: models/shape-encoder-* when shipped, with an encoder)
      --identity-regressor <dir> [string] both paths: identity from the face-recognition embedding (FaceRes)
                             and FaceMesh's mesh, fitted on renders (scripts/fit-identity-regressor.ts); centres
                             the fit's identity prior (GAR path: joined with the shape encoder's); none = without
                             (default: models/identity-regressor when shipped, on the graphics path or beside a
                             shape encoder)
      --landmark-regressor <dir> [string] both paths: a landmark regressor (scripts/gpu/train_landmarks.py) whose
                             68 points, cut from the detector's crop, the fit matches with the model's own
                             landmark vertices; none = the detector's landmarks (default: models/landmarks-*
                             when shipped, else none)
      --landmark-map <file>  [string] both paths: the map from FaceMesh's mesh to the model's own 68 landmarks,
                             followed on faces turned 25° or more; none = FaceMesh's points throughout
                             (default: models/detector/facemesh-landmark-map.bin)
      --preset <name>        [string] GAR path: ${GAR_PRESET_NAMES.join(' | ')} (instant: encoder only) (default: ${DEFAULT_GAR_PRESET})
      --workers <n>          [number] worker threads (default: number of cores, ${availableParallelism()} here)
      --shard <K/N>          [string] take only shard K of N (0-based): the inputs whose path below its folder
                             or glob root hashes to K; summary in <out>/summary.shard-K-of-N.jsonl (see
                             docs/cluster.md; facegar merge-summary joins them). Without it: shard
                             $JOB_COMPLETION_INDEX of --shard-count N (Kubernetes Indexed Job), else
                             $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT (Slurm array); --shard 0/1 takes all
      --shard-count <n>      [number] the N for $JOB_COMPLETION_INDEX
      --landmark-steps <n>   [number] graphics path: landmark-stage iterations (default: ${DEFAULT_FIT_CONFIG.landmarkSteps})
      --photometric-steps <n> [number] graphics path: photometric-stage iterations, 0 = landmarks only (default: ${DEFAULT_FIT_CONFIG.photometricSteps})
      --render-size <px>     [number] graphics path: photometric render size (default: ${DEFAULT_FIT_CONFIG.renderSizePx})
                             (any of these three, with no renderer named, selects the graphics path)
      --focal <how>          [string] the camera's focal length: exif (from the photo's EXIF when it has one, else
                             estimated), fit (always estimated) or a number of pixels (default: exif)
      --max-decode-side <px> [number] larger photos are downscaled on decode; results stay in original pixels (default: ${DEFAULT_MAX_DECODE_SIDE_PX})
      --backend <name>       [string] ${NODE_BACKEND_NAMES.join(' | ')} (default: wasm)
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
  queue: () => import('./queue-command.ts'),
  worker: () => import('./worker-command.ts'),
  'merge-summary': () => import('./merge-summary-command.ts'),
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
  const { values, positionals } = parseCommandArgs(
    args,
    {
      out: { type: 'string', short: 'o', default: 'out' },
      ...RECONSTRUCT_SETTING_OPTIONS,
      ...MACHINE_OPTIONS,
      resume: { type: 'boolean', default: false },
      'same-person': { type: 'boolean', default: false },
      layout: { type: 'string' },
      shard: { type: 'string' },
      'shard-count': { type: 'string' },
      workers: { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    { allowPositionals: true },
  );
  if (values.help) {
    process.stdout.write(RECONSTRUCT_HELP);
    return EXIT_CODES.ok;
  }
  if (positionals.length === 0) throw new UsageError('no inputs given (try: facegar reconstruct --help)');
  if (values.out.trim() === '') throw new UsageError('--out is empty: name an output folder (--out . for the current one)');
  const request = await readReconstructRequest(values);
  const layout = oneOf(values.layout, PREDICTION_LAYOUTS, '--layout');
  const backend = readBackendOption(values.backend);
  const workers = optionalIntegerOption(values.workers, 'workers', 1) ?? availableParallelism();
  const shard = chooseShard({ shard: values.shard, shardCount: values['shard-count'] });

  // Heavy modules load only now, so --help stays instant.
  const { checkUniqueStems, expandInputs } = await import('./expand-inputs.ts');
  const { runBatch } = await import('./run-batch.ts');
  const { BatchProgress, formatBytesProgress, formatDuration } = await import('./progress.ts');

  const allInputs = await expandInputs(positionals, { outDir: values.out });
  if (allInputs.length === 0) throw new UsageError(`no image files found in ${positionals.join(' ')}`);
  // Checked over all inputs, so every shard refuses the same batch.
  checkUniqueStems(allInputs);
  const inputs = shard ? selectShard(allInputs, shard) : allInputs;
  const showProgress = !values.json && !values.quiet;
  const progress = new BatchProgress(inputs.length, { enabled: showProgress });
  const printLine = (line: string) => {
    if (showProgress) progress.log(line);
  };
  if (shard) printLine(`shard ${shard.index}/${shard.count} (${shard.source}): ${inputs.length} of ${allInputs.length} inputs`);

  let lastDownloadLine = 0;
  const { settings, rendererReason, model } = await prepareBatchSettings(request, {
    outDir: resolve(values.out),
    modelDir: values.model,
    offline: values.offline,
    backend,
    onModelProgress: (stage, done, total) => {
      if (!showProgress || Date.now() - lastDownloadLine < 500) return;
      lastDownloadLine = Date.now();
      printLine(
        stage === 'download'
          ? `downloading the morphable model: ${formatBytesProgress(done, total)}`
          : `preparing the morphable model (first use): ${done}/${total} files`,
      );
    },
  });
  if (settings.gar || settings.landmarkRegressorDir) printLine(rendererReason);
  if (values['same-person']) {
    if (shard) throw new UsageError("--same-person needs all the person's photos in one batch: drop --shard");
    const { preparePersonIdentity } = await import('./person-identity.ts');
    settings.fixedIdentity = await preparePersonIdentity(inputs, settings, model, { resume: values.resume, log: printLine });
  }
  const outcome = await runBatch({
    inputs,
    resume: values.resume,
    workers,
    progress,
    settings: { ...settings, layout },
    ...(shard ? { summaryName: shardSummaryName(shard) } : {}),
  });
  if (layout === 'micc') {
    const { writeMiccPredictions } = await import('./micc-predictions.ts');
    const videos = await writeMiccPredictions(resolve(values.out), model);
    if (showProgress) progress.log(`MICC predictions: ${videos} videos averaged`);
  }
  progress.close();
  const ok = outcome.results.filter((r) => r.status === 'ok').length;
  const failed = outcome.results.length - ok;
  if (values.json) {
    process.stdout.write(
      JSON.stringify({
        version: VERSION,
        outDir: resolve(values.out),
        ...(shard ? { shard: { index: shard.index, count: shard.count } } : {}),
        inputs: inputs.length,
        ok,
        failed,
        skipped: outcome.skipped,
        exitCode: outcome.exitCode,
        elapsedMs: Math.round(outcome.elapsedMs),
        results: outcome.results,
      }) + '\n',
    );
  } else {
    const reasons = new Map<string, number>();
    for (const r of outcome.results) if (r.status === 'failed') reasons.set(r.code ?? 'internal', (reasons.get(r.code ?? 'internal') ?? 0) + 1);
    const reasonText = failed ? ` (${[...reasons].map(([code, n]) => `${code}: ${n}`).join(', ')})` : '';
    const skippedText = outcome.skipped ? `, ${outcome.skipped} already done` : '';
    const shardText = shard ? ` (shard ${shard.index}/${shard.count})` : '';
    process.stderr.write(
      `facegar: ${ok} of ${inputs.length} reconstructed${shardText}${skippedText}, ${failed} failed${reasonText} in ${formatDuration(outcome.elapsedMs)} → ${values.out}\n`,
    );
  }
  return outcome.exitCode;
}

/** One line on stderr and the error's exit code; a stack trace only for internal errors with --verbose. */
export function reportError(error: unknown, verbose: boolean): number {
  if (error instanceof FacegarError) {
    process.stderr.write(`facegar: ${error.message}\n`);
    return error.exitCode;
  }
  const exitCode = (error as { exitCode?: unknown })?.exitCode;
  process.stderr.write(`facegar: ${internalErrorLine(error)}${verbose ? '' : ' (run with --verbose for details)'}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
  return typeof exitCode === 'number' ? exitCode : EXIT_CODES.internal;
}

/**
 * The one line for an error facegar did not anticipate. The wasm backend's runtime reports a
 * failed allocation only as "Aborted()" (no assertions in its release build), which says nothing
 * to a user; the likely cause and what to change go beside it.
 */
export function internalErrorLine(error: unknown): string {
  const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
  if (/^Aborted\(/.test(message)) {
    return (
      `internal error: the wasm tensor backend aborted (${message.split('.')[0]}), most often because it ran out of memory: ` +
      'wasm addresses at most 4 GB. Use a smaller --batch (training) or fewer --workers, or a native backend (FACEGAR_BACKEND=tensorflow); ' +
      'a training run resumes from its last checkpoint with --resume'
    );
  }
  return `internal error: ${message}`;
}
