import { ModelUnavailableError } from '../common/errors.ts';
import type { MorphableModel } from './morphable-model.ts';
import { parseObjPositions, parseObjTopology } from './obj-text.ts';
import { MODEL_LIMITS, validateMorphableModel } from './validate-model.ts';

/** A file name in the model's own folder: no separators, no "..", nothing hidden. */
const PLAIN_FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;

/** The ICT-FaceKit light model's published layout (README of its repository). */
export const ICT_FACEKIT = {
  vertexCount: 26719,
  fullFaceVertexCount: 9409,
  fullFacePolygonCount: 9230,
  narrowFaceVertexCount: 6706,
  identityCount: 100,
  /** The model's files are in centimetres; facegar works in millimetres. */
  millimetresPerUnit: 10,
} as const;

/** Reads one file of the model directory as text; resolves undefined when the file is absent. */
export type ModelTextReader = (fileName: string) => Promise<string | undefined>;

export function identityFileName(mode: number): string {
  return `identity${String(mode).padStart(3, '0')}`;
}

/**
 * Load the ICT-FaceKit light model's full face area (vertices 0–9408) from its OBJ files:
 * `generic_neutral_mesh`, `identity000`…`identity099`, one file per expression named in
 * `vertex_indices.json`, whose `idx_to_landmark_verts` gives the 68 landmarks. Shape modes are
 * stored as differences to the neutral mesh. `readText(name)` gets a base name without
 * extension for OBJ files (the reader decides between .obj and .obj.gz).
 */
export async function loadIctFaceKit(readText: ModelTextReader, options: { onProgress?: (done: number, total: number) => void } = {}): Promise<MorphableModel> {
  const indicesText = await requireFile(readText, 'vertex_indices.json');
  let indices: { expressions?: unknown; idx_to_landmark_verts?: unknown };
  try {
    indices = JSON.parse(indicesText);
  } catch {
    throw new ModelUnavailableError('vertex_indices.json: not valid JSON (corrupt model file)');
  }
  const expressionNames = indices.expressions;
  const landmarks = indices.idx_to_landmark_verts;
  if (!Array.isArray(expressionNames) || !expressionNames.every((n) => typeof n === 'string') || !Array.isArray(landmarks) || landmarks.length !== 68) {
    throw new ModelUnavailableError('vertex_indices.json: missing "expressions" or the 68 "idx_to_landmark_verts"');
  }
  // Each expression name becomes a file name: it must name a file in this folder and nothing else.
  const badName = (expressionNames as string[]).find((name) => !PLAIN_FILE_NAME.test(name));
  if (badName !== undefined)
    throw new ModelUnavailableError(
      `vertex_indices.json: expression name ${JSON.stringify(badName.slice(0, 80))} is not a plain file name (letters, digits, _ - .)`,
    );
  if (expressionNames.length > MODEL_LIMITS.maxExpressions)
    throw new ModelUnavailableError(`vertex_indices.json: ${expressionNames.length} expressions, expected at most ${MODEL_LIMITS.maxExpressions}`);
  const badLandmark = (landmarks as unknown[]).findIndex((v) => !Number.isInteger(v) || (v as number) < 0 || (v as number) >= ICT_FACEKIT.fullFaceVertexCount);
  if (badLandmark >= 0)
    throw new ModelUnavailableError(
      `vertex_indices.json: landmark ${badLandmark} is vertex ${JSON.stringify(landmarks[badLandmark])}, outside the ${ICT_FACEKIT.fullFaceVertexCount} face-area vertices`,
    );

  const { fullFaceVertexCount: V, identityCount, millimetresPerUnit } = ICT_FACEKIT;
  const total = 1 + identityCount + expressionNames.length;
  let done = 0;
  const tick = () => options.onProgress?.(++done, total);

  const neutralText = await requireFile(readText, 'generic_neutral_mesh', '.obj');
  const neutral = checkedPositions(neutralText, 'generic_neutral_mesh.obj', V);
  let topology: ReturnType<typeof parseObjTopology>;
  try {
    topology = parseObjTopology(neutralText);
  } catch (error) {
    throw new ModelUnavailableError(`generic_neutral_mesh.obj: ${(error as Error).message}`);
  }
  const polygonCount = topology.polygonFirstTriangle.length - 1;
  if (polygonCount < ICT_FACEKIT.fullFacePolygonCount) {
    throw new ModelUnavailableError(
      `generic_neutral_mesh.obj: ${polygonCount} faces, expected at least the ${ICT_FACEKIT.fullFacePolygonCount} of the face area (truncated or not an ICT-FaceKit file)`,
    );
  }
  const faceTriangleCount = topology.polygonFirstTriangle[ICT_FACEKIT.fullFacePolygonCount];
  const triangles = topology.triangles.slice(0, faceTriangleCount * 3);
  const triangleUvIndices = topology.triangleUvIndices.slice(0, faceTriangleCount * 3);
  for (const vertex of triangles) {
    if (vertex >= V)
      throw new ModelUnavailableError('generic_neutral_mesh.obj: face-area polygons reference vertices outside the face area (not the ICT-FaceKit layout)');
  }
  tick();

  const readDeltas = async (names: string[], basis: Float32Array) => {
    // A few files at a time: each is several MB of text.
    const concurrency = 4;
    for (let first = 0; first < names.length; first += concurrency) {
      const batch = names.slice(first, first + concurrency);
      const texts = await Promise.all(batch.map((name) => requireFile(readText, name, '.obj')));
      texts.forEach((text, k) => {
        const positions = checkedPositions(text, `${batch[k]}.obj`, V);
        const offset = (first + k) * V * 3;
        for (let i = 0; i < V * 3; i++) basis[offset + i] = positions[i] - neutral[i];
        tick();
      });
    }
  };
  const identityBasis = new Float32Array(identityCount * V * 3);
  await readDeltas(
    Array.from({ length: identityCount }, (_, m) => identityFileName(m)),
    identityBasis,
  );
  const expressionBasis = new Float32Array(expressionNames.length * V * 3);
  await readDeltas(expressionNames as string[], expressionBasis);

  return validateMorphableModel(
    {
      name: 'ict-facekit-light (full face area)',
      vertexCount: V,
      neutral,
      identityCount,
      identityBasis,
      expressionNames: expressionNames as string[],
      expressionBasis,
      triangles,
      uvs: topology.uvs,
      triangleUvIndices,
      landmarkVertexIndices: Uint32Array.from(landmarks as number[]),
      narrowFaceVertexCount: ICT_FACEKIT.narrowFaceVertexCount,
    },
    'model directory',
    { mesh: 'generic_neutral_mesh.obj', landmarks: 'vertex_indices.json' },
  );

  function checkedPositions(text: string, label: string, count: number): Float32Array {
    const positions = parseObjPositions(text, millimetresPerUnit, count);
    if (positions.length !== count * 3) {
      throw new ModelUnavailableError(`${label}: ${positions.length / 3} vertices, expected at least ${count} (truncated or not an ICT-FaceKit file)`);
    }
    for (let i = 0; i < positions.length; i++) {
      if (!Number.isFinite(positions[i])) throw new ModelUnavailableError(`${label}: unreadable vertex ${Math.floor(i / 3)} (corrupt file)`);
    }
    return positions;
  }
}

async function requireFile(readText: ModelTextReader, name: string, extension = ''): Promise<string> {
  const text = await readText(name);
  if (text === undefined) throw new ModelUnavailableError(`${name}${extension}: missing from the model directory`);
  return text;
}
