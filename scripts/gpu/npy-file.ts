// NumPy .npy files (format 1.0, little-endian, C order) for the GPU training pack: numpy.load
// reads them with no other package. Float16 is written from float32 with round-to-nearest-even.
import { halfToFloat } from '../../src/gar/safetensors.ts';

export type NpyArray =
  | { dtype: 'f4'; shape: number[]; values: Float32Array }
  | { dtype: 'f2'; shape: number[]; values: Float32Array }
  | { dtype: 'i4'; shape: number[]; values: Int32Array }
  | { dtype: 'u1'; shape: number[]; values: Uint8Array }
  | { dtype: 'i1'; shape: number[]; values: Int8Array };

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** float32 → IEEE half bits, round to nearest even; overflow → ±Infinity. */
export function floatToHalfBits(value: number): number {
  scratch[0] = value;
  const bits = scratchBits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign; // below half the smallest subnormal
    const full = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1),
      halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (halfExponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: still right
  return half;
}

/** The bytes of one .npy file. */
export function encodeNpy(array: NpyArray): Uint8Array {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (array.values.length !== count) throw new Error(`npy: ${array.values.length} values for shape [${array.shape}]`);
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${array.dtype === 'u1' || array.dtype === 'i1' ? `|${array.dtype}` : `<${array.dtype}`}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const headerBytes = new TextEncoder().encode(header);
  const itemSize = { f4: 4, f2: 2, i4: 4, u1: 1, i1: 1 }[array.dtype];
  const out = new Uint8Array(10 + headerBytes.length + count * itemSize);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, headerBytes.length, true);
  out.set(headerBytes, 10);
  const data = new DataView(out.buffer, 10 + headerBytes.length);
  if (array.dtype === 'f2') for (let i = 0; i < count; i++) data.setUint16(2 * i, floatToHalfBits(array.values[i]), true);
  else if (array.dtype === 'f4') for (let i = 0; i < count; i++) data.setFloat32(4 * i, array.values[i], true);
  else if (array.dtype === 'i4') for (let i = 0; i < count; i++) data.setInt32(4 * i, array.values[i], true);
  else out.set(new Uint8Array(array.values.buffer, array.values.byteOffset, count), 10 + headerBytes.length);
  return out;
}

/** A little-endian '<f4', '<f2' (as float32) or '|u1' .npy file (C order) back as its array. */
export function decodeNpy(bytes: Uint8Array): NpyArray {
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  const shape = (header.match(/'shape': \(([^)]*)\)/)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (header.includes('True')) throw new Error(`npy: ${header.trim()} is in Fortran order`);
  const data = bytes.slice(10 + headerLength);
  if (header.includes("'<f4'")) return { dtype: 'f4', shape, values: new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4) };
  if (header.includes("'<f2'")) {
    const view = new DataView(data.buffer, data.byteOffset);
    return { dtype: 'f2', shape, values: Float32Array.from({ length: data.byteLength / 2 }, (_, i) => halfToFloat(view.getUint16(2 * i, true))) };
  }
  if (header.includes("'|u1'")) return { dtype: 'u1', shape, values: data };
  throw new Error(`npy: ${header.trim()} is not little-endian float32 or float16, or uint8`);
}
