// The .npy writer of the GPU training pack (scripts/gpu/npy-file.ts): headers numpy accepts and
// float16 values that decode (src/gar/safetensors.ts halfToFloat) to the nearest half.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeNpy, floatToHalfBits } from '../../scripts/gpu/npy-file.ts';
import { halfToFloat } from '../../src/gar/safetensors.ts';

test('float16: exact halves stay exact, others round to the nearest half (ties to even), overflow is infinite', () => {
  for (const v of [0, -0, 1, -2, 0.5, 65504, 2 ** -24, 2 ** -14, 0.333251953125]) assert.equal(halfToFloat(floatToHalfBits(v)), v);
  assert.equal(halfToFloat(floatToHalfBits(1 + 2 ** -11)), 1); // halfway between 1 and 1 + 2^-10: even wins
  assert.equal(halfToFloat(floatToHalfBits(1 + 3 * 2 ** -11)), 1 + 2 ** -9);
  assert.equal(halfToFloat(floatToHalfBits(1e6)), Infinity);
  assert.equal(halfToFloat(floatToHalfBits(2 ** -26)), 0);
  for (let i = 0; i < 1000; i++) {
    const v = ((Math.sin(i * 12.9898) * 43758.5453) % 1) * 2 ** ((i % 30) - 15);
    const decoded = halfToFloat(floatToHalfBits(v));
    assert.ok(Math.abs(decoded - v) <= Math.max(Math.abs(v) * 2 ** -11, 2 ** -25) * 1.0001, `${v} → ${decoded}`);
  }
});

test('npy header: magic, version 1.0, dtype and shape, data aligned to 64 bytes', () => {
  const bytes = encodeNpy({ dtype: 'i4', shape: [2, 3], values: Int32Array.of(1, 2, 3, 4, 5, -6) });
  assert.deepEqual(Array.from(bytes.subarray(0, 8)), [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLength = new DataView(bytes.buffer).getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  assert.match(header, /^\{'descr': '<i4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
  assert.equal((10 + headerLength) % 64, 0);
  assert.equal(new DataView(bytes.buffer).getInt32(10 + headerLength + 20, true), -6);
  assert.match(new TextDecoder().decode(encodeNpy({ dtype: 'f2', shape: [4], values: new Float32Array(4) }).subarray(10, 70)), /'<f2'.*'shape': \(4,\)/);
  assert.throws(() => encodeNpy({ dtype: 'u1', shape: [3], values: new Uint8Array(2) }), /2 values for shape \[3\]/);
});
