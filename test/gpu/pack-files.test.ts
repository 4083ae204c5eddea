// The files the GPU trainer reads (scripts/gpu/pack-crops.ts, export-normal-maps.ts): what is packed
// decodes back to what TS training would have used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { halveImage, createRgbaImage } from '../../src/common/image.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { GeometrySampler } from '../../src/gar/geometry-sampler.ts';
import { samplePairedGeometries } from '../../src/gar/identity-consistency.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import { sharedModel } from '../helpers/model.ts';
import { runScript, writePreparedDataset } from '../helpers/scripts.ts';

test('pack-crops: WebP crops halved to the resolution, exclusions and a seeded subset honoured', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-pack-crops-'));
  try {
    const data = join(dir, 'ds');
    const random = new SeededRandom(3);
    const crops = Array.from({ length: 5 }, () => {
      // Smooth colour ramps with a per-crop tint: lossy WebP keeps them within a few levels.
      const crop = createRgbaImage(128, 128);
      const tint = [random.integer(200), random.integer(200), random.integer(200)];
      for (let p = 0; p < 128 * 128; p++) {
        const x = p % 128,
          y = Math.floor(p / 128);
        crop.data.set([tint[0] + x / 4, tint[1] + y / 4, tint[2] + (x + y) / 8, 255], p * 4);
      }
      return crop;
    });
    await writePreparedDataset(data, crops);
    await writeFile(join(dir, 'exclude.txt'), '# held out\nphoto1.jpg\ndir/photo3.jpg\n');
    const out = join(dir, 'pack', 'crops-64');
    const run = await runScript('scripts/gpu/pack-crops.ts', ['--data', data, '--out', out, '--resolution', '64', '--exclude', join(dir, 'exclude.txt')]);
    assert.equal(run.code, 0, run.stderr);
    const index = JSON.parse(await readFile(`${out}.json`, 'utf8'));
    const bin = await readFile(`${out}.bin`);
    assert.deepEqual(index.sources, ['dir/photo0.jpg', 'dir/photo2.jpg', 'dir/photo4.jpg'], 'excluded by base name and by source');
    assert.equal(index.excluded, 2);
    assert.equal(index.offsets.length, 4);
    assert.equal(index.offsets[3], bin.length);
    for (const [k, source] of index.sources.entries()) {
      const { data: rgb, info } = await sharp(bin.subarray(index.offsets[k], index.offsets[k + 1]))
        .raw()
        .toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height, info.channels], [64, 64, 3]);
      const expected = halveImage(crops[Number(source.match(/(\d)\.jpg/)![1])]);
      let worst = 0;
      for (let p = 0; p < 64 * 64; p++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(rgb[p * 3 + c] - expected.data[p * 4 + c]));
      assert.ok(worst <= 12, `crop ${k}: WebP q85 within 12 levels of the halved crop, got ${worst}`);
    }

    const subset = await runScript('scripts/gpu/pack-crops.ts', [
      '--data',
      data,
      '--out',
      join(dir, 'sub'),
      '--resolution',
      '64',
      '--max-count',
      '2',
      '--seed',
      '1',
    ]);
    assert.equal(subset.code, 0, subset.stderr);
    const again = await runScript('scripts/gpu/pack-crops.ts', [
      '--data',
      data,
      '--out',
      join(dir, 'sub2'),
      '--resolution',
      '64',
      '--max-count',
      '2',
      '--seed',
      '1',
    ]);
    assert.equal(again.code, 0, again.stderr);
    const [a, b] = [JSON.parse(await readFile(join(dir, 'sub.json'), 'utf8')), JSON.parse(await readFile(join(dir, 'sub2.json'), 'utf8'))];
    assert.equal(a.count, 2);
    assert.deepEqual(a.sources, b.sources, 'the same seed picks the same subset');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("export-normal-maps: sheets + exact mask decode to the sampler's maps within 2 levels; landmarks and pairs", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-normal-pool-'));
  try {
    const out = join(dir, 'maps');
    const run = await runScript('scripts/gpu/export-normal-maps.ts', ['--out', out, '--resolution', '32', '--count', '6', '--seed', '4']);
    assert.equal(run.code, 0, run.stderr);
    const index = JSON.parse(await readFile(`${out}.json`, 'utf8'));
    const bin = await readFile(`${out}.bin`);
    assert.equal(index.count, 6);
    assert.equal(index.paired, true);
    const section = (name: string) => {
      const s = index.sections.find((x: { name: string }) => x.name === name);
      return bin.subarray(s.offset, s.offset + s.length);
    };
    const { data: sheet, info } = await sharp(section('sheet0')).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [6 * 32, 32], 'one row of 6 tiles');
    const maskBytes = inflateSync(section('mask'));
    const landmarks = section('landmarks2d');

    // The same draws as the script: samplePairedGeometries from SeededRandom(seed), pair by pair.
    await initBackend();
    const sampler = new GeometrySampler(await sharedModel(), { resolution: 32 });
    const random = new SeededRandom(4);
    const geometries = [
      ...samplePairedGeometries(sampler, random, 1),
      ...samplePairedGeometries(sampler, random, 1),
      ...samplePairedGeometries(sampler, random, 1),
    ];
    const maps = sampler.renderNormalMaps(geometries);
    const expected = maps.dataSync();
    maps.dispose();
    let worst = 0,
      faces = 0;
    for (let k = 0; k < 6; k++) {
      for (let p = 0; p < 32 * 32; p++) {
        const bit = k * 1024 + p,
          face = (maskBytes[bit >> 3] >> (bit & 7)) & 1;
        const e = expected.subarray((k * 1024 + p) * 3, (k * 1024 + p) * 3 + 3);
        assert.equal(face, e[0] + e[1] + e[2] > 1e-6 ? 1 : 0, `map ${k} pixel ${p}: mask`);
        if (!face) continue;
        faces++;
        const s = ((p >> 5) * info.width + k * 32 + (p & 31)) * 3;
        for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(sheet[s + c] - Math.round(e[c] * 255)));
      }
      for (let i = 0; i < 136; i++) {
        const half = landmarks.readUInt16LE((k * 136 + i) * 2);
        const value = ((half & 0x3ff) | 0x400) * 2 ** (((half >> 10) & 0x1f) - 25);
        assert.ok(Math.abs(value - geometries[k].landmarks2d[i]) <= 0.02, `map ${k} landmark value ${i}: ${value} vs ${geometries[k].landmarks2d[i]}`);
      }
    }
    assert.ok(faces > 6 * 200, `faces cover the maps (${faces} pixels)`);
    assert.ok(worst <= 2, `near-lossless: face pixels within 2 levels, got ${worst}`);
    assert.deepEqual(geometries[0].identity, geometries[1].identity, 'maps 0 and 1 are a pair');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
