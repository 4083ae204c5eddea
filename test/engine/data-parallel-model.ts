// A tiny conv model for the data-parallel tests (loaded by worker threads via its path).
import * as tf from '@tensorflow/tfjs-core';
import type { DataParallelModel } from '../../bench/data-parallel.ts';
import { randomTensor } from './helpers.ts';

export function createModel(options: { seed?: number } = {}): DataParallelModel {
  const seed = options.seed ?? 1;
  const variables = [
    tf.variable(tf.mul(randomTensor([3, 3, 2, 4], seed), 0.5)),
    tf.variable(tf.mul(randomTensor([4], seed + 1), 0.1)),
    tf.variable(tf.mul(randomTensor([3, 3, 4, 3], seed + 2), 0.3)),
  ];
  const [w1, b1, w2] = variables as [tf.Variable<tf.Rank.R4>, tf.Variable<tf.Rank.R1>, tf.Variable<tf.Rank.R4>];
  return {
    variables,
    loss: (batch) =>
      tf.tidy(() => {
        const h = tf.leakyRelu(tf.add(tf.conv2d(batch.x as tf.Tensor4D, w1, 1, 'same'), b1), 0.2) as tf.Tensor4D;
        const y = tf.conv2d(h, w2, 2, 'same');
        return tf.mean(tf.square(tf.sub(y, batch.target!)));
      }),
    dispose: () => tf.dispose(variables),
  };
}
