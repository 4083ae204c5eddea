import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import {
  Discriminator,
  GAR_PRESETS,
  Generator,
  MappingNetwork,
  SeededRandom,
  SynthesisLayer,
  ToRgbLayer,
  NormalInjection,
  formatModelSummary,
  minibatchStddev,
  modulatedConv2d,
  garNetworkConfig,
  decodeSafetensors,
  encodeSafetensors,
  blockResolutions,
  channelsAt,
} from '../../src/gar/index.ts';

before(async () => {
  await initBackend({ backend: 'wasm' });
});
const tiny = GAR_PRESETS.tiny;
const randomTensor = (shape: number[], seed: number) => tf.tensor(new SeededRandom(seed).normals(shape.reduce((a, b) => a * b, 1)), shape);

describe('modulatedConv2d', () => {
  test('matches a hand-computed 1×1 case, with and without demodulation', () => {
    tf.tidy(() => {
      // x: one pixel, 2 channels [1, 2]; weight 1×1 [[1, 2], [3, 4]] (in × out); styles [2, 0.5].
      const x = tf.tensor4d([1, 2], [1, 1, 1, 2]);
      const weight = tf.tensor4d([1, 2, 3, 4], [1, 1, 2, 2]);
      const styles = tf.tensor2d([2, 0.5], [1, 2]);
      // modulated weights: row i scaled by s_i → [[2, 4], [1.5, 2]]; y = [1·2 + 2·1.5, 1·4 + 2·2] = [5, 8]
      const plain = modulatedConv2d(x, weight, styles, { demodulate: false }).dataSync();
      assert.deepEqual(Array.from(plain), [5, 8]);
      // demod: column norms sqrt(4 + 2.25) = 2.5, sqrt(16 + 4) = √20
      const demod = modulatedConv2d(x, weight, styles, { demodulate: true }).dataSync();
      assert.ok(Math.abs(demod[0] - 5 / 2.5) < 1e-5 && Math.abs(demod[1] - 8 / Math.sqrt(20)) < 1e-5, `${demod}`);
    });
  });

  test('demodulation gives unit-variance outputs for unit-variance inputs, whatever the style scale', () => {
    tf.tidy(() => {
      const x = randomTensor([2, 16, 16, 32], 1) as tf.Tensor4D;
      const weight = randomTensor([3, 3, 32, 16], 2) as tf.Tensor4D;
      const styles = tf.mul(tf.abs(randomTensor([2, 32], 3)), 7) as tf.Tensor2D;
      const y = modulatedConv2d(x, weight, styles, { demodulate: true });
      const variance = tf.moments(tf.slice(y, [0, 1, 1, 0], [2, 14, 14, 16])).variance.dataSync()[0];
      assert.ok(variance > 0.6 && variance < 1.5, `variance ${variance}`);
      const up = modulatedConv2d(x, weight, styles, { demodulate: true, up: 2 });
      assert.deepEqual(up.shape, [2, 32, 32, 16]);
    });
  });
});

describe('layers and networks (tiny preset)', () => {
  test('every layer has the shape its config states', () => {
    const random = new SeededRandom(1);
    const layer = new SynthesisLayer({ wDim: 8, inChannels: 4, outChannels: 6, resolution: 8, up: 2, injectionHiddenChannels: 3 }, random);
    const toRgb = new ToRgbLayer({ wDim: 8, inChannels: 6, outChannels: 3 }, random);
    tf.tidy(() => {
      const y = layer.apply(randomTensor([2, 4, 4, 4], 2) as tf.Tensor4D, randomTensor([2, 8], 3) as tf.Tensor2D, tf.zeros([2, 8, 8, 3]), { kind: 'none' });
      assert.deepEqual(y.shape, [2, 8, 8, 6]);
      assert.deepEqual(toRgb.apply(y, randomTensor([2, 8], 4) as tf.Tensor2D).shape, [2, 8, 8, 3]);
    });
    assert.match(layer.describe(), /8² 4→6 up×2/);
    for (const owner of [layer, toRgb]) for (const [, v] of owner.namedParameters()) v.dispose();
  });

  test('generator: image shape, numWs from blocks, deterministic for a seed, no tensor leak', () => {
    const g = new Generator(tiny, 5),
      g2 = new Generator(tiny, 5);
    assert.equal(g.numWs, 8); // 4² (1 conv) + 3 blocks × 2 convs + final toRGB
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const normals = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const z = randomTensor([2, tiny.zDim], 7) as tf.Tensor2D;
      const a = g.generate(normals, z),
        b = g2.generate(normals, z);
      assert.deepEqual(a.shape, [2, 32, 32, 3]);
      assert.equal(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], 0);
    });
    assert.equal(tf.memory().numTensors, before);
    assert.match(formatModelSummary(g), /synthesis\.b32\.conv1[\s\S]*total\s+\d+/);
    g.dispose();
    g2.dispose();
  });

  test('normal injection: changing the normal map changes the image; same normals, same image', () => {
    const g = new Generator(tiny, 9);
    tf.tidy(() => {
      const z = randomTensor([1, tiny.zDim], 1) as tf.Tensor2D;
      const flat = tf.concat([tf.fill([1, 32, 16, 3], 0.5), tf.zeros([1, 32, 16, 3])], 2) as tf.Tensor4D;
      const other = tf.concat([tf.zeros([1, 32, 16, 3]), tf.fill([1, 32, 16, 3], 0.9)], 2) as tf.Tensor4D;
      const a = g.generate(flat, z),
        b = g.generate(other, z),
        again = g.generate(flat, z);
      assert.ok(tf.mean(tf.abs(tf.sub(a, b))).dataSync()[0] > 1e-3);
      assert.equal(tf.max(tf.abs(tf.sub(a, again))).dataSync()[0], 0);
    });
    const injection = new NormalInjection({ normalChannels: 3, hiddenChannels: 4, featureChannels: 5 }, new SeededRandom(1));
    tf.tidy(() => {
      const { scale, bias } = injection.apply(tf.ones([1, 8, 8, 3]));
      assert.deepEqual(scale.shape, [1, 8, 8, 5]);
      assert.deepEqual(bias.shape, [1, 8, 8, 5]);
    });
    g.dispose();
    for (const [, v] of injection.namedParameters()) v.dispose();
  });

  test('mapping: truncation ψ = 0 gives w̄, ψ = 1 the raw w; w̄ tracks training batches; style mixing splits ws', () => {
    const mapping = new MappingNetwork({ zDim: 16, wDim: 8, layers: 2, lrMultiplier: 0.01, wAvgBeta: 0.5 }, new SeededRandom(2));
    tf.tidy(() => {
      const z = randomTensor([3, 16], 4) as tf.Tensor2D;
      const w = mapping.apply(z, { updateWAvg: true });
      const expected = tf.mul(tf.mean(w, 0), 0.5);
      assert.ok(tf.max(tf.abs(tf.sub(mapping.wAvg, expected))).dataSync()[0] < 1e-6);
      const truncated = mapping.apply(z, { truncationPsi: 0 });
      assert.ok(tf.max(tf.abs(tf.sub(truncated, tf.tile(tf.expandDims(mapping.wAvg, 0), [3, 1])))).dataSync()[0] < 1e-6);
      const half = mapping.apply(z, { truncationPsi: 0.5 });
      assert.ok(tf.max(tf.abs(tf.sub(half, tf.add(tf.mul(w, 0.5), tf.mul(mapping.wAvg, 0.5))))).dataSync()[0] < 1e-5);
    });
    const g = new Generator(tiny, 3);
    tf.tidy(() => {
      const ws = g.mapLatents(randomTensor([2, tiny.zDim], 1) as tf.Tensor2D, { mixingZ: randomTensor([2, tiny.zDim], 2) as tf.Tensor2D, mixingCutoff: 3 });
      assert.deepEqual(ws.shape, [2, 8, tiny.wDim]);
      const rows = tf.unstack(ws, 1);
      assert.equal(tf.max(tf.abs(tf.sub(rows[0], rows[2]))).dataSync()[0], 0);
      assert.ok(tf.max(tf.abs(tf.sub(rows[2], rows[3]))).dataSync()[0] > 0);
      assert.equal(tf.max(tf.abs(tf.sub(rows[3], rows[7]))).dataSync()[0], 0);
    });
    g.dispose();
    for (const [, v] of mapping.namedParameters()) v.dispose();
  });

  test('discriminator: [N, 1] logits; minibatch stddev appends the group std', () => {
    const d = new Discriminator(tiny, 1);
    tf.tidy(() => {
      assert.deepEqual(d.apply(randomTensor([4, 32, 32, 3], 1) as tf.Tensor4D).shape, [4, 1]);
      // Group of 2 samples, constant maps a and b: std per feature = |a − b| / 2.
      const x = tf.concat([tf.fill([1, 2, 2, 1], 1), tf.fill([1, 2, 2, 1], 3)], 0) as tf.Tensor4D;
      const y = minibatchStddev(x, 2);
      assert.deepEqual(y.shape, [2, 2, 2, 2]);
      assert.ok(Math.abs(tf.slice(y, [0, 0, 0, 1], [2, 2, 2, 1]).dataSync()[0] - 1) < 1e-3);
    });
    assert.match(formatModelSummary(d), /epilogue\.out/);
    d.dispose();
  });

  test('presets: resolutions and validation', () => {
    assert.equal(garNetworkConfig('base').resolution, 128);
    assert.equal(garNetworkConfig('paper').resolution, 256);
    assert.throws(() => garNetworkConfig('huge'), /one of tiny, small, base, paper/);
    assert.throws(() => garNetworkConfig('tiny', { resolution: 48 }), /power of two/);
    // CPU presets stay CPU-sized: ≤ 64 channels anywhere, 32 at the top of tiny/small, w 128–256, ≤ 4 mapping layers.
    for (const name of ['tiny', 'small', 'base'] as const) {
      const config = garNetworkConfig(name);
      for (const r of blockResolutions(config)) assert.ok(channelsAt(config, r) <= 64, `${name} ${r}²: ${channelsAt(config, r)} channels`);
      assert.ok(config.wDim >= 128 && config.wDim <= 256 && config.mappingLayers >= 2 && config.mappingLayers <= 4, name);
    }
    assert.equal(channelsAt(garNetworkConfig('tiny'), 32), 32);
    assert.equal(channelsAt(garNetworkConfig('small'), 64), 32);
    assert.equal(channelsAt(garNetworkConfig('base'), 128), 64);
    assert.equal(channelsAt(garNetworkConfig('paper'), 256), 128);
  });

  test('safetensors round trip', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'a', shape: [2, 2], values: new Float32Array([1, 2, 3, 4]) },
        { name: 'b', shape: [1], values: new Float32Array([5]) },
      ],
      { k: 'v' },
    );
    const { tensors, metadata } = decodeSafetensors(bytes);
    assert.deepEqual(Array.from(tensors.get('a')!.values), [1, 2, 3, 4]);
    assert.deepEqual(tensors.get('b')!.shape, [1]);
    assert.equal(metadata.k, 'v');
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + headerLength) % 8, 0);
  });

  test('safetensors: float16 tensors (as PyTorch writes them) read back as the float32 values they denote', () => {
    const halves = [0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x8000];
    const denoted = [1, -2, 0.333251953125, 2 ** -24, 65504, -0];
    const build = (dtype: string, dataBytes: number) => {
      const header = new TextEncoder().encode(JSON.stringify({ h: { dtype, shape: [halves.length], data_offsets: [0, dataBytes] } }));
      const out = new Uint8Array(8 + header.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
      out.set(header, 8);
      halves.forEach((bits, i) => new DataView(out.buffer).setUint16(8 + header.length + 2 * i, bits, true));
      return out;
    };
    const values = decodeSafetensors(build('F16', 2 * halves.length)).tensors.get('h')!.values;
    assert.ok(values instanceof Float32Array);
    assert.deepEqual(Array.from(values), denoted);
    assert.throws(() => decodeSafetensors(build('I16', 2 * halves.length)), /dtype I16 is not supported/);
    assert.throws(() => decodeSafetensors(build('F16', 4 * halves.length)), /data offsets do not match/);
  });
});
