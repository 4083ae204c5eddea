import { join, resolve } from 'node:path';
import { EXIT_CODES, UsageError } from '../common/errors.ts';
import { integerOption, landmarkGateOption, landmarkMapOption, numberObjectOption, parseCommandArgs } from './command-options.ts';
import { validateGarRefineConfig, type GarRefinePresetName } from '../fit/gar-refine-config.ts';
import { validateFitConfig } from '../fit/fit-config.ts';
import { parseObjMesh, parsePickedPoints } from '../eval/benchmark-files.ts';
import { firstWithExtension, formatMm as fmt, readOptional, readPredictedLandmarks, readText } from './eval-files.ts';
import { MICC_HELP, miccCommand } from './eval-micc-command.ts';
import { AFLW2000_HELP, aflw2000Command } from './eval-aflw2000-command.ts';
import { EVAL_GAR_HELP, evalGarCommand } from './eval-gar-command.ts';
import { evaluateNowScan, NOW_SUBSETS, parseNowImagePath } from '../eval/now-protocol.ts';
import { concatSamples, summarizeErrors } from '../eval/error-statistics.ts';

const EVAL_HELP = `Usage: facegar eval <benchmark> [options]

Benchmarks:
  synthetic    studio-rendered photos with exact ground truth (runs anywhere, nothing to download)
  now          the NoW challenge protocol on a local copy of the NoW data (validation scans)
  micc         the MICC Florence protocol (RMSE per video setting) on a local copy of the data
  aflw2000     68-point landmark NME on a local copy of AFLW2000-3D, split by yaw
  gar          quality of a trained GAR (KID, landmark agreement, geometry swap) on held-back crops

facegar eval synthetic [options]
  Renders --n photos with the studio renderer (specular light, cast shadows, textured skin,
  eyes, backgrounds, blur, noise; scene seeds = hash("benchmark", seed, index), a stream no
  training data uses), or reads a test set folder (--set, e.g. Blender Cycles renders made by
  scripts/render-cycles-set.py), reconstructs each through the normal library path (detection
  included: a missed face counts against the success rate), aligns each mesh to the truth with
  a similarity transform and reports, per method row:
    median mm     per image the median per-vertex error over the full face area (9,409
                  vertices), then the mean over images; p90 mm: 90th percentile over images
    × mean face   median mm over the mean face's on the same images
    id r          mean over identity modes of the correlation across images between fitted and
                  true coefficients; top20: over the 20 modes of largest geometric effect
    focal err %   median over images of |f − f_true| / f_true
    NME %         mean 2D landmark distance / true inter-ocular distance
    success, ms/img, median mm by |yaw| 0–30°, 30–60°, 60–90°, and the original columns: all
                  images' errors on the narrow face area (6,706 vertices) pooled: median, mean, p90
  A mean-face row (the model's neutral shape, no fitting) is always printed for scale. With a GAR
  (--gar, or the one shipped under models/), the paper's three variants share the table: graphics
  (graphics-renderer fit), gar-mean-init (GAR refinement from the mean face and w̄) and
  gar-encoder-init (GAR refinement from the encoder's estimate; needs an encoder). Diagnostics:
  oracle-landmarks (the graphics path's landmark stage fed the true 2D landmarks, the model's own
  landmark vertices, no detector, the jaw weighted 0.6 as exact points earn; on by default),
  true-pose (the default fit, GAR when there is one, with the true pose and focal length held
  fixed) and true-focal (the default fit told the true focal length as a known one, as EXIF would;
  the pose is fitted); ask for these two with --methods.

facegar eval now --data NOW_DIR --predictions PRED_DIR [--image-list FILE] [--json]
  NOW_DIR as published: imagepathsvalidation.txt (lines …/<subject>/<subset>/<file>.jpg),
  scans/<subject>/*.obj, scans_lmks_onlypp/<subject>/*.pp (7 MeshLab picked points, mm).
  PRED_DIR/<subject>/<subset>/<file stem>.obj (or .ply-free OBJ only here) plus the 7 landmarks
  on the prediction as <stem>.npy (float 7×3) or <stem>.txt (7 lines "x y z"), in the order
  right eye outer, inner, left eye inner, outer, nose bottom, mouth right, left corner.
  Each scan is cropped around the face centre, the prediction aligned by a similarity from the
  7 landmarks then refined by scan-to-mesh ICP, and every scan point's distance to the mesh
  counted: median, mean, std in mm, overall and per subset (neutral, expression, occluded, selfie).
  Predictions missing from PRED_DIR are counted and reported, not scored.

${MICC_HELP}
${AFLW2000_HELP}
${EVAL_GAR_HELP}
Options of synthetic:
      --n <count>            [number] photos (default: 50; with --set: the whole set)
      --set <dir>            [string] score a test set folder instead of studio renders: per face
                             NNNN.png, NNNN.json (truth), NNNN.f32 (vertices), and set.json (README
                             "Accuracy"); a malformed file exits 2, a missing one 3, a bad photo 4
      --write-set <dir>      [string] write --n studio renders (--seed) in that layout and exit
      --seed <n>             [number] benchmark seed (default: 1)
      --methods <list>       [string] rows, comma-separated: graphics, gar-mean-init, gar-encoder-init,
                             oracle-landmarks, true-pose, true-focal (default: graphics, every GAR row a
                             GAR/encoder is found for, and oracle-landmarks)
      --oracle-noise <f>     [number] oracle-landmarks row: add Gaussian noise of this standard deviation,
                             as a fraction of the true landmark box's size, to each true point
                             (how accurate landmarks must be; default: 0)
      --renderer <name>      [string] graphics | gar: only that renderer's rows (default: both)
      --gar <dir>            [string] GAR run or model dir, or studio | real (shipped, see reconstruct --help)
                             (default: the shipped models/gar-small, if any)
      --encoder <dir>        [string] encoder dir (default: the shipped models/encoder-small with the shipped GAR)
      --shape-encoder <dir>  [string] GAR encoder row: shape encoder dir, or none (default: the shipped one, if any)
      --identity-regressor <dir> [string] the graphics and GAR rows (not oracle-landmarks): identity regressor dir,
                             or none (default: the shipped one; on the GAR rows, with a shape encoder)
      --landmark-map <file>  [string] every row but oracle-landmarks: the landmark map, or none (default: the shipped one)
      --landmark-regressor <dir> [string] every row but oracle-landmarks fits its points: dir, or none (default:
                             the shipped models/landmarks-*, if any)
      --preset <name>        [string] GAR rows: fast | default | quality | shading (default: default)
      --gar-steps <n>        [number] GAR rows: refinement steps instead of the preset's
      --gar-refine <json>    [string] GAR rows: overrides of the preset's refinement config, e.g.
                             '{"pixelWeight": 0.03, "landmarkStageSteps": 0}' (fields: fit/gar-refine-config.ts)
      --fit <json>           [string] graphics and oracle-landmarks rows: overrides of the graphics fit's config,
                             e.g. '{"identityPriorWeight": 6e-6}' (fields: fit/fit-config.ts)
      --landmark-gate <json> [string] GAR rows: the turned-face gate's options, e.g. '{"cropRefinements": 1}'
                             (cropRefinements 0–3; reliability: thresholds of fit/landmark-reliability.ts)
      --landmark-steps <n>   [number] landmark-stage iterations (default: the fit's default)
      --photometric-steps <n> [number] photometric-stage iterations (default: the fit's default)
  -m, --model <dir>          [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache, download)
      --backend <name>       [string] wasm | cpu | tensorflow (default: wasm)
      --json                 [boolean] print one JSON object { rows: [...] } on stdout
      --report <dir>         [string] also write DIR/contact-sheet.png (photo | fit overlay | one per-vertex
                             error heat map per method, legend in mm, for the first 12 images; failures
                             tinted red),
                             DIR/error-histogram.png, DIR/report.md and DIR/report.json (with every
                             image's scene parameters)
  -q, --quiet                [boolean] no progress lines on stderr
  -h, --help                 [boolean] this help
`;

/** `facegar eval …`; resolves to the exit code. User errors are thrown as typed errors. */
export async function run(args: string[]): Promise<number> {
  const [benchmark, ...rest] = args;
  if (benchmark === undefined || benchmark === '--help' || benchmark === '-h') {
    process.stdout.write(EVAL_HELP);
    return benchmark === undefined ? EXIT_CODES.usage : EXIT_CODES.ok;
  }
  if (benchmark === 'synthetic') return syntheticCommand(rest);
  if (benchmark === 'now') return nowCommand(rest, EVAL_HELP);
  if (benchmark === 'micc') return miccCommand(rest, EVAL_HELP);
  if (benchmark === 'aflw2000') return aflw2000Command(rest, EVAL_HELP);
  if (benchmark === 'gar') return evalGarCommand(rest, EVAL_HELP);
  throw new UsageError(`unknown benchmark "${benchmark}" (try: facegar eval --help)`);
}

async function syntheticCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      n: { type: 'string' },
      seed: { type: 'string', default: '1' },
      set: { type: 'string' },
      'write-set': { type: 'string' },
      renderer: { type: 'string' },
      methods: { type: 'string' },
      gar: { type: 'string' },
      encoder: { type: 'string' },
      'shape-encoder': { type: 'string' },
      'identity-regressor': { type: 'string' },
      'landmark-regressor': { type: 'string' },
      'landmark-map': { type: 'string' },
      preset: { type: 'string', default: 'default' },
      'gar-steps': { type: 'string' },
      'gar-refine': { type: 'string' },
      fit: { type: 'string' },
      'landmark-gate': { type: 'string' },
      'landmark-steps': { type: 'string' },
      'photometric-steps': { type: 'string' },
      model: { type: 'string', short: 'm' },
      backend: { type: 'string' },
      json: { type: 'boolean', default: false },
      report: { type: 'string' },
      'oracle-noise': { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
    { allowPositionals: false },
  );
  if (values.help) {
    process.stdout.write(EVAL_HELP);
    return EXIT_CODES.ok;
  }
  const count = integerOption(values.n ?? '50', 'n', 1);
  if (values.set !== undefined && values['write-set'] !== undefined)
    throw new UsageError('--set reads a test set and --write-set writes one: give one of them');
  const seed = integerOption(values.seed, 'seed', 0);
  if (values.renderer !== undefined && values.renderer !== 'graphics' && values.renderer !== 'gar')
    throw new UsageError(`Expected graphics or gar for --renderer but received ${values.renderer}`);
  const { BENCHMARK_METHODS } = await import('../eval/synthetic-benchmark.ts');
  type Method = (typeof BENCHMARK_METHODS)[number];
  let methods: Method[] | undefined;
  if (values.methods !== undefined) {
    methods = values.methods.split(',').map((m) => m.trim()) as Method[];
    const bad = methods.find((m) => !(BENCHMARK_METHODS as readonly string[]).includes(m));
    if (bad !== undefined) throw new UsageError(`Expected ${BENCHMARK_METHODS.join(', ')} in --methods but received ${bad}`);
  }
  const oracleNoise = values['oracle-noise'] === undefined ? 0 : Number(values['oracle-noise']);
  if (!(oracleNoise >= 0 && oracleNoise <= 1)) throw new UsageError(`Expected a number in [0, 1] for --oracle-noise but received ${values['oracle-noise']}`);
  if (!['fast', 'default', 'quality', 'shading'].includes(values.preset))
    throw new UsageError(`Expected fast, default, quality or shading for --preset but received ${values.preset}`);
  const garSteps = values['gar-steps'] === undefined ? undefined : integerOption(values['gar-steps'], 'gar-steps', 0);
  const garRefine = numberObjectOption(values['gar-refine'], 'gar-refine') ?? {};
  validateGarRefineConfig(garRefine, values.preset);
  if (garSteps !== undefined) garRefine.steps = garSteps;
  const landmarkGate = landmarkGateOption(values['landmark-gate']);
  const wantsGar =
    values.renderer === 'gar' || values.gar !== undefined || values.encoder !== undefined || (methods?.some((m) => m.startsWith('gar-')) ?? false);
  if (values.renderer === 'graphics' && wantsGar) throw new UsageError('--renderer graphics excludes the GAR rows (--gar, --encoder, gar-* methods)');
  const backend = values.backend ?? process.env.FACEGAR_BACKEND;
  if (backend !== undefined && !['wasm', 'cpu', 'tensorflow'].includes(backend))
    throw new UsageError(`Expected one of wasm, cpu, tensorflow for --backend but received ${backend}`);
  const fit = numberObjectOption(values.fit, 'fit') ?? {};
  if (values['landmark-steps'] !== undefined) fit.landmarkSteps = integerOption(values['landmark-steps'], 'landmark-steps', 0);
  if (values['photometric-steps'] !== undefined) fit.photometricSteps = integerOption(values['photometric-steps'], 'photometric-steps', 0);
  validateFitConfig(fit);

  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  if (values['write-set'] !== undefined) {
    const { model } = await loadMorphableModel({ modelDir: values.model });
    const { writeSyntheticSet } = await import('../io/node/synthetic-set-files.ts');
    const { benchmarkSceneSeed, studioBenchmarkFace } = await import('../eval/synthetic-benchmark.ts');
    const { renderStudioPhoto } = await import('../shading/studio-renderer.ts');
    const { sampleStudioScene } = await import('../shading/studio-scene.ts');
    const dir = resolve(values['write-set']);
    function* faces() {
      for (let index = 0; index < count; index++) {
        const sceneSeed = benchmarkSceneSeed(seed, index);
        if (!values.quiet) process.stderr.write(`image ${index + 1}/${count}\n`);
        yield studioBenchmarkFace(renderStudioPhoto(model, sampleStudioScene(model, sceneSeed)), sceneSeed);
      }
    }
    const stems = await writeSyntheticSet(dir, faces(), model, { name: 'facegar-studio', seed, version: (await import('./version.ts')).VERSION });
    process.stdout.write(`${stems.length} studio faces written to ${dir}\n`);
    return EXIT_CODES.ok;
  }
  const { loadDetectorModelFiles } = await import('../io/node/detector-models.ts');
  const { Reconstructor } = await import('../api/reconstruct.ts');
  const { runSyntheticBenchmark, runBenchmark, formatBenchmarkTable } = await import('../eval/synthetic-benchmark.ts');
  const { chooseRenderer, readChosenLandmarkRegressor, readGarModelFiles, readIdentityRegressorFiles } = await import('../io/node/gar-models.ts');
  const { ModelUnavailableError } = await import('../common/errors.ts');
  let gar: Awaited<ReturnType<typeof readGarModelFiles>> | undefined;
  let choice: Awaited<ReturnType<typeof chooseRenderer>> | undefined;
  const request = { identityRegressor: values['identity-regressor'] };
  if (values.renderer !== 'graphics') {
    try {
      choice = await chooseRenderer({ ...request, renderer: 'gar', gar: values.gar, encoder: values.encoder, shapeEncoder: values['shape-encoder'] });
    } catch (error) {
      // No GAR anywhere: the graphics row alone, unless a GAR row was asked for.
      if (!(error instanceof ModelUnavailableError) || wantsGar) throw error;
    }
    if (choice) gar = await readGarModelFiles(choice as typeof choice & { garDir: string });
  }
  choice ??= await chooseRenderer({ ...request, renderer: 'graphics' });
  const identityRegressor = choice.identityRegressorDir ? await readIdentityRegressorFiles(choice.identityRegressorDir) : undefined;
  const [{ model }, detector] = await Promise.all([
    loadMorphableModel({ modelDir: values.model }),
    loadDetectorModelFiles({ landmarkMap: landmarkMapOption(values['landmark-map']) }),
  ]);
  // Read the set's file list before the networks load: a wrong folder fails fast.
  const setSource =
    values.set === undefined
      ? undefined
      : await (await import('../io/node/synthetic-set-files.ts')).syntheticSetSource(resolve(values.set), model, values.n === undefined ? Infinity : count);
  const landmarkRegressor = await readChosenLandmarkRegressor(values['landmark-regressor']);
  const reconstructor = await Reconstructor.create(
    { model, detector, gar, ...(landmarkRegressor ? { landmarkRegressor } : {}), ...(identityRegressor ? { identityRegressor } : {}) },
    { backend: backend as 'wasm' | 'cpu' | 'tensorflow' | undefined },
  );
  if (methods === undefined && values.renderer === 'gar')
    methods = ['gar-mean-init', ...(reconstructor.garAvailable.encoder ? ['gar-encoder-init' as const] : [])];
  if (methods === undefined && values.renderer === 'graphics') methods = ['graphics'];
  // Default: every renderer row this reconstructor can run, and the cheap oracle-landmarks diagnostic.
  methods ??= [...(await import('../eval/synthetic-benchmark.ts')).availableBenchmarkMethods(reconstructor), 'oracle-landmarks'];
  if (methods?.includes('gar-encoder-init') && !reconstructor.garAvailable.encoder) {
    reconstructor.dispose();
    throw new ModelUnavailableError('gar-encoder-init needs an encoder: pass --encoder ENC_DIR (made by facegar train-encoder)');
  }
  if (!values.quiet && gar)
    process.stderr.write(
      `GAR ${gar.garSource} (step ${reconstructor.garAvailable.garStep}, ${reconstructor.garAvailable.resolution}²)${gar.encoderSource ? `, encoder ${gar.encoderSource}` : ''}${gar.shapeEncoderSource ? `, shape encoder ${gar.shapeEncoderSource}` : ''}, preset ${values.preset}\n`,
    );
  if (!values.quiet && identityRegressor) process.stderr.write(`identity regressor ${identityRegressor.source}\n`);
  try {
    const config = {
      count,
      seed,
      fit,
      methods,
      garPreset: values.preset as GarRefinePresetName,
      garRefine,
      oracleNoise,
      ...(landmarkGate ? { landmarkGate } : {}),
    };
    const onImage = (_index: number, _count: number, line: string) => {
      if (!values.quiet) process.stderr.write(`${line}\n`);
    };
    const result = setSource
      ? await runBenchmark(model, reconstructor, setSource, config, onImage)
      : await runSyntheticBenchmark(model, reconstructor, config, onImage);
    if (values.json) process.stdout.write(JSON.stringify({ rows: result.rows }) + '\n');
    else process.stdout.write(formatBenchmarkTable(result.rows));
    if (values.report !== undefined) await writeSyntheticReport(resolve(values.report), result, model, ['facegar', 'eval', 'synthetic', ...args].join(' '));
  } finally {
    reconstructor.dispose();
  }
  return EXIT_CODES.ok;
}

/** `facegar eval now`: the NoW protocol over a local copy of the data and a predictions folder. */
async function nowCommand(args: string[], help: string): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      data: { type: 'string' },
      predictions: { type: 'string' },
      'image-list': { type: 'string' },
      json: { type: 'boolean', default: false },
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
  if (!values.data || !values.predictions) throw new UsageError('facegar eval now needs --data NOW_DIR and --predictions PRED_DIR (try --help)');
  const dataDir = resolve(values.data),
    predictionsDir = resolve(values.predictions);
  const listPath = values['image-list'] ? resolve(values['image-list']) : join(dataDir, 'imagepathsvalidation.txt');
  const lines = (await readText(listPath, 'NoW image list')).split('\n').filter((l) => l.trim().length > 0);
  const perSubset = new Map<string, Float64Array[]>();
  let missing = 0,
    scored = 0;
  const scanCache = new Map<string, { vertices: Float64Array; landmarks: Float64Array }>();
  for (const [lineNumber, line] of lines.entries()) {
    const entry = parseNowImagePath(line);
    if (!entry) throw new UsageError(`${listPath}:${lineNumber + 1}: expected …/<subject>/<subset>/<file>, got "${line.trim()}"`);
    const base = join(predictionsDir, entry.subject, entry.subset, entry.stem);
    const meshText = await readOptional(`${base}.obj`);
    const landmarks = await readPredictedLandmarks(base);
    if (meshText === undefined || landmarks === undefined) {
      missing++;
      if (!values.quiet) process.stderr.write(`${lineNumber + 1}/${lines.length} ${entry.subject}/${entry.subset}/${entry.stem}: prediction missing\n`);
      continue;
    }
    let scan = scanCache.get(entry.subject);
    if (!scan) {
      const scanFile = await firstWithExtension(join(dataDir, 'scans', entry.subject), '.obj');
      const ppFile = await firstWithExtension(join(dataDir, 'scans_lmks_onlypp', entry.subject), '.pp');
      scan = { vertices: parseObjMesh(await readText(scanFile, 'NoW scan')).vertices, landmarks: parsePickedPoints(await readText(ppFile, 'NoW landmarks')) };
      scanCache.set(entry.subject, scan);
    }
    const { distances } = evaluateNowScan(scan.vertices, scan.landmarks, parseObjMesh(meshText), landmarks);
    scored++;
    const list = perSubset.get(entry.subset) ?? [];
    list.push(distances);
    perSubset.set(entry.subset, list);
    if (!values.quiet)
      process.stderr.write(
        `${lineNumber + 1}/${lines.length} ${entry.subject}/${entry.subset}/${entry.stem}: median ${summarizeErrors(distances).median.toFixed(3)} mm\n`,
      );
  }
  const summary = (parts: Float64Array[]) => {
    const s = summarizeErrors(concatSamples(parts));
    return { medianMm: s.median, meanMm: s.mean, stdMm: s.std, points: s.count, images: parts.length };
  };
  const result = {
    overall: summary([...perSubset.values()].flat()),
    subsets: Object.fromEntries([...new Set([...NOW_SUBSETS, ...perSubset.keys()])].map((name) => [name, summary(perSubset.get(name) ?? [])])),
    scored,
    missing,
  };
  if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    const row = (name: string, s: ReturnType<typeof summary>) =>
      `${name.padEnd(22)} ${fmt(s.medianMm)}  ${fmt(s.meanMm)}  ${fmt(s.stdMm)}  ${String(s.images).padStart(6)}\n`;
    process.stdout.write(`${'subset'.padEnd(22)} median  mean    std     images\n`);
    process.stdout.write(row('all', result.overall));
    for (const [name, s] of Object.entries(result.subsets)) process.stdout.write(row(name, s));
    process.stdout.write(`${scored} scored, ${missing} predictions missing\n`);
  }
  return EXIT_CODES.ok;
}

/** `--report DIR`: contact sheet PNG, Markdown and JSON reports (atomic writes). */
async function writeSyntheticReport(
  dir: string,
  result: import('../eval/synthetic-benchmark.ts').SyntheticBenchmarkResult,
  model: import('../morphable/morphable-model.ts').MorphableModel,
  commandLine: string,
): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  const { OutputNotWritableError } = await import('../common/errors.ts');
  const { writeFileAtomic } = await import('../io/node/atomic-write.ts');
  const { writePngAtomic } = await import('../io/node/encode-image.ts');
  const { benchmarkReportJson, formatBenchmarkMarkdown, renderBenchmarkHistogram, renderContactSheet } = await import('../eval/benchmark-report.ts');
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new OutputNotWritableError(`cannot create report folder ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  await writePngAtomic(join(dir, 'contact-sheet.png'), renderContactSheet(result, model));
  await writePngAtomic(join(dir, 'error-histogram.png'), renderBenchmarkHistogram(result));
  await writeFileAtomic(join(dir, 'report.md'), formatBenchmarkMarkdown(result, commandLine));
  await writeFileAtomic(join(dir, 'report.json'), JSON.stringify(benchmarkReportJson(result, commandLine), null, 1) + '\n');
}
