/**
 * The synthetic test-set folder layout (one format for studio renders and Blender Cycles
 * renders, so both go through one scoring path). Per face NNNN:
 *   NNNN.png   the photo
 *   NNNN.json  the truth (below)
 *   NNNN.f32   the model's vertices (model space, mm), float32 little-endian x, y, z
 * and set.json listing the faces. Parsing and validation only: bytes and JSON in, arrays out.
 */
import { UsageError } from '../common/errors.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import type { StudioTruth } from '../shading/studio-renderer.ts';

export const SET_FACE_FORMAT = 'facegar-synthetic-face';
export const SET_FORMAT = 'facegar-synthetic-set';

/**
 * What the benchmark knows about one photo: the studio truth's shape, pose and landmarks
 * (verticesModel [V*3] mm model space, rotation row-major with p_cam = R p + t, translationMm,
 * anglesDeg, landmarks2d [68*2] = the model's landmark vertices projected with the true camera),
 * the coefficients, and the camera as plain numbers (geometry/camera.ts conventions).
 */
export interface BenchmarkTruth extends Pick<StudioTruth, 'verticesModel' | 'rotation' | 'translationMm' | 'anglesDeg' | 'landmarks2d'> {
  /** [K] identity coefficients, [E] expression weights (model order). */
  identity: Float32Array;
  expression: Float32Array;
  focalPx: number;
  principalPointPx: [number, number];
  /** [68] whether each landmark is seen (not hidden by the face); absent when unknown. */
  landmarkVisible?: boolean[];
}

/** One face of a set as read from its JSON: the truth, the image file's name and size, and how it was made. */
export interface SetFaceRecord {
  truth: BenchmarkTruth;
  imageFile: string;
  width: number;
  height: number;
  /** The JSON's `generator` object (name, version, seed, …), for reports. */
  generator: Record<string, unknown>;
}

/**
 * Check and convert one face's JSON and vertex bytes. Every problem is a one-line UsageError
 * naming `label` (the file) and the field.
 */
export function parseSetFace(json: unknown, vertexBytes: Uint8Array, model: MorphableModel, label: string): SetFaceRecord {
  const fail = (what: string): never => {
    throw new UsageError(`${label}: ${what}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('not a JSON object');
  const record = json as Record<string, unknown>;
  if (record.format !== SET_FACE_FORMAT) fail(`"format" must be "${SET_FACE_FORMAT}"`);
  const numbers = (key: string, length: number, range: [number, number]): number[] => {
    const value = record[key];
    if (!Array.isArray(value) || value.length !== length) fail(`"${key}" must be an array of ${length} numbers`);
    const list = value as unknown[];
    const bad = list.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v) || v < range[0] || v > range[1]);
    if (bad >= 0) fail(`"${key}"[${bad}] = ${String(list[bad])} is not a number in [${range[0]}, ${range[1]}]`);
    return list as number[];
  };
  const scalar = (key: string, range: [number, number]): number => {
    const value = record[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < range[0] || value > range[1])
      fail(`"${key}" = ${String(value)} is not a number in [${range[0]}, ${range[1]}]`);
    return value as number;
  };
  const width = scalar('width', [1, 1 << 15]),
    height = scalar('height', [1, 1 << 15]);
  if (!Number.isInteger(width) || !Number.isInteger(height)) fail('"width" and "height" must be integers');
  if (typeof record.image !== 'string' || !/^[\w.-]+$/.test(record.image)) fail('"image" must be a file name in the set folder');
  const identity = numbers('identity', model.identityCount, [-20, 20]);
  const expressionObject = record.expression;
  if (typeof expressionObject !== 'object' || expressionObject === null || Array.isArray(expressionObject))
    fail('"expression" must be an object of name → weight');
  const expression = new Float32Array(model.expressionNames.length);
  for (const [name, weight] of Object.entries(expressionObject as Record<string, unknown>)) {
    const k = model.expressionNames.indexOf(name);
    if (k < 0) fail(`"expression" names "${name}", not an expression of the model`);
    if (typeof weight !== 'number' || !(weight >= 0 && weight <= 1)) fail(`"expression"."${name}" = ${String(weight)} is not a weight in [0, 1]`);
    expression[k] = weight as number;
  }
  const rotation = Float64Array.from(numbers('rotation', 9, [-1.000001, 1.000001]));
  for (let a = 0; a < 3; a++)
    for (let b = 0; b < 3; b++) {
      const dot = rotation[a] * rotation[b] + rotation[3 + a] * rotation[3 + b] + rotation[6 + a] * rotation[6 + b];
      if (Math.abs(dot - (a === b ? 1 : 0)) > 1e-4) fail('"rotation" is not a rotation matrix (columns not orthonormal)');
    }
  const translationMm = numbers('translationMm', 3, [-1e6, 1e6]) as [number, number, number];
  if (!(translationMm[2] < 0)) fail('"translationMm"[2] must be negative (the face in front of the camera, which looks down −z)');
  const anglesDeg = numbers('anglesDeg', 3, [-180, 180]) as [number, number, number];
  const focalPx = scalar('focalPx', [1e-3, 1e6]);
  const principalPointPx = numbers('principalPointPx', 2, [-1e5, 1e5]) as [number, number];
  const landmarks2d = Float32Array.from(numbers('landmarks2d', 136, [-1e6, 1e6]));
  let landmarkVisible: boolean[] | undefined;
  if (record.landmarkVisible !== undefined) {
    const v = record.landmarkVisible;
    if (!Array.isArray(v) || v.length !== 68 || !v.every((x) => typeof x === 'boolean')) fail('"landmarkVisible" must be 68 booleans');
    landmarkVisible = v as boolean[];
  }
  const expectedBytes = model.vertexCount * 3 * 4;
  if (vertexBytes.byteLength !== expectedBytes)
    fail(`vertex file has ${vertexBytes.byteLength} bytes, expected ${expectedBytes} (${model.vertexCount} vertices × 3 float32)`);
  const view = new DataView(vertexBytes.buffer, vertexBytes.byteOffset, vertexBytes.byteLength);
  const verticesModel = new Float32Array(model.vertexCount * 3);
  for (let i = 0; i < verticesModel.length; i++) {
    const value = view.getFloat32(4 * i, true);
    if (!Number.isFinite(value) || Math.abs(value) > 1e4) fail(`vertex value ${i} = ${value} is not a coordinate in mm`);
    verticesModel[i] = value;
  }
  const generator = typeof record.generator === 'object' && record.generator !== null ? (record.generator as Record<string, unknown>) : {};
  return {
    truth: {
      verticesModel,
      identity: Float32Array.from(identity),
      expression,
      rotation,
      translationMm,
      anglesDeg,
      focalPx,
      principalPointPx,
      landmarks2d,
      ...(landmarkVisible ? { landmarkVisible } : {}),
    },
    imageFile: record.image as string,
    width,
    height,
    generator,
  };
}

/** The vertex file named by a face's JSON (`vertices.file`), checked to be a plain file name; default `<stem>.f32`. */
export function setFaceVertexFile(json: unknown, stem: string): string {
  const file = (json as { vertices?: { file?: unknown } } | null)?.vertices?.file;
  return typeof file === 'string' && /^[\w.-]+$/.test(file) ? file : `${stem}.f32`;
}

/** A face's JSON record (the inverse of parseSetFace), for writing a set. */
export function setFaceJson(
  stem: string,
  truth: BenchmarkTruth,
  model: MorphableModel,
  width: number,
  height: number,
  generator: Record<string, unknown>,
): object {
  return {
    format: SET_FACE_FORMAT,
    version: 1,
    image: `${stem}.png`,
    width,
    height,
    identity: Array.from(truth.identity),
    expression: Object.fromEntries(model.expressionNames.map((name, k) => [name, truth.expression[k]])),
    rotation: Array.from(truth.rotation),
    translationMm: [...truth.translationMm],
    anglesDeg: [...truth.anglesDeg],
    focalPx: truth.focalPx,
    principalPointPx: [...truth.principalPointPx],
    landmarks2d: Array.from(truth.landmarks2d),
    ...(truth.landmarkVisible ? { landmarkVisible: truth.landmarkVisible } : {}),
    vertices: { file: `${stem}.f32`, space: 'model', count: model.vertexCount, dtype: 'float32le', unit: 'mm' },
    generator,
  };
}

/** Vertices [V*3] as float32 little-endian bytes. */
export function vertexBytes(vertices: Float32Array): Uint8Array {
  const bytes = new Uint8Array(vertices.length * 4);
  const view = new DataView(bytes.buffer);
  vertices.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return bytes;
}

/** The faces listed by set.json (stems), checked; a folder without set.json is read by its NNNN.json files (see the CLI). */
export function parseSetManifest(json: unknown, label: string): string[] {
  const record = json as { format?: unknown; faces?: unknown } | null;
  if (typeof record !== 'object' || record === null || record.format !== SET_FORMAT) throw new UsageError(`${label}: "format" must be "${SET_FORMAT}"`);
  const faces = record.faces;
  if (!Array.isArray(faces) || faces.length === 0 || !faces.every((f) => typeof f === 'string' && /^[\w.-]+$/.test(f)))
    throw new UsageError(`${label}: "faces" must be a non-empty list of file stems`);
  return faces as string[];
}
