import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { FitVariables } from '../../src/fit/fit-variables.ts';
import { poseVariableValues } from '../../src/fit/fixed-pose.ts';
import { currentPose, type FitFrame } from '../../src/fit/landmark-stage.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';

test('a locked pose is the given camera, and an optimiser step cannot move it', async () => {
  await initBackend({ backend: 'cpu' });
  const frame: FitFrame = { focalPriorPx: 800, principalPointPx: [256, 256], initialDepthMm: 700, pivotMm: [1, 20, 60], faceSizePx: 200 };
  const pose = { rotation: rotationFromEuler(0.1, -0.7, 0.05), translationMm: [12, -30, -900] as [number, number, number], focalPx: 1234 };
  const variables = new FitVariables({ modeCount: 4, yaw: 0, direction: [0, 0] });
  try {
    variables.lockPose(poseVariableValues(pose, frame));
    const check = () => {
      const now = currentPose(variables, frame);
      for (let i = 0; i < 9; i++) assert.ok(Math.abs(now.rotation[i] - pose.rotation[i]) < 1e-6, `rotation ${i}`);
      for (let i = 0; i < 3; i++) assert.ok(Math.abs(now.translationMm[i] - pose.translationMm[i]) < 1e-3, `translation ${i}: ${now.translationMm[i]}`);
      assert.ok(Math.abs(now.focalPx - pose.focalPx) < 1e-3);
    };
    check();
    const optimizer = tf.train.adam(0.5);
    optimizer.minimize(() => tf.addN(variables.all().map((v) => tf.sum(tf.square(tf.sub(v, 3))))) as tf.Scalar, false, variables.all());
    optimizer.dispose();
    assert.notEqual(currentPose(variables, frame).focalPx.toFixed(3), pose.focalPx.toFixed(3), 'the step moved the free variables');
    variables.restoreLocked();
    check();
  } finally {
    variables.dispose();
  }
  assert.throws(() => poseVariableValues({ ...pose, translationMm: [0, 0, 900] }, frame), /in front of the camera/);
});

test('a locked identity survives an optimiser step; expression and pose stay free', async () => {
  await initBackend({ backend: 'cpu' });
  const variables = new FitVariables({ modeCount: 5, yaw: 0, direction: [0, 0] });
  try {
    const identity = Float32Array.from([0.5, -1.25, 2]);
    variables.lockIdentity(identity);
    const optimizer = tf.train.adam(0.5);
    optimizer.minimize(() => tf.addN(variables.all().map((v) => tf.sum(tf.square(tf.sub(v, 3))))) as tf.Scalar, false, variables.all());
    optimizer.dispose();
    const moved = Array.from(variables.coefficients.dataSync());
    assert.notDeepEqual(moved.slice(0, 3), Array.from(identity), 'the step moved the identity before the restore');
    variables.restoreLocked();
    const after = Array.from(variables.coefficients.dataSync());
    assert.deepEqual(after.slice(0, 3), Array.from(identity));
    assert.deepEqual(after.slice(3), moved.slice(3), 'the expression coefficients keep their step');
    assert.ok(after[3] > 0.4 && Math.abs(variables.angles.dataSync()[1]) > 0.4, 'expression and yaw moved towards 3');
  } finally {
    variables.dispose();
  }
  const variables2 = new FitVariables({ modeCount: 2, yaw: 0, direction: [0, 0] });
  try {
    assert.throws(() => variables2.lockIdentity(Float32Array.from([1, 2, 3])), /at most 2 finite/);
    assert.throws(() => variables2.lockIdentity(Float32Array.from([Number.NaN])), /finite/);
  } finally {
    variables2.dispose();
  }
});
