// The library's live-video tracker (Reconstructor.createTracker) on frames made from an example
// photo moved across a 640×480 frame, with the shipped encoder; and the GAR path's per-stage progress.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Reconstructor, ModelUnavailableError, UsageError, type TrackedFace } from '../../src/index.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { chooseRenderer, readGarModelFiles } from '../../src/io/node/gar-models.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { evaluateMorphableModel, type MorphableModel } from '../../src/morphable/morphable-model.ts';
import { sharedModel } from '../helpers/model.ts';
import { photosDir } from '../helpers/shared-data.ts';
import { writeTinyGarModels } from '../cli/reconstruct-gar-fixtures.ts';
import { frameWithFaceAt, loadFacePicture, type FacePicture } from '../helpers/moving-face.ts';

const FRAME_WIDTH = 640,
  FRAME_HEIGHT = 480;
let model: MorphableModel;
let picture: FacePicture;
const frameAt = (offsetPx: number) => frameWithFaceAt(picture, offsetPx, FRAME_WIDTH, FRAME_HEIGHT);

before(async () => {
  await initBackend({ backend: 'wasm' });
  model = await sharedModel();
  picture = await loadFacePicture(join(photosDir, '000002.jpg'), 384);
});

test('a tracker follows a moving face: the mesh moves with it, the identity is a running mean, no tensors leak', { timeout: 120_000 }, async () => {
  const choice = await chooseRenderer({ renderer: 'gar' });
  const gar = await readGarModelFiles({ garDir: choice.garDir!, encoderDir: choice.encoderDir, shapeEncoderDir: choice.shapeEncoderDir });
  const reconstructor = await Reconstructor.create({ model, detector: await loadDetectorModelFiles(), gar });
  const tracker = reconstructor.createTracker({ encoderInterval: 1 });
  try {
    const offsets = [0, 30, 60, 30, 0, -30, -60];
    const frames: TrackedFace[] = [];
    let tensorsAfterFirst = 0;
    for (const [k, offset] of offsets.entries()) {
      const tracked = await tracker.track(frameAt(offset));
      assert.ok(tracked, `frame ${k}: face found`);
      if (k === 1) tensorsAfterFirst = tf.memory().numTensors;
      frames.push(tracked);
    }
    assert.equal(tf.memory().numTensors, tensorsAfterFirst, 'tensors leaked from frame to frame');
    assert.deepEqual(
      frames.map((f) => f.followed),
      [false, true, true, true, true, true, true],
      'BlazeFace on the first frame only, then FaceMesh follows',
    );
    assert.deepEqual(
      frames.map((f) => f.identityFrames),
      [1, 2, 3, 4, 5, 6, 7],
    );
    // Identity: the mean of the frames so far, so frame n moves it by about 1/n of the newcomer's difference.
    const step = (k: number) => Math.hypot(...Array.from(frames[k].identity, (v, i) => v - frames[k - 1].identity[i]));
    assert.ok(step(6) < step(1), `identity steps shrink: ${step(1).toFixed(4)} → ${step(6).toFixed(4)}`);
    for (const [k, f] of frames.entries()) {
      assert.equal(f.vertices.length, model.vertexCount * 3);
      const errorPercent = (100 * f.landmarkErrorPx) / f.interOcularPx;
      assert.ok(errorPercent < 10, `frame ${k}: landmark error ${errorPercent.toFixed(1)} % of the eye distance`);
    }
    // 30 px of the frame at the face's depth: the mesh's x moves the same way, by centimetres.
    for (let k = 1; k < offsets.length; k++) {
      const movedMm = frames[k].translationMm[0] - frames[k - 1].translationMm[0];
      assert.ok(
        Math.sign(movedMm) === Math.sign(offsets[k] - offsets[k - 1]) && Math.abs(movedMm) > 10,
        `frame ${k}: face moved ${offsets[k] - offsets[k - 1]} px, mesh ${movedMm.toFixed(1)} mm`,
      );
    }

    // A frame without a face: none tracked; the next with a face is searched for afresh.
    assert.equal(
      await tracker.track({ width: FRAME_WIDTH, height: FRAME_HEIGHT, data: new Uint8ClampedArray(FRAME_WIDTH * FRAME_HEIGHT * 4).fill(90) }),
      undefined,
    );
    assert.equal((await tracker.track(frameAt(0)))?.followed, false);
    tracker.reset();
    assert.equal(tracker.identityFrames, 0);
    assert.equal((await tracker.track(frameAt(0)))?.identityFrames, 1);
    assert.throws(() => reconstructor.createTracker({ landmarkSteps: -1 }), UsageError);
    assert.throws(() => reconstructor.createTracker({ encoderInterval: 0 }), UsageError);

    // The default runs the encoder on the frame where the face is found, then on every 4th; the
    // frames between add nothing to the identity, yet the mesh still follows the face.
    const everyFourth = reconstructor.createTracker();
    try {
      const tracked: TrackedFace[] = [];
      for (const offset of offsets) tracked.push((await everyFourth.track(frameAt(offset)))!);
      assert.deepEqual(
        tracked.map((f) => f.encoded),
        [true, false, false, false, true, false, false],
      );
      assert.deepEqual(
        tracked.map((f) => f.identityFrames),
        [1, 1, 1, 1, 2, 2, 2],
      );
      assert.deepEqual(tracked[2].identity, tracked[1].identity, 'identity unchanged between encoder frames');
      assert.notDeepEqual(tracked[4].identity, tracked[3].identity, 'identity moves when the encoder runs');
      for (let k = 1; k < offsets.length; k++) {
        const movedMm = tracked[k].translationMm[0] - tracked[k - 1].translationMm[0];
        assert.ok(
          Math.sign(movedMm) === Math.sign(offsets[k] - offsets[k - 1]) && Math.abs(movedMm) > 10,
          `every 4th, frame ${k}: mesh moved ${movedMm.toFixed(1)} mm`,
        );
        const errorPercent = (100 * tracked[k].landmarkErrorPx) / tracked[k].interOcularPx;
        assert.ok(errorPercent < 10, `every 4th, frame ${k}: landmark error ${errorPercent.toFixed(1)} %`);
      }
      // The cached identity shape plus this frame's expression is the model evaluated afresh.
      const last = tracked[offsets.length - 1];
      const fresh = evaluateMorphableModel(model, last.identity, last.expressionWeights);
      let worstMm = 0;
      for (let i = 0; i < fresh.length; i++) worstMm = Math.max(worstMm, Math.abs(fresh[i] - last.vertices[i]));
      assert.ok(worstMm < 1e-3, `vertices match a fresh evaluation: ${worstMm} mm`);
    } finally {
      everyFourth.dispose();
    }
  } finally {
    tracker.dispose();
    reconstructor.dispose();
  }
});

test('the GAR path reports its landmark stage and GAR steps as stages of their own; tracking needs an encoder', async () => {
  const work = await mkdtemp(join(tmpdir(), 'facegar-tracker-'));
  try {
    await writeTinyGarModels(model, join(work, 'gar'), join(work, 'encoder'));
    const detector = await loadDetectorModelFiles();
    const reconstructor = await Reconstructor.create({
      model,
      detector,
      gar: await readGarModelFiles({ garDir: join(work, 'gar'), encoderDir: join(work, 'encoder') }),
    });
    const events: { stage: string; stageFraction?: number }[] = [];
    try {
      await reconstructor.reconstruct(frameAt(0), {
        garRefine: { landmarkStageSteps: 60, steps: 2, shadingSteps: 0, settleSteps: 0 },
        onProgress: (e) => events.push({ stage: e.stage, stageFraction: e.stageFraction }),
      });
    } finally {
      reconstructor.dispose();
    }
    const stages = events.map((e) => e.stage).filter((s, i, all) => s !== all[i - 1]);
    assert.deepEqual(stages, ['detect', 'landmarks', 'gar']);
    assert.deepEqual(
      events.filter((e) => e.stage === 'gar').map((e) => e.stageFraction),
      [0.5, 1],
    );
    assert.equal(events.filter((e) => e.stage === 'landmarks').at(-1)?.stageFraction, 1);
    const withoutEncoder = await Reconstructor.create({ model, detector, gar: await readGarModelFiles({ garDir: join(work, 'gar') }) });
    assert.throws(() => withoutEncoder.createTracker(), ModelUnavailableError);
    withoutEncoder.dispose();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
