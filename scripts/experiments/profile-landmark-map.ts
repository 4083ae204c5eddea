/**
 * Experiment: a second linear landmark map for turned faces. Fits the global map as
 * scripts/fit-mesh-landmark-map.ts does, and a profile map on the training views whose FaceMesh
 * yaw is at least T − 10°, then scores the pair (the profile map from FaceMesh's |yaw| ≥ T) by
 * |yaw| bin on the tuning folders. Reads the detections that fit-mesh-landmark-map.ts --cache kept.
 *
 *   node --import tsx scripts/experiments/profile-landmark-map.ts --cache CACHE.json --train DIR[,DIR] --eval DIR[,DIR]
 *
 * The folders must be the ones the cache was made with (the same paths; training folders with
 * their mirrored views).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { applyMeshLandmarkMap, fitMeshLandmarkMap } from '../../src/detect/mesh-landmark-map.ts';
import { aflwNme, aflwYawBucket } from '../../src/eval/aflw2000-protocol.ts';
import { meshYawDeg } from '../../src/fit/landmark-reliability.ts';

interface Detection {
  yawDeg: number;
  mesh468: number[];
  landmarks68: number[];
  truth68: number[];
  meshYawDeg: number;
}
const { values } = parseArgs({ options: { cache: { type: 'string' }, train: { type: 'string' }, eval: { type: 'string' } } });
if (!values.cache || !values.train || !values.eval) throw new Error('--cache, --train and --eval are needed');
const cache = JSON.parse(await readFile(values.cache, 'utf8')) as Record<string, Omit<Detection, 'meshYawDeg'>[]>;
const folder = (dir: string, mirrored: boolean): Detection[] => {
  const rows = cache[`${dir}|${mirrored}`];
  if (!rows) throw new Error(`${dir} is not in the cache (run fit-mesh-landmark-map.ts with it first)`);
  return rows.map((row) => ({ ...row, meshYawDeg: meshYawDeg(Float32Array.from(row.mesh468)) }));
};
const train = values.train.split(',').flatMap((dir) => folder(dir, true));

function byBin(rows: Detection[], points: (row: Detection) => Float32Array): string {
  const sums = new Map<string, number[]>();
  for (const row of rows) {
    const bin = aflwYawBucket(row.yawDeg);
    sums.set(bin, [...(sums.get(bin) ?? []), 100 * aflwNme(points(row), row.truth68)]);
  }
  return ['0-30', '30-60', '60-90']
    .map((bin) => {
      const nmes = sums.get(bin);
      return nmes ? `${bin}° ${(nmes.reduce((a, b) => a + b, 0) / nmes.length).toFixed(2)} (${nmes.length})` : `${bin}° —`;
    })
    .join('  ');
}
const global = fitMeshLandmarkMap(train, 3);
const mapped = (weights: Float32Array, row: Detection) => applyMeshLandmarkMap({ weights }, row.mesh468, row.landmarks68);
for (const dir of values.eval.split(',')) {
  const rows = folder(dir, false);
  console.log(`${dir}: global map λ 3: ${byBin(rows, (row) => mapped(global, row))}`);
  for (const fromYaw of [25, 35, 45])
    for (const lambda of [3, 10, 30]) {
      const profile = fitMeshLandmarkMap(
        train.filter((row) => Math.abs(row.meshYawDeg) >= fromYaw - 10),
        lambda,
      );
      const pick = (row: Detection) => mapped(Math.abs(row.meshYawDeg) >= fromYaw ? profile : global, row);
      console.log(`${dir}: + profile map from ${fromYaw}°, λ ${lambda}: ${byBin(rows, pick)}`);
    }
}
