/** `facegar eval aflw2000`: 68-point landmark NME on a local copy of AFLW2000-3D. */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT_CODES, FacegarError, InputMissingError, UsageError } from '../common/errors.ts';
import { integerOption, parseCommandArgs } from './command-options.ts';
import { readBenchmarkFile } from './eval-files.ts';

/** Largest annotation file read (bytes): AFLW2000-3D's are about 2 KB. */
const MAX_MAT_FILE_BYTES = 16 * 1024 * 1024;

export const AFLW2000_HELP = `facegar eval aflw2000 --data AFLW_DIR [--limit N] [--json]
  AFLW_DIR as published (AFLW2000-3D): image00002.jpg … with image00002.mat beside each
  (MATLAB 5 files; pt3d_68 is 3×68 with x, y in image pixels, Pose_Para = [pitch, yaw, roll, …]
  in radians). Each image is reconstructed through the normal library path (detection included;
  the largest face is scored; a miss counts as a failure). Reports the 68-point NME (mean 2D
  distance of the model's projected landmarks to pt3d_68 x, y over sqrt(w·h) of the
  ground-truth landmarks' box, in %) per |yaw| bucket 0–30°, 30–60°, 60–90°, their mean, and
  the success rate. --limit takes the first N images in name order. Also takes --model,
  --backend, --landmark-steps, --photometric-steps, --landmark-regressor, --quiet as eval synthetic does.
`;

export async function aflw2000Command(args: string[], help: string): Promise<number> {
  const { values } = parseCommandArgs(args, {
    data: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean', default: false },
    model: { type: 'string', short: 'm' }, backend: { type: 'string' },
    'landmark-steps': { type: 'string' }, 'photometric-steps': { type: 'string' }, 'landmark-regressor': { type: 'string' },
    quiet: { type: 'boolean', short: 'q', default: false }, help: { type: 'boolean', short: 'h', default: false }, verbose: { type: 'boolean', short: 'v', default: false },
  }, { allowPositionals: false });
  if (values.help) { process.stdout.write(help); return EXIT_CODES.ok; }
  if (!values.data) throw new UsageError('facegar eval aflw2000 needs --data AFLW_DIR (try --help)');
  const limit = values.limit === undefined ? Infinity : integerOption(values.limit, 'limit', 1);
  const backend = values.backend ?? process.env.FACEGAR_BACKEND;
  if (backend !== undefined && !['wasm', 'cpu', 'tensorflow'].includes(backend)) throw new UsageError(`Expected one of wasm, cpu, tensorflow for --backend but received ${backend}`);
  const fit: Record<string, number> = {};
  if (values['landmark-steps'] !== undefined) fit.landmarkSteps = integerOption(values['landmark-steps'], 'landmark-steps', 0);
  if (values['photometric-steps'] !== undefined) fit.photometricSteps = integerOption(values['photometric-steps'], 'photometric-steps', 0);

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
  const { aflwGroundTruth, evaluateAflwImage, formatAflwTable, summarizeAflw } = await import('../eval/aflw2000-protocol.ts');
  const { readChosenLandmarkRegressor } = await import('../io/node/gar-models.ts');
  const [{ model }, detector, landmarkRegressor] = await Promise.all([loadMorphableModel({ modelDir: values.model }), loadDetectorModelFiles(), readChosenLandmarkRegressor(values['landmark-regressor'])]);
  const reconstructor = await Reconstructor.create({ model, detector, ...(landmarkRegressor ? { landmarkRegressor } : {}) }, { backend: backend as 'wasm' | 'cpu' | 'tensorflow' | undefined });
  const samples = [];
  try {
    for (const [index, entry] of selected.entries()) {
      const matPath = join(dataDir, entry.mat);
      let truth;
      try {
        truth = aflwGroundTruth(await parseMatFile(new Uint8Array(await readBenchmarkFile(matPath, 'AFLW2000-3D annotation', MAX_MAT_FILE_BYTES))));
      } catch (error) {
        if (error instanceof FacegarError) throw error;
        throw new UsageError(`${matPath}: ${(error as Error).message}`);
      }
      const image = await decodeImageFile(join(dataDir, entry.image));
      const sample = await evaluateAflwImage(reconstructor, entry.image, image, truth, fit);
      samples.push(sample);
      if (!values.quiet) {
        const outcome = sample.ok ? `NME ${(100 * sample.nme!).toFixed(2)} %` : `failed (${sample.failure})`;
        process.stderr.write(`${index + 1}/${selected.length} ${entry.image} yaw ${truth.yawDeg.toFixed(0)}°: ${outcome}, ${sample.ms.toFixed(0)} ms\n`);
      }
    }
  } finally {
    reconstructor.dispose();
  }
  const summary = summarizeAflw(samples);
  if (values.json) process.stdout.write(JSON.stringify({ ...summary, samples }) + '\n');
  else process.stdout.write(formatAflwTable(summary));
  return EXIT_CODES.ok;
}
