/**
 * MATLAB level-5 `.mat` reader (core: no Node imports; compressed elements are inflated with the
 * global `DecompressionStream('deflate')`, which Node ≥ 18 and browsers provide). Reads numeric
 * and logical arrays (double, single, int8…uint64 classes, real part; sparse, struct, cell and
 * object arrays are listed with their class but carry no data) and char arrays as text.
 */

/** One variable of a .mat file. */
export interface MatArray {
  name: string;
  /** MATLAB class name: 'double', 'single', 'int32', 'char', 'struct', … */
  className: string;
  /** MATLAB dimensions, e.g. [3, 68]. */
  dims: number[];
  /** Real part, column-major (MATLAB order), converted to float64; empty for unsupported classes. */
  data: Float64Array;
  /** Imaginary part when the array is complex. */
  imaginary?: Float64Array;
  /** The text of a char array. */
  text?: string;
}

const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
} as const;
const CLASS_NAMES: Record<number, string> = {
  1: 'cell',
  2: 'struct',
  3: 'object',
  4: 'char',
  5: 'sparse',
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
};
const NUMERIC_CLASSES = new Set([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

/**
 * Most bytes the compressed elements of one file may inflate to, all together (default of
 * `maxInflatedBytes`). AFLW2000-3D's files inflate to about 2 KB; a "zip bomb" stops here.
 */
export const MAX_MAT_INFLATED_BYTES = 16 * 1024 * 1024;

/**
 * Parse a level-5 .mat file → variables by name (file order). Throws RangeError on a malformed
 * file, and when its compressed elements inflate past `options.maxInflatedBytes` or nest (MATLAB
 * never nests them).
 */
export async function parseMatFile(bytes: Uint8Array, options: { maxInflatedBytes?: number } = {}): Promise<Map<string, MatArray>> {
  if (bytes.length < 128) throw new RangeError('not a MATLAB 5 .mat file (shorter than its 128-byte header)');
  const header = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
  if (header.startsWith('MATLAB 7.3') || header.includes('HDF')) throw new RangeError('MATLAB 7.3 (HDF5) .mat files are not supported; save with -v7 or -v6');
  const endian = String.fromCharCode(bytes[126], bytes[127]);
  if (endian !== 'IM' && endian !== 'MI') throw new RangeError('not a MATLAB 5 .mat file (no endian indicator)');
  const little = endian === 'IM';
  const variables = new Map<string, MatArray>();
  const limitBytes = options.maxInflatedBytes ?? MAX_MAT_INFLATED_BYTES;
  const budget = { limitBytes, remainingBytes: limitBytes };
  await readElements(bytes.subarray(128), little, variables, true, budget);
  return variables;
}

async function readElements(bytes: Uint8Array, little: boolean, out: Map<string, MatArray>, topLevel: boolean, budget: InflateBudget): Promise<void> {
  let offset = 0;
  while (offset + 8 <= bytes.length) {
    const tag = readTag(bytes, offset, little);
    const body = bytes.subarray(tag.dataStart, tag.dataStart + tag.size);
    if (body.length < tag.size) throw new RangeError(`.mat data element at byte ${offset} runs past the end of the file`);
    if (tag.type === MI.COMPRESSED) {
      if (!topLevel) throw new RangeError('.mat compressed element inside a compressed element (MATLAB never writes these)');
      await readElements(await inflate(body, budget), little, out, false, budget);
      offset = tag.dataStart + tag.size; // compressed elements are not padded
      continue;
    }
    if (tag.type === MI.MATRIX) {
      const array = readMatrix(body, little);
      if (array) out.set(array.name, array);
    }
    offset = tag.small ? offset + 8 : tag.dataStart + align8(tag.size);
  }
}

interface Tag {
  type: number;
  size: number;
  dataStart: number;
  small: boolean;
}

function readTag(bytes: Uint8Array, offset: number, little: boolean): Tag {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = view.getUint32(offset, little);
  // Small data element: size in the upper 16 bits, data in the 4 bytes after the type.
  if (first >>> 16 !== 0) return { type: first & 0xffff, size: first >>> 16, dataStart: offset + 4, small: true };
  return { type: first, size: view.getUint32(offset + 4, little), dataStart: offset + 8, small: false };
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** The sub-elements of a miMATRIX body. */
function readMatrix(body: Uint8Array, little: boolean): MatArray | undefined {
  if (body.length === 0) return undefined; // an empty miMATRIX (e.g. an empty cell element)
  const parts: { type: number; data: Uint8Array }[] = [];
  let offset = 0;
  while (offset + 8 <= body.length) {
    const tag = readTag(body, offset, little);
    parts.push({ type: tag.type, data: body.subarray(tag.dataStart, tag.dataStart + tag.size) });
    offset = tag.small ? offset + 8 : tag.dataStart + align8(tag.size);
  }
  if (parts.length < 3) throw new RangeError('malformed .mat array (fewer than flags, dimensions and name)');
  const flags = numericValues(parts[0].type, parts[0].data, little);
  const classId = flags[0] & 0xff;
  const complex = ((flags[0] >>> 8) & 0x08) !== 0;
  const dims = Array.from(numericValues(parts[1].type, parts[1].data, little));
  const name = new TextDecoder('utf-8').decode(parts[2].data);
  const className = CLASS_NAMES[classId] ?? `class${classId}`;
  const array: MatArray = { name, className, dims, data: new Float64Array(0) };
  if (NUMERIC_CLASSES.has(classId) && parts.length >= 4) {
    array.data = numericValues(parts[3].type, parts[3].data, little);
    if (complex && parts.length >= 5) array.imaginary = numericValues(parts[4].type, parts[4].data, little);
    const count = dims.reduce((a, b) => a * b, 1);
    if (array.data.length !== count) throw new RangeError(`.mat array "${name}" holds ${array.data.length} values for dimensions ${dims.join('×')}`);
  } else if (classId === 4 && parts.length >= 4) {
    const part = parts[3];
    if (part.type === MI.UTF8 || part.type === MI.INT8 || part.type === MI.UINT8) array.text = new TextDecoder('utf-8').decode(part.data);
    else array.text = charCodesToText(numericValues(part.type, part.data, little));
  }
  return array;
}

/** Values of a numeric data element of MAT type `type`, as float64. */
function numericValues(type: number, data: Uint8Array, little: boolean): Float64Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read: Record<number, [number, (o: number) => number]> = {
    [MI.INT8]: [1, (o) => view.getInt8(o)],
    [MI.UINT8]: [1, (o) => view.getUint8(o)],
    [MI.INT16]: [2, (o) => view.getInt16(o, little)],
    [MI.UINT16]: [2, (o) => view.getUint16(o, little)],
    [MI.INT32]: [4, (o) => view.getInt32(o, little)],
    [MI.UINT32]: [4, (o) => view.getUint32(o, little)],
    [MI.SINGLE]: [4, (o) => view.getFloat32(o, little)],
    [MI.DOUBLE]: [8, (o) => view.getFloat64(o, little)],
    [MI.INT64]: [8, (o) => Number(view.getBigInt64(o, little))],
    [MI.UINT64]: [8, (o) => Number(view.getBigUint64(o, little))],
    [MI.UTF16]: [2, (o) => view.getUint16(o, little)],
    [MI.UTF32]: [4, (o) => view.getUint32(o, little)],
  };
  const entry = read[type];
  if (!entry) throw new RangeError(`unsupported .mat data type ${type}`);
  const [size, get] = entry;
  const out = new Float64Array(Math.floor(data.length / size));
  for (let i = 0; i < out.length; i++) out[i] = get(i * size);
  return out;
}

/** Text from character codes, in slices: spreading 400,000 codes into one call overflows the stack. */
function charCodesToText(codes: Float64Array): string {
  const parts: string[] = [];
  for (let i = 0; i < codes.length; i += 8192) parts.push(String.fromCharCode(...codes.subarray(i, i + 8192)));
  return parts.join('');
}

interface InflateBudget {
  limitBytes: number;
  remainingBytes: number;
}

/** zlib-inflate through the platform's DecompressionStream, chunk by chunk, stopping once past the budget. */
async function inflate(data: Uint8Array, budget: InflateBudget): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') throw new RangeError('compressed .mat files need DecompressionStream (Node ≥ 18 or a current browser)');
  const reader = new Blob([new Uint8Array(data)]).stream().pipeThrough(new DecompressionStream('deflate')).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > budget.remainingBytes) {
        await reader.cancel().catch(() => undefined);
        throw new InflateLimitError(`.mat compressed data inflates to more than ${budget.limitBytes} bytes (the limit: a zip bomb, or not an annotation file)`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof InflateLimitError) throw error;
    throw new RangeError(`a compressed .mat element does not inflate: ${(error as Error).message}`);
  }
  budget.remainingBytes -= total;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

class InflateLimitError extends RangeError {}

/** Element (row, col) of a 2D MATLAB array (0-based indices, column-major storage). */
export function matElement(array: MatArray, row: number, col: number): number {
  return array.data[row + col * array.dims[0]];
}

/** One variable to write: a numeric array (column-major, MATLAB order) or a char array. */
export interface MatVariableToWrite {
  name: string;
  className: 'double' | 'single' | 'int32' | 'char';
  /** MATLAB dimensions, e.g. [3, 68]; a char array's are [1, text length]. */
  dims: number[];
  data?: ArrayLike<number>;
  text?: string;
}

/**
 * Encode variables as a little-endian MATLAB level-5 `.mat` file (what `parseMatFile` reads, and
 * MATLAB, scipy.io.loadmat and AFLW2000-3D's tools). `compress`: each variable in a zlib-deflated
 * element (needs the platform's CompressionStream), as MATLAB's default `-v7` save does.
 */
export async function encodeMatFile(variables: MatVariableToWrite[], options: { compress?: boolean; description?: string } = {}): Promise<Uint8Array> {
  const parts = await Promise.all(
    variables.map(async (v) => {
      const raw = matMatrixElement(v);
      return options.compress ? matDataElement(MI.COMPRESSED, await deflateBytes(raw)) : raw;
    }),
  );
  return concatBytes([matFileHeader(options.description ?? 'written by facegar'), ...parts]);
}

/** The 128-byte header of a little-endian level-5 .mat file, with `description` in its text. */
export function matFileHeader(description: string): Uint8Array {
  const header = new Uint8Array(128).fill(32);
  header.set(new TextEncoder().encode(`MATLAB 5.0 MAT-file, ${description}`.slice(0, 116)));
  new DataView(header.buffer).setUint16(124, 0x0100, true);
  header.set([0x49, 0x4d], 126); // "IM": little-endian
  return header;
}

/** zlib deflate (what a compressed element holds), through the platform's CompressionStream. */
export async function deflateBytes(bytes: Uint8Array): Promise<Uint8Array> {
  if (typeof CompressionStream === 'undefined') throw new RangeError('compressed .mat files need CompressionStream (Node ≥ 18 or a current browser)');
  return new Uint8Array(await new Response(new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new CompressionStream('deflate'))).arrayBuffer());
}

/** One data element: tag and payload (the small format for 1–4 bytes), padded to 8 bytes unless compressed (type 15). */
export function matDataElement(type: number, payload: Uint8Array): Uint8Array {
  if (payload.length > 0 && payload.length <= 4 && type !== MI.MATRIX && type !== MI.COMPRESSED) {
    const small = new Uint8Array(8); // small data element: size and type in one word, data after it
    new DataView(small.buffer).setUint32(0, (payload.length << 16) | type, true);
    small.set(payload, 4);
    return small;
  }
  const padded = type === MI.COMPRESSED ? payload.length : align8(payload.length);
  const out = new Uint8Array(8 + padded);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, payload.length, true);
  out.set(payload, 8);
  return out;
}

/** A miMATRIX element holding `v`; throws RangeError when its values do not fill its dimensions. */
export function matMatrixElement(v: MatVariableToWrite): Uint8Array {
  const classId = { double: 6, single: 7, int32: 12, char: 4 }[v.className];
  const count = v.dims.reduce((a, b) => a * b, 1);
  const length = v.className === 'char' ? v.text?.length : v.data?.length;
  if (length !== count) throw new RangeError(`.mat variable "${v.name}": ${length} values for dimensions ${v.dims.join('×')}`);
  const flags = new Uint8Array(8);
  new DataView(flags.buffer).setUint32(0, classId, true);
  const dims = new Uint8Array(4 * v.dims.length);
  v.dims.forEach((d, i) => new DataView(dims.buffer).setInt32(4 * i, d, true));
  let type: number, data: Uint8Array;
  if (v.className === 'char') {
    type = MI.UINT16;
    data = new Uint8Array(2 * count);
    for (let i = 0; i < count; i++) new DataView(data.buffer).setUint16(2 * i, v.text!.charCodeAt(i), true);
  } else if (v.className === 'double') {
    type = MI.DOUBLE;
    data = new Uint8Array(Float64Array.from(v.data!).buffer);
  } else if (v.className === 'single') {
    type = MI.SINGLE;
    data = new Uint8Array(Float32Array.from(v.data!).buffer);
  } else {
    type = MI.INT32;
    data = new Uint8Array(Int32Array.from(v.data!).buffer);
  }
  return matDataElement(
    MI.MATRIX,
    concatBytes([
      matDataElement(MI.UINT32, flags),
      matDataElement(MI.INT32, dims),
      matDataElement(MI.INT8, new TextEncoder().encode(v.name)),
      matDataElement(type, data),
    ]),
  );
}

/** The byte arrays one after the other. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
