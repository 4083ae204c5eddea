/** `facegar eval aflw2000`: 68-point landmark NME on a local copy of AFLW2000-3D (or a synthetic folder in its layout). */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT_CODES, FacegarError, InputMissingError, UsageError } from '../common/errors.ts';
import { integerOption, landmarkGateOption, landmarkMapOption, numberObjectOption, parseCommandArgs } from './command-options.ts';
import { readBenchmarkFile } from './eval-files.ts';
import { validateGarRefineConfig, type GarRefinePresetName } from '../fit/gar-refine-config.ts';

/** Largest annotation file read (bytes): AFLW2000-3D's are about 2 KB. */
const MAX_MAT_FILE_BYTES = 16 * 1024 * 1024;

export const AFLW2000_HELP = `facegar eval aflw2000 --data AFLW_DIR [--limit N] [--json] [--detect-only]
facegar eval aflw2000 --write-synthetic DIR [--n 90] [--seed 1] [--size 450] [--from-set SET_DIR]
  AFLW_DIR as published (AFLW2000-3D): image00002.jpg … with image00002.mat beside each
  (MATLAB 5 files; pt3d_68 is 3×68 with x, y in 1-based image pixels, Pose_Para = [pitch, yaw,
  roll, …] in radians). Each image is reconstructed through the normal library path (detection
  included; the largest face is scored; a miss counts as a failure), with the renderer and
  networks \`facegar reconstruct\` would use (the same --renderer, --gar, --encoder,
  --shape-encoder, --identity-regressor, --landmark-regressor, --landmark-map, --preset options;
  on the GAR path --landmark-gate JSON sets the turned-face gate's cropRefinements and reliability
  thresholds, e.g. '{"cropRefinements": 1}', and --gar-refine JSON overrides the preset's
  refinement config as in eval synthetic, e.g. '{"replacedLandmarkPixelFactor": 10}'). Reports
  the 68-point NME (mean 2D distance of the fit's 3D landmarks, the model's 68 landmark vertices
  projected through its camera, occluded ones included, to pt3d_68 x, y over sqrt(w·h) of the
  ground-truth landmarks' box, in %) per |yaw| bucket 0–30°, 30–60°, 60–90°, their mean,
  beside the NME of the fit's reported landmarks2d (2D %: the vertices calibrated to the
  detector) and of the detector's own points (det %), how many faces were reconstructed per
  bucket, and how often each landmark source was used. --limit
  takes the first N images in name order. --detect-only runs the detector alone: recall per
  bucket and the NME of the detector's 68 points. --strict-detector turns off the detector's
  second search, its search in the padded photo and its fallback for faces FaceMesh rejects
  (what facegar did before it kept profiles). Also takes --model, --backend, --landmark-steps,
  --photometric-steps (graphics path), --quiet.
  --write-synthetic DIR writes such a folder from studio renders with exact geometry: --n images
  of --size² px whose |yaw| is spread evenly over 0–90° (every prefix too), scene seeds
  hash("aflw-synthetic", --seed, index), plus synthetic-set.json (each image's yaw and scene).
  With --from-set SET_DIR it converts a rendered set with exact truth instead (the layout eval
  synthetic --set reads and scripts/render-cycles-set.py writes).
`;

export async function aflw2000Command(args: string[], help: string): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      data: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      'detect-only': { type: 'boolean', default: false },
      'strict-detector': { type: 'boolean', default: false },
      'write-synthetic': { type: 'string' },
      n: { type: 'string' },
      seed: { type: 'string' },
      size: { type: 'string' },
      'from-set': { type: 'string' },
      renderer: { type: 'string' },
      gar: { type: 'string' },
      encoder: { type: 'string' },
      'shape-encoder': { type: 'string' },
      'identity-regressor': { type: 'string' },
      preset: { type: 'string' },
      model: { type: 'string', short: 'm' },
      backend: { type: 'string' },
      'landmark-steps': { type: 'string' },
      'photometric-steps': { type: 'string' },
      'landmark-regressor': { type: 'string' },
      'landmark-map': { type: 'string' },
      'landmark-gate': { type: 'string' },
      'gar-refine': { type: 'string' },
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
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`${line}\n`);
  };
  if (values['write-synthetic'] !== undefined) {
    if (values.data !== undefined) throw new UsageError('--write-synthetic makes a folder and --data scores one: use one at a time');
    const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
    const { writeSyntheticAflwFolder, convertRenderedSetToAflw } = await import('./aflw-synthetic-folder.ts');
    const { model } = await loadMorphableModel({ modelDir: values.model });
    const dir = resolve(values['write-synthetic']);
    const report = (index: number, name: string, yawDeg: number) => log(`${index + 1} ${name} yaw ${yawDeg.toFixed(1)}°`);
    if (values['from-set'] !== undefined) {
      if (values.n !== undefined || values.seed !== undefined || values.size !== undefined)
        throw new UsageError('--from-set converts a rendered set: --n, --seed and --size belong to the studio renders');
      await convertRenderedSetToAflw(model, resolve(values['from-set']), dir, report);
    } else {
      const count = integerOption(values.n ?? '90', 'n', 1);
      const seed = integerOption(values.seed ?? '1', 'seed', 0);
      const sizePx = integerOption(values.size ?? '450', 'size', 64, 4096);
      await writeSyntheticAflwFolder(model, dir, { count, seed, sizePx }, report);
    }
    return EXIT_CODES.ok;
  }
  for (const name of ['n', 'seed', 'size', 'from-set'] as const) if (values[name] !== undefined) throw new UsageError(`--${name} belongs to --write-synthetic`);
  if (!values.data) throw new UsageError('facegar eval aflw2000 needs --data AFLW_DIR or --write-synthetic DIR (try --help)');
  const limit = values.limit === undefined ? Infinity : integerOption(values.limit, 'limit', 1);
  const backend = values.backend ?? process.env.FACEGAR_BACKEND;
  if (backend !== undefined && !['wasm', 'cpu', 'tensorflow'].includes(backend))
    throw new UsageError(`Expected one of wasm, cpu, tensorflow for --backend but received ${backend}`);
  const fit: Record<string, number> = {};
  if (values['landmark-steps'] !== undefined) fit.landmarkSteps = integerOption(values['landmark-steps'], 'landmark-steps', 0);
  if (values['photometric-steps'] !== undefined) fit.photometricSteps = integerOption(values['photometric-steps'], 'photometric-steps', 0);
  const presets = ['instant', 'fast', 'default', 'quality', 'shading'];
  if (values.preset !== undefined && !presets.includes(values.preset))
    throw new UsageError(`Expected one of ${presets.join(', ')} for --preset but received ${values.preset}`);

  const landmarkGate = landmarkGateOption(values['landmark-gate']);
  const garRefine = numberObjectOption(values['gar-refine'], 'gar-refine');
  if (garRefine) validateGarRefineConfig(garRefine, values.preset);

  const dataDir = resolve(values.data);
  let names: string[];
  try {
    names = (await readdir(dataDir)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
  } catch {
    throw new InputMissingError(`AFLW2000-3D folder not found: ${dataDir}`);
  }
  const entries: { image: string; mat: string }[] = [];
  const all = new Set(await readdir(dataDir));
  for (const name of names) {
    const mat = name.replace(/\.[^.]+$/, '.mat');
    if (all.has(mat)) entries.push({ image: name, mat });
  }
  if (entries.length === 0) throw new InputMissingError(`no image with a .mat beside it in ${dataDir}`);
  const selected = entries.slice(0, Math.min(entries.length, limit));

  const { parseMatFile } = await import('../io/mat-file.ts');
  const { decodeImageFile } = await import('../io/node/decode-image.ts');
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  const { loadDetectorModelFiles } = await import('../io/node/detector-models.ts');
  const { Reconstructor } = await import('../api/reconstruct.ts');
  const { createFaceDetector } = await import('../detect/index.ts');
  const { initBackend } = await import('../engine/backend.ts');
  const { aflwGroundTruth, evaluateAflwDetection, evaluateAflwImage, formatAflwTable, summarizeAflw } = await import('../eval/aflw2000-protocol.ts');
  const [{ model }, detectorFiles] = await Promise.all([
    loadMorphableModel({ modelDir: values.model }),
    loadDetectorModelFiles({ landmarkMap: landmarkMapOption(values['landmark-map']) }),
  ]);
  const readTruth = async (entry: { mat: string }) => {
    const matPath = join(dataDir, entry.mat);
    try {
      return aflwGroundTruth(await parseMatFile(new Uint8Array(await readBenchmarkFile(matPath, 'AFLW2000-3D annotation', MAX_MAT_FILE_BYTES))));
    } catch (error) {
      if (error instanceof FacegarError) throw error;
      throw new UsageError(`${matPath}: ${(error as Error).message}`);
    }
  };
  const detectorConfig = values['strict-detector'] ? { fallbackMinDetectionScore: 1, retryMinDetectionScore: 1, paddedSearchFraction: 0 } : {};
  const samples = [];
  if (values['detect-only']) {
    for (const name of [
      'renderer',
      'gar',
      'encoder',
      'shape-encoder',
      'identity-regressor',
      'landmark-regressor',
      'preset',
      'landmark-steps',
      'photometric-steps',
      'landmark-gate',
      'gar-refine',
    ] as const)
      if (values[name] !== undefined) throw new UsageError(`--${name} has no effect with --detect-only`);
    await initBackend({ backend: backend as 'wasm' | 'cpu' | 'tensorflow' | undefined });
    const detector = await createFaceDetector(detectorFiles, detectorConfig);
    try {
      for (const [index, entry] of selected.entries()) {
        const truth = await readTruth(entry);
        const sample = await evaluateAflwDetection(detector, entry.image, await decodeImageFile(join(dataDir, entry.image)), truth);
        samples.push(sample);
        log(
          `${index + 1}/${selected.length} ${entry.image} yaw ${truth.yawDeg.toFixed(0)}°: ${sample.ok ? `found, detector NME ${(100 * sample.nme!).toFixed(2)} %` : 'missed'}, ${sample.ms.toFixed(0)} ms`,
        );
      }
    } finally {
      detector.dispose();
    }
  } else {
    const { chooseRenderer, readChosenLandmarkRegressor, readGarModelFiles, readIdentityRegressorFiles } = await import('../io/node/gar-models.ts');
    const graphicsOption = Object.keys(fit).length > 0;
    const choice = await chooseRenderer({
      renderer: values.renderer,
      gar: values.gar,
      encoder: values.encoder,
      shapeEncoder: values['shape-encoder'],
      identityRegressor: values['identity-regressor'],
      ...(graphicsOption ? { defaultRenderer: 'graphics' as const } : {}),
    });
    if (choice.renderer === 'graphics' && values.preset !== undefined) throw new UsageError('--preset belongs to the GAR path (try --renderer gar)');
    if (choice.renderer === 'graphics' && landmarkGate) throw new UsageError('--landmark-gate belongs to the GAR path (try --renderer gar)');
    if (choice.renderer === 'graphics' && garRefine) throw new UsageError('--gar-refine belongs to the GAR path (try --renderer gar)');
    if (choice.renderer === 'gar' && graphicsOption)
      throw new UsageError('--landmark-steps and --photometric-steps belong to the graphics path (try --renderer graphics)');
    const gar = choice.renderer === 'gar' ? await readGarModelFiles(choice as typeof choice & { garDir: string }) : undefined;
    const landmarkRegressor = await readChosenLandmarkRegressor(values['landmark-regressor']);
    const identityRegressor = choice.identityRegressorDir ? await readIdentityRegressorFiles(choice.identityRegressorDir) : undefined;
    const reconstructor = await Reconstructor.create(
      { model, detector: detectorFiles, gar, ...(landmarkRegressor ? { landmarkRegressor } : {}), ...(identityRegressor ? { identityRegressor } : {}) },
      { backend: backend as 'wasm' | 'cpu' | 'tensorflow' | undefined, detector: detectorConfig },
    );
    log(`renderer: ${choice.reason}${gar ? `, preset ${values.preset ?? 'default'}` : ''}`);
    const options = {
      renderer: choice.renderer,
      fit,
      garPreset: values.preset as GarRefinePresetName | undefined,
      ...(garRefine ? { garRefine } : {}),
      ...(landmarkGate ? { landmarkGate } : {}),
    };
    try {
      for (const [index, entry] of selected.entries()) {
        const truth = await readTruth(entry);
        const sample = await evaluateAflwImage(reconstructor, entry.image, await decodeImageFile(join(dataDir, entry.image)), truth, options);
        samples.push(sample);
        const outcome = sample.ok
          ? `NME ${(100 * sample.nme!).toFixed(2)} %${sample.landmarkSource ? ` (${sample.landmarkSource})` : ''}`
          : `failed (${sample.failure})`;
        log(`${index + 1}/${selected.length} ${entry.image} yaw ${truth.yawDeg.toFixed(0)}°: ${outcome}, ${sample.ms.toFixed(0)} ms`);
      }
    } finally {
      reconstructor.dispose();
    }
  }
  const summary = summarizeAflw(samples);
  if (values.json) process.stdout.write(JSON.stringify({ ...summary, samples }) + '\n');
  else process.stdout.write(formatAflwTable(summary, values['detect-only'] ? 'detector' : 'fit'));
  return EXIT_CODES.ok;
}
