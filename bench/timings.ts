/**
 * Speeds that tests used to assert, measured here instead (a busy machine must not fail a test):
 * meshToObj on 10k vertices, a cached morphable-model load, and the mesh index over 100k points
 * (CPU time). Each has the target the test held it to; the table says whether it was met.
 * Run: node --import tsx bench/timings.ts
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { meshToObj } from '../src/io/mesh-export.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { TriangleMeshIndex } from '../src/geometry/triangle-mesh-index.ts';
import { trianglesWithinVertexRange } from '../src/morphable/morphable-model.ts';
import { SeededRandom } from '../src/common/seeded-random.ts';

export interface TimingRow {
  name: string;
  ms: number;
  targetMs: number;
}

export async function measureTimings(): Promise<TimingRow[]> {
  const random = new SeededRandom(1);
  const vertexCount = 10_000,
    triangleCount = 20_000;
  const mesh = {
    positions: new Float32Array(vertexCount * 3).map(() => random.uniform(-100, 100)),
    normals: new Float32Array(vertexCount * 3).map(() => random.uniform(-1, 1)),
    uvs: new Float32Array(vertexCount * 2).map(() => random.next()),
    triangles: new Uint32Array(triangleCount * 3).map(() => random.integer(vertexCount)),
  };
  let started = performance.now();
  meshToObj(mesh);
  const objMs = performance.now() - started;

  await loadMorphableModel();
  started = performance.now();
  const { model, fromCache } = await loadMorphableModel();
  const cachedLoadMs = performance.now() - started;
  if (!fromCache) throw new Error('the second model load did not come from the cache');

  const triangles = trianglesWithinVertexRange(model.triangles, 9409);
  const points = new Float64Array(100_000 * 3);
  for (let i = 0; i < 100_000; i++) {
    const v = random.integer(9409);
    for (let k = 0; k < 3; k++) points[3 * i + k] = model.neutral[3 * v + k]! + random.normal() * 2;
  }
  // CPU time, not wall time: on a shared machine the wall clock measures the other jobs.
  const cpu = process.cpuUsage();
  new TriangleMeshIndex(model.neutral, triangles).distancesFrom(points);
  const used = process.cpuUsage(cpu);

  const round = (ms: number) => Math.round(ms * 10) / 10;
  return [
    { name: 'meshToObj, 10k vertices, 20k triangles', ms: round(objMs), targetMs: 1500 },
    { name: 'morphable model load from the compact cache', ms: round(cachedLoadMs), targetMs: 500 },
    { name: 'mesh index: 100k points, full face area (CPU)', ms: round((used.user + used.system) / 1000), targetMs: 15_000 },
  ];
}

export function formatTimings(rows: TimingRow[]): string {
  const width = Math.max(...rows.map((row) => row.name.length));
  return (
    rows
      .map((row) => `${row.name.padEnd(width)}  ${`${row.ms} ms`.padStart(10)}  ${row.ms <= row.targetMs ? 'within' : 'OVER'} the target of ${row.targetMs} ms`)
      .join('\n') + '\n'
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(formatTimings(await measureTimings()));
}
