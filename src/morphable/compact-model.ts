import { ModelUnavailableError } from '../common/errors.ts';
import type { MorphableModel } from './morphable-model.ts';
import { MODEL_LIMITS, validateMorphableModel } from './validate-model.ts';

/**
 * A compact binary form of a MorphableModel: loads in milliseconds in Node and in browsers
 * (one fetch, no parsing of text). Layout, little-endian:
 *   bytes 0–3  magic "FGMM"
 *   bytes 4–7  uint32 format version
 *   bytes 8–11 uint32 header length H
 *   H bytes    UTF-8 JSON header: scalars + array table [{ key, type, byteOffset, length }]
 *   arrays, each 4-byte aligned, offsets relative to the start of the buffer.
 */
const MAGIC = 0x4d4d4746; // "FGMM" read as little-endian uint32
export const COMPACT_MODEL_FORMAT_VERSION = 1;

type ArrayKey = 'neutral' | 'identityBasis' | 'expressionBasis' | 'triangles' | 'uvs' | 'triangleUvIndices' | 'landmarkVertexIndices';
const ARRAY_KEYS: ArrayKey[] = ['neutral', 'identityBasis', 'expressionBasis', 'triangles', 'uvs', 'triangleUvIndices', 'landmarkVertexIndices'];
/** The arrays of indices (u32); the rest are f32. */
const INDEX_KEYS: ArrayKey[] = ['triangles', 'triangleUvIndices', 'landmarkVertexIndices'];

interface Header {
  name: string;
  vertexCount: number;
  identityCount: number;
  expressionNames: string[];
  narrowFaceVertexCount: number;
  arrays: { key: ArrayKey; type: 'f32' | 'u32'; byteOffset: number; length: number }[];
}

export function encodeCompactModel(model: MorphableModel): Uint8Array {
  const arrays = ARRAY_KEYS.map((key) => model[key]);
  const headerWithoutOffsets = (offsets: number[]): Header => ({
    name: model.name,
    vertexCount: model.vertexCount,
    identityCount: model.identityCount,
    expressionNames: model.expressionNames,
    narrowFaceVertexCount: model.narrowFaceVertexCount,
    arrays: ARRAY_KEYS.map((key, i) => ({ key, type: arrays[i] instanceof Float32Array ? 'f32' : 'u32', byteOffset: offsets[i], length: arrays[i].length })),
  });
  // Offsets depend on the header's length, which depends on the offsets' digits: iterate to a fixed point.
  let offsets = arrays.map(() => 0);
  let headerBytes = new Uint8Array();
  for (let attempt = 0; attempt < 4; attempt++) {
    headerBytes = new TextEncoder().encode(JSON.stringify(headerWithoutOffsets(offsets)));
    let cursor = align4(12 + headerBytes.length);
    const next = arrays.map((array) => {
      const at = cursor;
      cursor = align4(cursor + array.byteLength);
      return at;
    });
    if (next.every((value, i) => value === offsets[i])) break;
    offsets = next;
  }
  const last = arrays.length - 1;
  const buffer = new Uint8Array(align4(offsets[last] + arrays[last].byteLength));
  const view = new DataView(buffer.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, COMPACT_MODEL_FORMAT_VERSION, true);
  view.setUint32(8, headerBytes.length, true);
  buffer.set(headerBytes, 12);
  arrays.forEach((array, i) => buffer.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), offsets[i]));
  return buffer;
}

/** Decode; throws ModelUnavailableError naming `label` when the bytes are not a valid compact model. */
export function decodeCompactModel(bytes: Uint8Array, label = 'compact model'): MorphableModel {
  const fail = (why: string): never => {
    throw new ModelUnavailableError(`${label}: ${why}`);
  };
  if (bytes.byteLength < 12) fail('file too short');
  // Copy so arrays are aligned and independent of the caller's buffer.
  const buffer = bytes.slice().buffer;
  const view = new DataView(buffer);
  if (view.getUint32(0, true) !== MAGIC) fail('not a facegar compact model');
  const version = view.getUint32(4, true);
  if (version !== COMPACT_MODEL_FORMAT_VERSION) fail(`format version ${version}, expected ${COMPACT_MODEL_FORMAT_VERSION}`);
  const headerLength = view.getUint32(8, true);
  let header: Header | undefined;
  try {
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 12, headerLength))) as Header;
  } catch {
    fail('corrupt header');
  }
  const h = header as Header;
  const count = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;
  if (
    !h ||
    typeof h !== 'object' ||
    !Array.isArray(h.arrays) ||
    !Array.isArray(h.expressionNames) ||
    !h.expressionNames.every((n) => typeof n === 'string') ||
    ![h.vertexCount, h.identityCount, h.narrowFaceVertexCount].every(count)
  )
    fail('corrupt header');
  // Sizes are bounded before any product of them is taken (a header can claim anything).
  if (h.vertexCount > MODEL_LIMITS.maxVertices || h.identityCount > MODEL_LIMITS.maxModes || h.expressionNames.length > MODEL_LIMITS.maxExpressions)
    fail('sizes out of bounds');
  const arrays = {} as Record<ArrayKey, Float32Array | Uint32Array>;
  for (const entry of h.arrays) {
    if (
      !entry ||
      !ARRAY_KEYS.includes(entry.key) ||
      entry.type !== (INDEX_KEYS.includes(entry.key) ? 'u32' : 'f32') ||
      !count(entry.byteOffset) ||
      !count(entry.length)
    )
      fail('corrupt array table');
    const end = entry.byteOffset + entry.length * 4;
    if (entry.byteOffset % 4 !== 0 || end > buffer.byteLength) fail(`array ${entry.key} out of bounds (truncated file)`);
    arrays[entry.key] =
      entry.type === 'f32' ? new Float32Array(buffer, entry.byteOffset, entry.length) : new Uint32Array(buffer, entry.byteOffset, entry.length);
  }
  const V = h.vertexCount;
  const expected: Record<ArrayKey, number> = {
    neutral: V * 3,
    identityBasis: h.identityCount * V * 3,
    expressionBasis: h.expressionNames.length * V * 3,
    triangles: arrays.triangles?.length ?? -1,
    uvs: arrays.uvs?.length ?? -1,
    triangleUvIndices: arrays.triangles?.length ?? -1,
    landmarkVertexIndices: 68,
  };
  for (const key of ARRAY_KEYS) {
    if (!arrays[key] || arrays[key].length !== expected[key]) fail(`array ${key} has the wrong length`);
  }
  return validateMorphableModel(
    {
      name: String(h.name),
      vertexCount: V,
      identityCount: h.identityCount,
      expressionNames: h.expressionNames,
      narrowFaceVertexCount: h.narrowFaceVertexCount,
      neutral: arrays.neutral as Float32Array,
      identityBasis: arrays.identityBasis as Float32Array,
      expressionBasis: arrays.expressionBasis as Float32Array,
      triangles: arrays.triangles as Uint32Array,
      uvs: arrays.uvs as Float32Array,
      triangleUvIndices: arrays.triangleUvIndices as Uint32Array,
      landmarkVertexIndices: arrays.landmarkVertexIndices as Uint32Array,
    },
    label,
  );
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
