/**
 * The safetensors container (readable by PyTorch users): 8-byte little-endian header length,
 * a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}},
 * then the raw little-endian tensor bytes. Only float32 ("F32") is written here.
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

/** Parse a safetensors file (F32 tensors only); throws Error with a one-line reason when malformed. */
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
    if (entry.dtype !== 'F32') throw new Error(`tensor ${name}: dtype ${entry.dtype} is not supported (F32 only)`);
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4 || dataStart + end > bytes.length) throw new Error(`tensor ${name}: data offsets do not match its shape`);
    const copy = bytes.slice(dataStart + begin, dataStart + end); // aligned copy
    tensors.set(name, { name, shape: entry.shape, values: new Float32Array(copy.buffer, copy.byteOffset, count) });
  }
  return { tensors, metadata };
}
