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
    variables.restoreLockedPose();
    check();
  } finally {
    variables.dispose();
  }
  assert.throws(() => poseVariableValues({ ...pose, translationMm: [0, 0, 900] }, frame), /in front of the camera/);
});
