/** `facegar eval micc`: the MICC Florence protocol over a local copy of the data and a predictions folder. */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT_CODES, InputMissingError, UsageError } from '../common/errors.ts';
import { parseCommandArgs } from './command-options.ts';
import { parseObjMesh, parsePickedPoints, type PlainMesh } from '../eval/benchmark-files.ts';
import { evaluateMiccScan, MICC_SETTINGS, summarizeMiccRmse, type MiccSummary } from '../eval/micc-protocol.ts';
import { parseVrmlMesh } from '../eval/vrml-mesh.ts';
import { findFirstWithExtension, formatMm, readOptional, readPredictedLandmarks, readText } from './eval-files.ts';

export const MICC_HELP = `facegar eval micc --data MICC_DIR --predictions PRED_DIR [--json] [--with-scale] [--crop-radius MM]
  MICC_DIR as published (Florence 2D/3D faces): subject_01 … subject_53, each with its frontal
  scan in Model/frontal1/obj/*.obj (or Model/frontal1/vrml/*.wrl, VRML IndexedFaceSet; frontal2
  when frontal1 is absent), in mm, face looking along +z. A MeshLab picked-points file (*.pp, the
  7 NoW points: right eye outer, inner, left eye inner, outer, nose bottom, mouth right, left
  corner) beside the scan is optional.
  PRED_DIR/<subject>/<video>.obj: one mesh (mm) per subject and video, <video> one of
  Indoor-Cooperative, PTZ-Indoor, PTZ-Outdoor (the dataset's video names; e.g. the mean of the
  per-frame meshes, as facegar reconstruct --layout micc writes). Optional <video>.txt / .npy:
  the same 7 points on the prediction.
  Each scan is cropped to a 95 mm sphere around its nose tip (the highest-z point that is not an
  isolated spike); the prediction is placed by the 7 landmarks when both files exist, else by
  matching centroids, then refined by rigid ICP (--with-scale: similarity); the score is the
  RMSE (mm) of the distances from the cropped scan points to the prediction. Reported per
  setting (cooperative, indoor, outdoor) and overall as mean ± std over subjects.
  Predictions missing from PRED_DIR are counted and reported, not scored.
`;

export async function miccCommand(args: string[], help: string): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      data: { type: 'string' },
      predictions: { type: 'string' },
      json: { type: 'boolean', default: false },
      'with-scale': { type: 'boolean', default: false },
      'crop-radius': { type: 'string', default: '95' },
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
  if (!values.data || !values.predictions) throw new UsageError('facegar eval micc needs --data MICC_DIR and --predictions PRED_DIR (try --help)');
  const cropRadiusMm = Number(values['crop-radius']);
  if (!(cropRadiusMm > 0)) throw new UsageError(`Expected a positive number of mm for --crop-radius but received ${values['crop-radius']}`);
  const dataDir = resolve(values.data),
    predictionsDir = resolve(values.predictions);
  let subjects: string[];
  try {
    subjects = (await readdir(dataDir)).filter((name) => /^subject_\d+$/.test(name)).sort();
  } catch {
    throw new InputMissingError(`MICC folder not found: ${dataDir}`);
  }
  if (subjects.length === 0) throw new InputMissingError(`no subject_NN folders in ${dataDir}`);

  const perSetting = new Map<string, number[]>(MICC_SETTINGS.map((s) => [s.name, []]));
  const perSubject: { subject: string; setting: string; rmseMm: number; points: number; initialisation: string }[] = [];
  let missing = 0;
  for (const subject of subjects) {
    let scan: { mesh: PlainMesh; landmarks?: Float64Array } | undefined;
    for (const setting of MICC_SETTINGS) {
      const base = join(predictionsDir, subject, setting.video);
      const meshText = await readOptional(`${base}.obj`);
      if (meshText === undefined) {
        missing++;
        if (!values.quiet) process.stderr.write(`${subject} ${setting.video}: prediction missing\n`);
        continue;
      }
      scan ??= await readMiccScan(join(dataDir, subject));
      const predictedLandmarks = await readPredictedLandmarks(base);
      const landmarks =
        scan.landmarks && predictedLandmarks && scan.landmarks.length === predictedLandmarks.length && predictedLandmarks.length >= 9
          ? { scan: scan.landmarks, predicted: predictedLandmarks }
          : undefined;
      const result = evaluateMiccScan(scan.mesh.vertices, parseObjMesh(meshText), landmarks, { cropRadiusMm, withScale: values['with-scale'] });
      perSetting.get(setting.name)!.push(result.rmseMm);
      perSubject.push({ subject, setting: setting.name, rmseMm: result.rmseMm, points: result.distances.length, initialisation: result.initialisation });
      if (!values.quiet)
        process.stderr.write(
          `${subject} ${setting.video}: RMSE ${result.rmseMm.toFixed(3)} mm over ${result.distances.length} scan points (${result.initialisation} start)\n`,
        );
    }
  }
  const settings: Record<string, MiccSummary> = Object.fromEntries([...perSetting].map(([name, list]) => [name, summarizeMiccRmse(list)]));
  const result = { overall: summarizeMiccRmse([...perSetting.values()].flat()), settings, perSubject, scored: perSubject.length, missing };
  if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    process.stdout.write(`${'setting'.padEnd(12)} RMSE mm  std mm  subjects\n`);
    const row = (name: string, s: MiccSummary) => `${name.padEnd(12)} ${formatMm(s.rmseMm)}   ${formatMm(s.stdMm)}  ${String(s.subjects).padStart(8)}\n`;
    for (const [name, s] of Object.entries(settings)) process.stdout.write(row(name, s));
    process.stdout.write(row('all', result.overall));
    process.stdout.write(`${result.scored} scored, ${missing} predictions missing\n`);
  }
  return EXIT_CODES.ok;
}

/** The subject's frontal scan (frontal1, else frontal2; OBJ, else VRML) and its optional picked points. */
async function readMiccScan(subjectDir: string): Promise<{ mesh: PlainMesh; landmarks?: Float64Array }> {
  for (const view of ['frontal1', 'frontal2']) {
    for (const folder of ['obj', 'vrml', '']) {
      const dir = join(subjectDir, 'Model', view, folder);
      const file = await findFirstWithExtension(dir, ['.obj', '.wrl']);
      if (!file) continue;
      const text = await readText(file, 'MICC scan');
      let mesh: PlainMesh;
      try {
        mesh = file.toLowerCase().endsWith('.wrl') ? parseVrmlMesh(text) : parseObjMesh(text);
      } catch (error) {
        throw new UsageError(`${file}: ${(error as Error).message}`);
      }
      if (mesh.vertices.length === 0) throw new UsageError(`${file}: the scan has no vertices`);
      const ppFile = await findFirstWithExtension(dir, ['.pp']);
      const landmarks = ppFile ? parsePickedPoints(await readText(ppFile, 'MICC picked points')) : undefined;
      return { mesh, landmarks };
    }
  }
  throw new InputMissingError(`no frontal scan (.obj or .wrl) under ${join(subjectDir, 'Model')}`);
}
