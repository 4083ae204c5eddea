import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
await initBackend({ backend: 'wasm' });
const t = (f: () => tf.Tensor, n = 3) => { tf.tidy(() => f().dataSync()); const s = performance.now(); for (let i = 0; i < n; i++) tf.tidy(() => f().dataSync()); return ((performance.now() - s) / n).toFixed(1); };
const x = tf.randomNormal([1, 128, 128, 64]) as tf.Tensor4D, dy = tf.randomNormal([1, 128, 128, 64]) as tf.Tensor4D;
const viaKernel = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 64, 64] } as never) as tf.Tensor;
const viaConv = () => {
  const xT = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D; // [Cin, H, W, N]
  const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [oh, ow, N, Cout]
  const out = tf.conv2d(xT, f, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]); // [Cin, 3, 3, Cout]
  return tf.transpose(out, [1, 2, 0, 3]);
};
const fwd = () => tf.conv2d(x, tf.randomNormal([3, 3, 64, 64]) as tf.Tensor4D, 1, 'same');
console.log('fwd', t(fwd), 'kernel', t(viaKernel), 'conv', t(viaConv, 1));
const a = tf.tidy(viaKernel), b = tf.tidy(viaConv);
console.log('maxdiff', tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], tf.max(tf.abs(a)).dataSync()[0]);
// parts of kernel
const xT = tf.pad(tf.transpose(x, [3, 0, 1, 2]), [[0, 0], [0, 0], [1, 1], [1, 1]]);
console.log('transpose+pad', t(() => tf.pad(tf.transpose(x, [3, 0, 1, 2]), [[0, 0], [0, 0], [1, 1], [1, 1]])));
const win = () => { const ws = []; for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) ws.push(tf.reshape(tf.slice(xT, [0, 0, a, b], [64, 1, 128, 128]), [64, -1])); return tf.concat(ws, 0); };
console.log('windows', t(win));
const W = tf.tidy(win); const d2 = tf.reshape(dy, [-1, 64]);
console.log('matmul', t(() => tf.matMul(W, d2)));
console.log(tf.getBackend())
