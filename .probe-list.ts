import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
const cpu = new Set(tf.getKernelsForBackend('cpu').map(k => k.kernelName));
const wasm = new Set(tf.getKernelsForBackend('wasm').map(k => k.kernelName));
console.log([...cpu].filter(k => !wasm.has(k)).sort().join(' '));
