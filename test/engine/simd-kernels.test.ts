import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { reductionBlock } from '../../src/engine/misc-wasm-kernels.ts';
import { conv2dBackpropInputSimd, engineKernelsAvailable, engineKernelsMode, setInPlaceKernels, type WasmHeapAccess } from '../../src/engine/simd-kernels.ts';
import { ENGINE_KERNELS_HEAP_WASM_BASE64, ENGINE_KERNELS_WASM_BASE64 } from '../../src/engine/simd/engine-kernels-wasm.ts';
import { gradientVsFiniteDifferences, randomTensor, relativeError, valuesOn, wasmVsCpu } from './helpers.ts';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface FilterCase {
  x: [number, number, number, number];
  kernel: [number, number];
  cout: number;
  stride: number | [number, number];
  pad: Pad;
}

// Output channels a multiple of 4 (the SIMD kernel's condition); input channels cover the
// kernel's 4-channel tiles with remainders and its 16-channel blocks.
const FILTER_CASES: FilterCase[] = [
  { x: [1, 9, 9, 3], kernel: [3, 3], cout: 8, stride: 1, pad: 'same' },
  { x: [2, 8, 7, 5], kernel: [3, 3], cout: 12, stride: 1, pad: 'same' },
  { x: [2, 9, 9, 17], kernel: [3, 3], cout: 20, stride: 2, pad: 'same' },
  { x: [1, 10, 10, 1], kernel: [3, 3], cout: 4, stride: 2, pad: 'valid' },
  { x: [1, 8, 8, 6], kernel: [5, 5], cout: 16, stride: [2, 1], pad: 'same' },
  { x: [2, 6, 6, 18], kernel: [1, 1], cout: 36, stride: 1, pad: 'valid' },
  {
    x: [1, 7, 8, 2],
    kernel: [3, 2],
    cout: 4,
    stride: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  { x: [1, 16, 16, 64], kernel: [3, 3], cout: 64, stride: 1, pad: 'same' },
];

const root = resolve(import.meta.dirname, '../..');

before(async () => {
  await initBackend({ backend: 'wasm' });
});

// Stride 1 (the kernel's case) with input channels a multiple of 4: 8-channel tiles with a
// 4-channel remainder, widths with 1–3 pixels left over, batch 2, even, 1×1 and 5×5 filters,
// explicit and negative-free padding; the others fall back (stride 2, 3 input channels).
const INPUT_CASES: FilterCase[] = [
  { x: [1, 9, 9, 4], kernel: [3, 3], cout: 8, stride: 1, pad: 'same' },
  { x: [2, 8, 7, 12], kernel: [3, 3], cout: 5, stride: 1, pad: 'same' },
  { x: [1, 10, 6, 20], kernel: [3, 3], cout: 17, stride: 1, pad: 'valid' },
  { x: [1, 8, 8, 8], kernel: [5, 5], cout: 16, stride: 1, pad: 'same' },
  { x: [2, 6, 5, 36], kernel: [1, 1], cout: 18, stride: 1, pad: 'valid' },
  {
    x: [1, 7, 8, 4],
    kernel: [3, 2],
    cout: 4,
    stride: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  { x: [1, 6, 6, 8], kernel: [2, 2], cout: 8, stride: 1, pad: 'same' },
  { x: [1, 16, 16, 64], kernel: [3, 3], cout: 64, stride: 1, pad: 'same' },
  { x: [1, 9, 9, 3], kernel: [3, 3], cout: 8, stride: 1, pad: 'same' },
  { x: [2, 9, 9, 8], kernel: [3, 3], cout: 8, stride: 2, pad: 'same' },
];

// Every kernel in both builds: in place on the tfjs heap (what Node uses) and copying (a
// browser's shared heap).
for (const mode of ['in place', 'copying'] as const) {
  describe(`SIMD kernels, ${mode}`, () => {
    before(() => {
      setInPlaceKernels(mode === 'in place');
    });
    after(() => {
      setInPlaceKernels(true);
    });

    describe('SIMD Conv2DBackpropFilter', () => {
      test('runs here (Node 20 has WebAssembly SIMD)', () => {
        assert.equal(engineKernelsAvailable(), true);
      });

      for (const c of FILTER_CASES) {
        test(`matches cpu: x ${c.x.join('×')}, kernel ${c.kernel.join('×')}→${c.cout}, stride ${c.stride}, pad ${JSON.stringify(c.pad)}`, async () => {
          const viaGrad = await wasmVsCpu(() => {
            const x = randomTensor(c.x, 11) as tf.Tensor4D;
            const filter = randomTensor([...c.kernel, c.x[3], c.cout], 13) as tf.Tensor4D;
            const weights = randomTensor(tf.conv2d(x, filter, c.stride, c.pad).shape, 12);
            return tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, c.stride, c.pad), weights)))(filter);
          });
          assert.ok(viaGrad < 1e-4, `relative error ${viaGrad}`);
        });
      }

      test('matches central finite differences (stride 2, 8 output channels)', () => {
        const x = randomTensor([1, 5, 6, 3], 14) as tf.Tensor4D;
        const filter = randomTensor([3, 3, 3, 8], 15) as tf.Tensor4D;
        const f = (w: tf.Tensor) => tf.tidy(() => tf.sum(tf.square(tf.leakyRelu(tf.conv2d(x, w as tf.Tensor4D, 2, 'same'), 0.2))) as tf.Scalar);
        const error = gradientVsFiniteDifferences(f, filter, 1e-2);
        assert.ok(error < 1e-2, `relative error ${error}`);
        tf.dispose([x, filter]);
      });

      test('leaks no tensor', () => {
        const x = randomTensor([2, 8, 8, 16], 16) as tf.Tensor4D;
        const filter = randomTensor([3, 3, 16, 32], 17) as tf.Tensor4D;
        const before = tf.memory().numTensors;
        const dW = tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 1, 'same')))(filter);
        assert.equal(tf.memory().numTensors, before + 1);
        tf.dispose([x, filter, dW]);
      });
    });

    describe('SIMD Conv2DBackpropInput', () => {
      for (const c of INPUT_CASES) {
        test(`matches cpu: x ${c.x.join('×')}, kernel ${c.kernel.join('×')}→${c.cout}, stride ${c.stride}, pad ${JSON.stringify(c.pad)}`, async () => {
          const error = await wasmVsCpu(() => {
            const x = randomTensor(c.x, 51) as tf.Tensor4D;
            const filter = randomTensor([...c.kernel, c.x[3], c.cout], 53) as tf.Tensor4D;
            const weights = randomTensor(tf.conv2d(x, filter, c.stride, c.pad).shape, 52);
            return tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(input as tf.Tensor4D, filter, c.stride, c.pad), weights)))(x);
          });
          assert.ok(error < 1e-4, `relative error ${error}`);
        });
      }

      test('runs on the SIMD kernel for stride 1 (not the fallback) and matches the cpu transposed conv', async () => {
        const shape: [number, number, number, number] = [2, 11, 13, 12];
        const compute = (direct: boolean) => () => {
          const dy = randomTensor([2, 11, 13, 20], 54) as tf.Tensor4D;
          const filter = randomTensor([3, 3, 12, 20], 55) as tf.Tensor4D;
          if (!direct) return tf.conv2dTranspose(dy, filter, shape, 1, 'same');
          const out = conv2dBackpropInputSimd(tf.backend() as unknown as WasmHeapAccess, dy, filter, {
            batch: 2,
            inHeight: 11,
            inWidth: 13,
            inChannels: 12,
            outHeight: 11,
            outWidth: 13,
            outChannels: 20,
            filterHeight: 3,
            filterWidth: 3,
            padTop: 1,
            padLeft: 1,
          });
          assert.notEqual(out, null, 'SIMD kernel did not run');
          return tf.engine().makeTensorFromTensorInfo(out!);
        };
        const [expected] = await valuesOn('cpu', compute(false));
        const [actual] = await valuesOn('wasm', compute(true));
        assert.ok(relativeError(actual!, expected!) < 1e-5, `relative error ${relativeError(actual!, expected!)}`);
      });

      test('matches central finite differences (5×5 filter, 8 input channels)', () => {
        const x = randomTensor([1, 6, 5, 8], 56) as tf.Tensor4D;
        const filter = randomTensor([5, 5, 8, 4], 57) as tf.Tensor4D;
        const f = (input: tf.Tensor) => tf.tidy(() => tf.sum(tf.square(tf.leakyRelu(tf.conv2d(input as tf.Tensor4D, filter, 1, 'same'), 0.2))) as tf.Scalar);
        const error = gradientVsFiniteDifferences(f, x, 1e-2);
        assert.ok(error < 1e-2, `relative error ${error}`);
        tf.dispose([x, filter]);
      });

      test('leaks no tensor', () => {
        const x = randomTensor([2, 8, 8, 16], 58) as tf.Tensor4D;
        const filter = randomTensor([3, 3, 16, 32], 59) as tf.Tensor4D;
        const before = tf.memory().numTensors;
        const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.conv2d(input as tf.Tensor4D, filter, 1, 'same')))(x);
        assert.equal(tf.memory().numTensors, before + 1);
        tf.dispose([x, filter, dx]);
      });
    });

    describe('SIMD Sum over leading/middle axes', () => {
      const cases: Array<{ shape: number[]; axis: number[]; keepDims?: boolean }> = [
        { shape: [1, 32, 32, 64], axis: [0, 1, 2] },
        { shape: [1, 32, 32, 64], axis: [1, 2], keepDims: true },
        { shape: [3, 24, 20, 37], axis: [1, 2] },
        { shape: [2, 40, 60, 3], axis: [0, 1, 2] },
        { shape: [3, 3, 64, 64], axis: [0, 1] },
        { shape: [4, 1, 700, 1, 6], axis: [2] },
        { shape: [5, 1000, 5], axis: [0, 2] }, // not one block: wasm's own Sum
        { shape: [64, 1024], axis: [1] }, // innermost: wasm's own Sum
      ];
      for (const c of cases) {
        test(`matches cpu: [${c.shape}] over [${c.axis}]${c.keepDims ? ', keepDims' : ''}`, async () => {
          const error = await wasmVsCpu(() => tf.sum(randomTensor(c.shape, 21), c.axis, c.keepDims ?? false));
          assert.ok(error < 1e-5, `relative error ${error}`);
        });
      }

      test('reductionBlock finds the [outer, middle, inner] view, ignoring size-1 axes', () => {
        assert.deepEqual(reductionBlock([1, 128, 128, 64], [0, 1, 2]), { outer: 1, middle: 16384, inner: 64 });
        assert.deepEqual(reductionBlock([2, 8, 8, 3], [1, 2]), { outer: 2, middle: 64, inner: 3 });
        assert.deepEqual(reductionBlock([4, 1, 7, 1, 6], [1, 2, 3]), { outer: 4, middle: 7, inner: 6 });
        assert.equal(reductionBlock([5, 9, 5], [0, 2]), null);
      });
    });
  });
}

describe('in-place kernels on the tfjs heap', () => {
  test('are what initBackend sets up in Node; the test switch selects the copying build', () => {
    const backend = tf.backend() as unknown as WasmHeapAccess;
    assert.equal(engineKernelsMode(backend), 'in-place');
    setInPlaceKernels(false);
    try {
      assert.equal(engineKernelsMode(backend), 'copying');
    } finally {
      setInPlaceKernels(true);
    }
  });

  test('write only their outputs: tensors allocated around them keep their values; the scratch buffer is freed', () => {
    const sentinelValues = Array.from({ length: 6 }, (_, i) => tf.fill([257 + i], 7.25 + i));
    const x = randomTensor([2, 9, 11, 12], 61) as tf.Tensor4D;
    const filter = randomTensor([3, 3, 12, 20], 62) as tf.Tensor4D;
    const middle = tf.fill([1031], -3.5);
    const dataIdsBefore = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const grads = tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'))))([x, filter]);
    const summed = tf.tidy(() => tf.sum(tf.tile(x, [1, 40, 1, 1]), [0, 1, 2])); // large enough for the SIMD sum
    assert.equal((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), dataIdsBefore + 3, 'a temporary buffer was left');
    for (const [i, t] of sentinelValues.entries())
      assert.ok(
        t.dataSync().every((v) => v === 7.25 + i),
        `sentinel ${i} overwritten`,
      );
    assert.ok(
      middle.dataSync().every((v) => v === -3.5),
      'a tensor between the inputs was overwritten',
    );
    tf.dispose([...sentinelValues, x, filter, middle, ...grads, summed]);
  });
});

describe('engine-kernels.wasm', () => {
  const committed = readFileSync(join(root, 'src/engine/simd/engine-kernels.wasm'));
  const committedHeap = readFileSync(join(root, 'src/engine/simd/engine-kernels-heap.wasm'));

  test('the embedded base64 is the committed .wasm, for both builds', () => {
    assert.ok(Buffer.from(ENGINE_KERNELS_WASM_BASE64, 'base64').equals(committed));
    assert.ok(Buffer.from(ENGINE_KERNELS_HEAP_WASM_BASE64, 'base64').equals(committedHeap));
  });

  // The committed bytes come from Debian's clang 14.0.6; another clang may emit other (valid) code.
  const clang = spawnSync('clang', ['--version'], { encoding: 'utf8' });
  const skip =
    clang.status !== 0
      ? 'clang not installed (apt-get install clang lld)'
      : !/version 14\.0\.6/.test(clang.stdout)
        ? `built with clang 14.0.6, found ${clang.stdout.split('\n')[0]}`
        : false;
  test('rebuilding from the C sources reproduces the committed bytes', { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegar-wasm-'));
    try {
      execFileSync(process.execPath, [join(root, 'scripts/build-wasm-kernels.mjs'), '--out-dir', dir], { stdio: 'pipe' });
      assert.ok(readFileSync(join(dir, 'engine-kernels.wasm')).equals(committed), 'rebuilt .wasm differs: run node scripts/build-wasm-kernels.mjs');
      assert.ok(readFileSync(join(dir, 'engine-kernels-heap.wasm')).equals(committedHeap), 'rebuilt heap .wasm differs');
      assert.equal(readFileSync(join(dir, 'engine-kernels-wasm.ts'), 'utf8'), readFileSync(join(root, 'src/engine/simd/engine-kernels-wasm.ts'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
