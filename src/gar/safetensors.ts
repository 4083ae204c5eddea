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
  const exponent = (bits >> 10) & 0x1f, fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const BYTES_PER_VALUE: Record<string, number> = { F32: 4, F16: 2 };

/** Parse a safetensors file (F32 and F16 tensors, returned as float32); throws Error with a one-line reason when malformed. */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new Error('not a safetensors file (too short)');
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > bytes.length - 8) throw new Error('not a safetensors file (header length past the end)');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, NamedArray>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = entry as unknown as Record<string, string>; continue; }
    const size = BYTES_PER_VALUE[entry.dtype];
    if (!size) throw new Error(`tensor ${name}: dtype ${entry.dtype} is not supported (F32 or F16)`);
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * size || dataStart + end > bytes.length) throw new Error(`tensor ${name}: data offsets do not match its shape`);
    const copy = bytes.slice(dataStart + begin, dataStart + end); // aligned copy
    let values: Float32Array;
    if (size === 4) values = new Float32Array(copy.buffer, copy.byteOffset, count);
    else {
      const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
      values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = halfToFloat(view.getUint16(2 * i, true));
    }
    tensors.set(name, { name, shape: entry.shape, values });
  }
  return { tensors, metadata };
}
