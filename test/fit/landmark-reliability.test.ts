import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessDetectorLandmarks, blendLandmarks, DEFAULT_LANDMARK_RELIABILITY_CONFIG, meshYawDeg, noseShift } from '../../src/fit/landmark-reliability.ts';

/** iBUG-68 points of a face whose outer eye corners sit at x = 40 and 60 (y 50) and nose tip at `noseX`. */
function landmarks(noseX: number): Float32Array {
  const points = new Float32Array(136);
  for (let k = 0; k < 68; k++) {
    points[2 * k] = 40 + (k % 20);
    points[2 * k + 1] = 40 + k;
  }
  points.set([40, 50], 72); // 36: image-left outer eye corner
  points.set([60, 50], 90); // 45: image-right outer eye corner
  points.set([noseX, 62], 60); // 30: nose tip
  return points;
}

/** A FaceMesh mesh whose outer eye corners (33, 263) are `width` px apart in x and `depth` apart in z (right minus left). */
function mesh(width: number, depth: number): Float32Array {
  const m = new Float32Array(468 * 3);
  m.set([100, 100, 0], 3 * 33);
  m.set([100 + width, 100, depth], 3 * 263);
  return m;
}

test('meshYawDeg: the eye-corner line turned out of the image plane, signed; noseShift in half eye-widths', () => {
  assert.ok(Math.abs(meshYawDeg(mesh(50, 0))) < 1e-9);
  assert.ok(Math.abs(meshYawDeg(mesh(50, 50)) - 45) < 1e-4);
  assert.ok(Math.abs(meshYawDeg(mesh(50, -50 * Math.sqrt(3))) + 60) < 1e-4);
  assert.ok(Math.abs(noseShift(landmarks(50))) < 1e-9);
  assert.ok(Math.abs(noseShift(landmarks(60)) - 1) < 1e-6, 'at the right eye corner');
  assert.ok(Math.abs(noseShift(landmarks(35)) - 1.5) < 1e-6, 'half an eye-width beyond the left corner');
});

test('assessDetectorLandmarks: reliable frontal, partial at 45°, all replaced past 60°, at a low face score or an implausible nose', () => {
  const frontal = assessDetectorLandmarks({ landmarks68: landmarks(51), meshScore: 0.99, mesh468: mesh(50, 5) }, 3);
  assert.deepEqual([frontal.source, frontal.reliable, frontal.reasons], ['facemesh', true, []]);
  assert.equal(
    frontal.keepDetector.reduce((s, k) => s + k, 0),
    68,
  );
  assert.ok(Math.abs(frontal.meshYawDeg! - (Math.atan2(5, 50) * 180) / Math.PI) < 1e-9);

  // FaceMesh says 40°, the encoder 50°: the larger counts; jaw line and brows (0–26) are replaced.
  const partial = assessDetectorLandmarks({ landmarks68: landmarks(55), meshScore: 0.99, mesh468: mesh(50, 42) }, -50);
  assert.equal(partial.source, 'facemesh+encoder');
  assert.equal(partial.reliable, false);
  assert.match(partial.reasons.join(), /turned 50°/);
  assert.deepEqual(Array.from(partial.keepDetector.slice(0, 27)), new Array(27).fill(0));
  assert.deepEqual(Array.from(partial.keepDetector.slice(27)), new Array(41).fill(1));

  for (const [evidence, encoderYaw, reason] of [
    [{ landmarks68: landmarks(52), meshScore: 0.99, mesh468: mesh(50, 100) }, 20, /turned 63°/],
    [{ landmarks68: landmarks(52), meshScore: 0.3 }, 10, /face score 0.30/],
    [{ landmarks68: landmarks(66), meshScore: 0.99 }, 10, /nose tip 1.60/],
  ] as const) {
    const a = assessDetectorLandmarks(evidence, encoderYaw);
    assert.equal(a.source, 'encoder', JSON.stringify(a.reasons));
    assert.match(a.reasons.join(), reason);
    assert.equal(
      a.keepDetector.reduce((s, k) => s + k, 0),
      0,
    );
  }
  // Without a pose-robust source the detector's points are all there is: still said to be doubtful.
  const alone = assessDetectorLandmarks({ landmarks68: landmarks(52), meshScore: 0.3 });
  assert.deepEqual([alone.source, alone.reliable, alone.encoderYawDeg], ['facemesh', false, undefined]);
  assert.equal(
    alone.keepDetector.reduce((s, k) => s + k, 0),
    68,
  );
  // Thresholds are configurable.
  assert.equal(assessDetectorLandmarks({ landmarks68: landmarks(52), meshScore: 0.3 }, 0, { minMeshScore: 0.2 }).source, 'facemesh');
  assert.equal(DEFAULT_LANDMARK_RELIABILITY_CONFIG.partialYawDeg, 45);
});

test('blendLandmarks takes each point from the source its mask names', () => {
  const a = new Float32Array(136).fill(1),
    b = new Float32Array(136).fill(2);
  const keep = new Uint8Array(68);
  keep[3] = 1;
  const blended = blendLandmarks(a, b, keep);
  assert.deepEqual([blended[6], blended[7], blended[8], blended[0]], [1, 1, 2, 2]);
});
