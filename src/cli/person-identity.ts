import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { estimatePersonIdentity } from '../api/reconstruct-person.ts';
import { formatJson } from '../api/result-json.ts';
import { meshToObj } from '../io/mesh-export.ts';
import { makeDirectories, notWritable, writeFileAtomic } from '../io/node/atomic-write.ts';
import { decodeImageFileScaled } from '../io/node/decode-image.ts';
import { evaluateMorphableModel, type MorphableModel } from '../morphable/morphable-model.ts';
import { createProcessContext, knownFocalOf, modelMesh, type BatchSettings, type InputJob } from './process-input.ts';
import { VERSION } from './version.ts';

const PERSON_FORMAT = 'facegar-person';
/** person.json is small (100 numbers and the input list); anything far bigger is not ours. */
const MAX_PERSON_FILE_BYTES = 16 * 1024 * 1024;

interface PersonFile {
  format: typeof PERSON_FORMAT;
  version: string;
  inputs: string[];
  photosUsed: number;
  skipped: { input: string; reason: string }[];
  identity: number[];
}

/**
 * `facegar reconstruct --same-person`: estimate the one identity of all `inputs` (their largest
 * faces; api/reconstruct-person.ts) on this thread, write <out>/person.json and person.obj (the
 * identity at a neutral expression), and return the identity for the batch to hold. With
 * `resume`, a person.json made from the same inputs is read back instead.
 */
export async function preparePersonIdentity(
  inputs: Pick<InputJob, 'path' | 'stem'>[],
  settings: BatchSettings,
  model: MorphableModel,
  options: { resume: boolean; log: (line: string) => void },
): Promise<number[]> {
  const personPath = join(settings.outDir, 'person.json');
  const paths = inputs.map((job) => job.path);
  if (options.resume) {
    const previous = await readPersonFile(personPath, paths, model.identityCount);
    if (previous) {
      options.log(`person.json: the identity from ${previous.photosUsed} of ${paths.length} photos (resumed)`);
      return previous.identity;
    }
  }
  const context = await createProcessContext(settings);
  let person;
  try {
    person = await estimatePersonIdentity(
      context.reconstructor,
      async (index) => {
        const decoded = await decodeImageFileScaled(inputs[index].path, { maxSide: settings.maxDecodeSidePx });
        return { image: decoded.image, knownFocalPx: knownFocalOf(settings, decoded) };
      },
      inputs.length,
      { maxFaces: 1, fit: settings.fit, renderer: settings.renderer ?? 'graphics', garPreset: settings.gar?.preset },
      (index, count, outcome) => {
        options.log(`person: photo ${index + 1}/${count} ${inputs[index].stem}: ${'identity' in outcome ? 'fitted' : `skipped (${outcome.error.message})`}`);
      },
    );
  } finally {
    context.reconstructor.dispose();
  }
  const file: PersonFile = {
    format: PERSON_FORMAT,
    version: VERSION,
    inputs: paths,
    photosUsed: person.photosUsed,
    skipped: person.perPhoto.flatMap((p, i) => ('error' in p ? [{ input: paths[i], reason: p.error.message }] : [])),
    identity: Array.from(person.identity, (v) => Number(v.toFixed(6))),
  };
  await makeDirectories(settings.outDir).catch((error) => {
    throw notWritable(settings.outDir, error);
  });
  const vertices = evaluateMorphableModel(model, file.identity, new Float32Array(model.expressionNames.length));
  const mesh = modelMesh(model, vertices);
  await writeFileAtomic(
    join(settings.outDir, 'person.obj'),
    meshToObj(mesh, { comment: `facegar ${VERSION}: one identity from ${person.photosUsed} photos, neutral expression, model space, millimetres` }),
  );
  // Written last: its presence means the person's shape is complete (as <stem>.json for a photo).
  await writeFileAtomic(personPath, formatJson(file));
  options.log(`person.json: one identity from ${person.photosUsed} of ${paths.length} photos; now each photo with it held`);
  return file.identity;
}

/** A previous person.json for exactly these inputs, or undefined (missing, another batch's, or damaged). */
async function readPersonFile(path: string, inputs: string[], identityCount: number): Promise<PersonFile | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    return undefined;
  }
  if (bytes.length > MAX_PERSON_FILE_BYTES) return undefined;
  try {
    const file = JSON.parse(bytes.toString('utf8')) as PersonFile;
    const sameInputs = Array.isArray(file.inputs) && file.inputs.length === inputs.length && file.inputs.every((p, i) => p === inputs[i]);
    const identityOk =
      Array.isArray(file.identity) &&
      file.identity.length === identityCount &&
      file.identity.every((v) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 100);
    return file.format === PERSON_FORMAT && sameInputs && identityOk ? file : undefined;
  } catch {
    return undefined;
  }
}
