/**
 * A synthetic test set on disk (layout: src/eval/benchmark-set.ts): read one face at a time as
 * benchmark faces, or write studio renders in the same layout. Errors: a missing folder or file
 * InputMissingError (exit 3), an undecodable photo NotAnImageError (4), a malformed truth
 * file or a photo whose size disagrees with it UsageError (2), all one line naming the file.
 */
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InputMissingError, OutputNotWritableError, UsageError } from '../../common/errors.ts';
import type { MorphableModel } from '../../morphable/morphable-model.ts';
import { parseSetFace, parseSetManifest, setFaceJson, setFaceVertexFile, vertexBytes, SET_FORMAT } from '../../eval/benchmark-set.ts';
import type { BenchmarkFace, BenchmarkFaceSource } from '../../eval/synthetic-benchmark.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { decodeImageBytes } from './decode-image.ts';
import { writePngAtomic } from './encode-image.ts';

async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch {
    throw new InputMissingError(`${what} not found: ${path}`);
  }
}

function parseJson(bytes: Uint8Array, path: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new UsageError(`${path}: not valid JSON`);
  }
}

/** The face stems of a set folder: set.json's list, or every NNNN.json when there is no set.json. */
export async function listSetFaces(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new InputMissingError(`test set folder not found: ${dir}`);
  }
  if (names.includes('set.json'))
    return parseSetManifest(parseJson(await readBytes(join(dir, 'set.json'), 'set manifest'), join(dir, 'set.json')), join(dir, 'set.json'));
  const stems = names
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -5))
    .sort();
  if (stems.length === 0) throw new InputMissingError(`no set.json and no face .json files in ${dir}`);
  return stems;
}

/** Read one face (photo, truth, vertices) of a set, checked against the model. */
export async function readSetFace(dir: string, stem: string, model: MorphableModel, position: number): Promise<BenchmarkFace> {
  const jsonPath = join(dir, `${stem}.json`);
  const json = parseJson(await readBytes(jsonPath, 'face truth'), jsonPath);
  const vertexPath = join(dir, setFaceVertexFile(json, stem));
  const parsed = parseSetFace(json, await readBytes(vertexPath, 'face vertices'), model, jsonPath);
  const imagePath = join(dir, parsed.imageFile);
  const image = await decodeImageBytes(await readBytes(imagePath, 'face photo'), imagePath);
  if (image.width !== parsed.width || image.height !== parsed.height)
    throw new UsageError(`${imagePath}: ${image.width}×${image.height} pixels, but ${stem}.json says ${parsed.width}×${parsed.height}`);
  const index = parsed.generator.index;
  return { image, truth: parsed.truth, sceneSeed: typeof index === 'number' ? index : position, record: { face: stem, generator: parsed.generator } };
}

/** A set folder as a benchmark source (faces read when asked, at most `maxCount`). */
export async function syntheticSetSource(dir: string, model: MorphableModel, maxCount = Infinity): Promise<BenchmarkFaceSource & { stems: string[] }> {
  const stems = (await listSetFaces(dir)).slice(0, maxCount);
  return { stems, count: stems.length, face: (index) => readSetFace(dir, stems[index], model, index) };
}

/** Write benchmark faces as a set (NNNN.png, NNNN.json, NNNN.f32, set.json); atomic per file. */
export async function writeSyntheticSet(
  dir: string,
  faces: Iterable<BenchmarkFace>,
  model: MorphableModel,
  generator: Record<string, unknown>,
): Promise<string[]> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new OutputNotWritableError(`cannot create set folder ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const stems: string[] = [];
  let position = 0;
  for (const face of faces) {
    const stem = String(position).padStart(4, '0');
    await writePngAtomic(join(dir, `${stem}.png`), face.image);
    await writeFileAtomic(join(dir, `${stem}.f32`), vertexBytes(face.truth.verticesModel.subarray(0, model.vertexCount * 3)));
    const json = setFaceJson(stem, face.truth, model, face.image.width, face.image.height, {
      ...generator,
      index: face.sceneSeed,
      position,
      scene: face.record,
    });
    await writeFileAtomic(join(dir, `${stem}.json`), JSON.stringify(json) + '\n');
    stems.push(stem);
    position++;
  }
  await writeFileAtomic(join(dir, 'set.json'), JSON.stringify({ format: SET_FORMAT, version: 1, generator, faces: stems }, null, 1) + '\n');
  return stems;
}
