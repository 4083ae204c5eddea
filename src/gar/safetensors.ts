/**
 * The safetensors container (readable by PyTorch users): 8-byte little-endian header length,
 * a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}},
 * then the raw little-endian tensor bytes. Only float32 ("F32") is written here; float16 ("F16")
 * is read too (widened to float32), so networks trained elsewhere can ship at half the size.
 */
export interface NamedArray {
  name: string;
  shape: number[];
  values: Float32Array;
}

export function encodeSafetensors(tensors: NamedArray[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.values.byteLength] };
    offset += t.values.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength), position);
    position += t.values.byteLength;
  }
  return out;
}

/** IEEE 754 half-precision bits → the float32 value they denote (exact: every half is a float32). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f,
    fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const BYTES_PER_VALUE: Record<string, number> = { F32: 4, F16: 2 };

/** The safetensors format's own cap on the JSON header (bytes). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;
/** Most dimensions a tensor may have (the networks here use at most 4). */
const MAX_RANK = 8;

/** One tensor's entry in the header: where its bytes are, relative to the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: 'F32' | 'F16';
  shape: number[];
  /** Number of values (the product of `shape`). */
  count: number;
  begin: number;
  end: number;
}

/**
 * Read and check the header only (no tensor data is copied): every entry F32 or F16 with a shape of
 * non-negative integers whose size matches its byte range, and the ranges in bounds, in order,
 * neither overlapping nor leaving holes (the format's rule: the data section is exactly the
 * tensors, back to back). Throws Error with a one-line reason when anything is off.
 */
export function readSafetensorsHeader(bytes: Uint8Array): { entries: SafetensorsEntry[]; metadata: Record<string, string>; dataStart: number } {
  if (bytes.length < 8) throw new Error('not a safetensors file (too short)');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) throw new Error('not a safetensors file (header length past the end)');
  if (headerLength > BigInt(MAX_SAFETENSORS_HEADER_BYTES))
    throw new Error(`safetensors header of ${headerLength} bytes (at most ${MAX_SAFETENSORS_HEADER_BYTES})`);
  const dataStart = 8 + Number(headerLength);
  const dataLength = bytes.length - dataStart;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, dataStart)));
  } catch {
    throw new Error('not a safetensors file (the header is not JSON)');
  }
  if (!isPlainObject(header)) throw new Error('not a safetensors file (the header is not a JSON object)');
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string'))
        throw new Error('safetensors __metadata__ is not a map of strings');
      metadata = value as Record<string, string>;
      continue;
    }
    entries.push(readEntry(name, value, dataLength));
  }
  // In order, back to back: no overlap (two tensors sharing bytes) and no hole.
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const entry of ordered) {
    if (entry.begin < cursor) throw new Error(`tensor ${entry.name}: data offsets [${entry.begin}, ${entry.end}] overlap another tensor's`);
    if (entry.begin > cursor) throw new Error(`tensor ${entry.name}: data offsets [${entry.begin}, ${entry.end}] leave a gap after byte ${cursor}`);
    cursor = entry.end;
  }
  if (cursor !== dataLength) throw new Error(`the tensors cover ${cursor} of the ${dataLength} data bytes`);
  return { entries, metadata, dataStart };
}

function readEntry(name: string, value: unknown, dataLength: number): SafetensorsEntry {
  if (!isPlainObject(value)) throw new Error(`tensor ${name}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const size = typeof dtype === 'string' && Object.hasOwn(BYTES_PER_VALUE, dtype) ? BYTES_PER_VALUE[dtype] : undefined;
  if (!size) throw new Error(`tensor ${name}: dtype ${String(dtype)} is not supported (F32 or F16)`);
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every(isCount))
    throw new Error(`tensor ${name}: shape ${JSON.stringify(shape)} is not a list of at most ${MAX_RANK} sizes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
    throw new Error(`tensor ${name}: data offsets ${JSON.stringify(offsets)} are not two byte positions`);
  const [begin, end] = offsets as number[];
  if (begin > end || end > dataLength) throw new Error(`tensor ${name}: data offsets [${begin}, ${end}] outside the ${dataLength} data bytes`);
  // Sizes multiply in floating point: a huge shape gives a huge product, never a wrapped one.
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== count * size)
    throw new Error(`tensor ${name}: data offsets do not match its shape [${shape.join(', ')}] (${end - begin} bytes for ${count} ${dtype})`);
  return { name, dtype: dtype as 'F32' | 'F16', shape: shape as number[], count, begin, end };
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parse a safetensors file (F32 and F16 tensors, returned as float32); throws Error with a
 * one-line reason when malformed (see readSafetensorsHeader).
 */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  const { entries, metadata, dataStart } = readSafetensorsHeader(bytes);
  const tensors = new Map<string, NamedArray>();
  for (const { name, dtype, shape, count, begin, end } of entries) {
    const copy = bytes.slice(dataStart + begin, dataStart + end); // aligned copy
    let values: Float32Array;
    if (dtype === 'F32') values = new Float32Array(copy.buffer, copy.byteOffset, count);
    else {
      const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
      values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = halfToFloat(view.getUint16(2 * i, true));
    }
    tensors.set(name, { name, shape, values });
  }
  return { tensors, metadata };
}
