// Random hostile files (seeded, so every failure reproduces): photos with flipped and cut bytes,
// model and checkpoint files with one field set to a hostile value, damaged .mat and .wrl files.
// Unlike the curated cases their exact reason is not known in advance: what must hold is a
// documented exit code, no stack trace, no hang and bounded memory.
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import type { HostileCase } from './case.ts';
import { editSafetensorsHeader, editedVertexIndices, spoiledCheckpoint, spoiledModelDir } from './model-cases.ts';
import { writeMat } from './mat-writer.ts';

/** Values a careless or hostile file puts where a count, an index or a name belongs. */
const HOSTILE_VALUES: unknown[] = [
  -1,
  0,
  3.5,
  1e9,
  2 ** 31,
  2 ** 53,
  -0,
  Number.MAX_SAFE_INTEGER,
  '7',
  '',
  null,
  [],
  {},
  true,
  '../x',
  'a/b',
  '..',
  '.hidden',
  'x'.repeat(300),
  '\u0000',
];

const pick = <T>(random: SeededRandom, list: readonly T[]): T => list[random.integer(list.length)];

/** `bytes` with `flips` random bytes changed and, half the time, cut at a random point. */
function damage(bytes: Uint8Array, random: SeededRandom, flips: number): Uint8Array {
  let out = new Uint8Array(bytes);
  for (let i = 0; i < flips; i++) out[random.integer(out.length)] = random.integer(256);
  if (random.next() < 0.5) out = out.subarray(0, random.integer(out.length));
  return out;
}

/** Mutation cases for `seed`: `count` of each kind. */
export function mutationCases(seed: number, count: number): HostileCase[] {
  const cases: HostileCase[] = [];
  cases.push({
    name: `fuzz-photos×${4 * count}`,
    item: 1,
    title: `${4 * count} damaged photos in one batch (seed ${seed})`,
    async make(dir, data) {
      const random = new SeededRandom(seed);
      const photos = (await readdir(data.photosDir)).filter((n) => n.endsWith('.jpg')).sort();
      const inputs = join(dir, 'in');
      await mkdir(inputs);
      for (let i = 0; i < 4 * count; i++) {
        const bytes = new Uint8Array(await readFile(join(data.photosDir, pick(random, photos))));
        await writeFile(join(inputs, `damaged${i}.jpg`), damage(bytes, random, 1 + random.integer(64)));
      }
      // 0 when every photo still shows a face, 9 or one failure's code otherwise.
      return {
        steps: [
          {
            args: ['reconstruct', inputs, '--out', join(dir, 'out'), '--renderer', 'graphics', '--landmark-steps', '10', '--photometric-steps', '0'],
            expect: [0, 4, 5, 9],
          },
        ],
      };
    },
  });
  for (let k = 0; k < count; k++) {
    const random = new SeededRandom(seed * 1000 + k);
    const value = pick(random, HOSTILE_VALUES);
    const landmark = random.next() < 0.5;
    const index = random.integer(landmark ? 68 : 53);
    // 0 (or -0) names a real vertex: a landmark moved onto vertex 0 leaves an odd but valid model,
    // which must reconstruct; every other value is refused with exit 6.
    const stillValid = landmark && value === 0;
    cases.push({
      name: `fuzz-vertex-indices#${k}`,
      item: 10,
      title: `vertex_indices.json with ${landmark ? 'landmark' : 'expression'} ${index} = ${JSON.stringify(value)}`,
      async make(dir, data) {
        const indices = await editedVertexIndices(data, (v) => {
          (landmark ? v.idx_to_landmark_verts : (v.expressions as unknown[]))[index] = value;
        });
        const model = await spoiledModelDir(dir, data, { 'vertex_indices.json': indices });
        return {
          steps: [
            {
              args: ['reconstruct', join(data.photosDir, '000114.jpg'), '--model', model, '--out', join(dir, 'out'), '--renderer', 'graphics'],
              expect: stillValid ? [0] : [6],
            },
          ],
        };
      },
    });
  }
  for (let k = 0; k < count; k++) {
    const random = new SeededRandom(seed * 2000 + k);
    const field = pick(random, ['data_offsets', 'data_offsets', 'shape', 'dtype'] as const);
    const value =
      field === 'data_offsets'
        ? pick(random, [[-8, 0], [0, 2 ** 40], [1, 5], [4, 0], 'x', [0], [0, 4, 8]])
        : field === 'shape'
          ? pick(random, [[-1], [1e9, 1e9], ['x'], [2 ** 53], [1, 2, 3, 4, 5, 6, 7, 8, 9]])
          : pick(random, ['F16', 'I64', 'BOOL', 7]);
    const tensor = random.integer(150);
    cases.push({
      name: `fuzz-safetensors#${k}`,
      item: 11,
      title: `GAR weights with tensor ${tensor}'s ${field} = ${JSON.stringify(value)}`,
      async make(dir, data) {
        const gar = await spoiledCheckpoint(dir, data, 'gar-small', {
          weights: (bytes) =>
            editSafetensorsHeader(bytes, (header, names) => {
              (header[names[tensor % names.length]] as Record<string, unknown>)[field] = value;
            }),
        });
        return {
          steps: [
            {
              args: ['reconstruct', join(data.photosDir, '000114.jpg'), '--gar', gar, '--out', join(dir, 'out'), '--preset', 'fast', '--workers', '1'],
              expect: [6],
            },
          ],
        };
      },
    });
  }
  for (let k = 0; k < count; k++) {
    const random = new SeededRandom(seed * 3000 + k);
    const encoder = random.next() < 0.5;
    const fields = encoder
      ? ['resolution', 'channelBase', 'channelMax', 'hiddenFeatures', 'identityCount', 'expressionCount', 'wDim']
      : ['resolution', 'zDim', 'wDim', 'mappingLayers', 'channelBase', 'channelMax', 'injectionHiddenChannels'];
    const field = pick(random, fields);
    const value = pick(random, HOSTILE_VALUES);
    cases.push({
      name: `fuzz-${encoder ? 'encoder' : 'gar'}-config#${k}`,
      item: 11,
      title: `${encoder ? 'encoder' : 'GAR'} config with ${field} = ${JSON.stringify(value)}`,
      async make(dir, data) {
        const spoiled = await spoiledCheckpoint(dir, data, encoder ? 'encoder-small' : 'gar-small', {
          manifest: (m) => {
            m.config.network[field] = value;
          },
        });
        const options = encoder
          ? ['--gar', join(data.shippedModelsDir, 'gar-small'), '--encoder', spoiled, '--preset', 'instant']
          : ['--gar', spoiled, '--preset', 'fast'];
        return { steps: [{ args: ['reconstruct', join(data.photosDir, '000114.jpg'), ...options, '--out', join(dir, 'out'), '--workers', '1'], expect: [6] }] };
      },
    });
  }
  for (let k = 0; k < count; k++) {
    cases.push({
      name: `fuzz-mat#${k}`,
      item: 12,
      title: `a damaged AFLW .mat (seed ${seed}, ${k})`,
      async make(dir, data) {
        const random = new SeededRandom(seed * 4000 + k);
        const aflw = join(dir, 'aflw');
        await mkdir(aflw);
        await copyFile(join(data.photosDir, '000114.jpg'), join(aflw, 'image00002.jpg'));
        const mat = await writeMat(
          [
            { name: 'pt3d_68', className: 'double', dims: [3, 68], data: Array.from({ length: 204 }, (_, i) => 100 + i) },
            { name: 'Pose_Para', className: 'double', dims: [1, 7], data: [0, 0.1, 0, 0, 0, 0, 1] },
          ],
          random.next() < 0.5,
        );
        await writeFile(join(aflw, 'image00002.mat'), damage(mat, random, 1 + random.integer(16)));
        return { steps: [{ args: ['eval', 'aflw2000', '--data', aflw, '--landmark-steps', '10', '--photometric-steps', '0'], expect: [0, 2] }] };
      },
    });
  }
  return cases;
}
