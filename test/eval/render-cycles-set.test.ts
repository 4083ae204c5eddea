// scripts/render-cycles-set.py (Blender Cycles) on one tiny face, when Blender is installed:
// its files read as a test set, and its vertices are the model evaluated at its coefficients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateMorphableModel } from '../../src/morphable/morphable-model.ts';
import { syntheticSetSource } from '../../src/io/node/synthetic-set-files.ts';
import { sharedModel } from '../helpers/model.ts';
import { modelDir, repositoryRoot } from '../helpers/shared-data.ts';

const blender = spawnSync('blender', ['--version'], { encoding: 'utf8' });
const skip = blender.status === 0 ? false : 'blender is not on PATH (apt-get install blender python3-numpy to run this test)';

test('render-cycles-set.py: one 64² face whose truth reads back and matches the model', { skip }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'facegar-cycles-'));
  try {
    const run = spawnSync(
      'blender',
      [
        '-b',
        '--python',
        join(repositoryRoot, 'scripts/render-cycles-set.py'),
        '--',
        '--model',
        modelDir,
        '--out',
        out,
        '--count',
        '1',
        '--seed',
        '3',
        '--size',
        '64',
        '--samples',
        '2',
        '--threads',
        '1',
      ],
      { encoding: 'utf8', timeout: 300_000 },
    );
    assert.equal(run.status, 0, run.stdout.slice(-800) + run.stderr.slice(-800));
    const model = await sharedModel();
    const source = await syntheticSetSource(out, model);
    assert.equal(source.count, 1);
    const face = await source.face(0);
    assert.deepEqual([face.image.width, face.image.height], [64, 64]);
    const { truth } = face;
    const expected = evaluateMorphableModel(model, truth.identity, truth.expression);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - truth.verticesModel[i]));
    assert.ok(worst < 1e-2, `Blender's vertices are the model's at its coefficients (largest difference ${worst} mm)`);
    assert.ok(Math.abs(truth.anglesDeg[1]) <= 75 && truth.focalPx >= 64 && truth.focalPx <= 3.5 * 64);
    const inside = Array.from(
      { length: 68 },
      (_, k) => truth.landmarks2d[2 * k] >= 0 && truth.landmarks2d[2 * k] < 64 && truth.landmarks2d[2 * k + 1] >= 0 && truth.landmarks2d[2 * k + 1] < 64,
    );
    assert.ok(inside.every(Boolean), 'the face is in the frame');
    assert.equal(truth.landmarkVisible?.length, 68);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('render-cycles-set.py --photos-per-person 2: faces 0 and 1 are one person in two scenes, face 2 another', { skip }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'facegar-cycles-persons-'));
  try {
    const args = ['--model', modelDir, '--out', out, '--count', '3', '--seed', '5', '--size', '48', '--samples', '1', '--threads', '1'];
    const run = spawnSync('blender', ['-b', '--python', join(repositoryRoot, 'scripts/render-cycles-set.py'), '--', ...args, '--photos-per-person', '2'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(run.status, 0, run.stdout.slice(-800) + run.stderr.slice(-800));
    const source = await syntheticSetSource(out, await sharedModel());
    const faces = await Promise.all([0, 1, 2].map((i) => source.face(i)));
    assert.deepEqual(faces[1].truth.identity, faces[0].truth.identity, 'one person');
    assert.notDeepEqual(faces[2].truth.identity, faces[0].truth.identity, 'the next person');
    assert.notDeepEqual(faces[1].truth.anglesDeg, faces[0].truth.anglesDeg, 'each photo its own pose');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
