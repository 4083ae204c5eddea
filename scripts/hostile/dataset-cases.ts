// Issue 17, items 12–13: benchmark files (AFLW2000-3D .mat annotations, MICC .wrl scans), which
// users download and point facegar at.
import { deflateSync } from 'node:zlib';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { CasePlan, HostileCase } from './case.ts';
import { concat, element, matHeader, writeMat } from './mat-writer.ts';

/** A miMATRIX element of class int8 holding `bytes` zero bytes (made directly: far faster than a number[]). */
function zeroInt8Matrix(name: string, bytes: number): Uint8Array {
  const flags = new Uint8Array(8);
  new DataView(flags.buffer).setUint32(0, 8, true); // class int8
  const dims = new Uint8Array(8);
  new DataView(dims.buffer).setInt32(0, 1, true);
  new DataView(dims.buffer).setInt32(4, bytes, true);
  return element(14, concat([element(6, flags), element(5, dims), element(1, new TextEncoder().encode(name)), element(1, new Uint8Array(bytes))]));
}

/** An AFLW2000-3D folder: one image and the .mat beside it; `facegar eval aflw2000` over it. */
async function aflwPlan(dir: string, photosDir: string | undefined, mat: Uint8Array, expect: number[], message?: RegExp): Promise<CasePlan> {
  const data = join(dir, 'aflw');
  await mkdir(data);
  if (photosDir) await copyFile(join(photosDir, '000114.jpg'), join(data, 'image00002.jpg'));
  else
    await sharp({ create: { width: 200, height: 200, channels: 3, background: '#5a78a0' } })
      .jpeg()
      .toFile(join(data, 'image00002.jpg'));
  await writeFile(join(data, 'image00002.mat'), mat);
  return { steps: [{ args: ['eval', 'aflw2000', '--data', data, '--landmark-steps', '10', '--photometric-steps', '0'], expect, message }] };
}

const landmarks = (): number[] => Array.from({ length: 3 * 68 }, (_, i) => 100 + (i % 7) * 5);

export const DATASET_CASES: HostileCase[] = [
  {
    name: 'mat-inflate-bomb',
    item: 12,
    title: 'a .mat whose compressed element inflates to 64 MiB stops at the 16 MiB limit (exit 2)',
    async make(dir, data) {
      const mat = concat([matHeader(), element(15, deflateSync(zeroInt8Matrix('pt3d_68', 64 * 1024 * 1024), { level: 9 }))]);
      return aflwPlan(dir, data.photosDir, mat, [2], /image00002\.mat: \.mat compressed data inflates to more than 16777216 bytes/);
    },
  },
  {
    name: 'mat-nested-bomb',
    item: 12,
    title: 'a small .mat of nested compressed elements (1 GiB inflated) is refused at the first nesting (exit 2)',
    async make(dir, data) {
      const inner = element(15, deflateSync(zeroInt8Matrix('x', 8 * 1024 * 1024), { level: 9 }));
      const nested = deflateSync(concat(Array.from({ length: 128 }, () => inner)), { level: 9 }); // 128 × 8 MiB
      const mat = concat([matHeader(), element(15, nested)]);
      return aflwPlan(dir, data.photosDir, mat, [2], /compressed element inside a compressed element/);
    },
  },
  {
    name: 'mat-long-char-array',
    item: 12,
    title: 'a .mat with a 400,000-character char array reads (no stack overflow); the image is scored',
    async make(dir) {
      const mat = await writeMat(
        [
          { name: 'pt3d_68', className: 'double', dims: [3, 68], data: landmarks() },
          { name: 'Pose_Para', className: 'double', dims: [1, 7], data: [0, 0.2, 0, 0, 0, 0, 1] },
          { name: 'notes', className: 'char', dims: [1, 400_000], text: 'x'.repeat(400_000) },
        ],
        true,
      );
      // A photo without a face: the evaluation runs to its end and counts a miss (exit 0).
      return aflwPlan(dir, undefined, mat, [0], /failed \(noFace\)/);
    },
  },
  {
    name: 'wrl-use-bomb',
    item: 13,
    title: 'a 1.7 MB .wrl that USEs a 30,000-point Coordinate 20,000 times stops at 5M points (exit 2)',
    async make(dir) {
      const scanDir = join(dir, 'micc', 'subject_01', 'Model', 'frontal1', 'vrml');
      await mkdir(scanDir, { recursive: true });
      const points = Array.from({ length: 30_000 }, (_, i) => `${i % 97} ${i % 89} ${i % 83}`).join(', ');
      const reuse = 'Shape { geometry IndexedFaceSet { coord USE C coordIndex [0 1 2 -1] } }\n';
      await writeFile(
        join(scanDir, 'scan.wrl'),
        `#VRML V2.0 utf8\nShape { geometry IndexedFaceSet { coord DEF C Coordinate { point [ ${points} ] } coordIndex [0 1 2 -1] } }\n${reuse.repeat(20_000)}`,
      );
      const predictions = join(dir, 'predictions', 'subject_01');
      await mkdir(predictions, { recursive: true });
      await writeFile(join(predictions, 'Indoor-Cooperative.obj'), 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n');
      return {
        steps: [
          {
            args: ['eval', 'micc', '--data', join(dir, 'micc'), '--predictions', join(dir, 'predictions')],
            expect: [2],
            message: /scan\.wrl: the VRML file gives more than 5000000 points/,
          },
        ],
      };
    },
  },
];
