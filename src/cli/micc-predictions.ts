import { readFile, readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { UsageError } from '../common/errors.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { writeMiccPrediction } from '../eval/prediction-layout.ts';
import { MICC_SETTINGS } from '../eval/micc-protocol.ts';
import { makeDirectories, writeFileAtomic } from '../io/node/atomic-write.ts';

/** Where one video frame's fitted vertices go (float32, model space, mm), relative to --out. */
export const MICC_FRAMES_DIR = 'micc-frames';

/**
 * MICC frames are images at …/<subject>/<video>/<frame>.jpg, <video> one of the dataset's three
 * videos; the frame's vertices are kept as micc-frames/<subject>/<video>/<frame>.f32.
 */
export function miccFramePath(inputPath: string): string {
  const video = basename(dirname(inputPath));
  const subject = basename(dirname(dirname(inputPath)));
  if (!MICC_SETTINGS.some((setting) => setting.video === video)) {
    throw new UsageError(
      `${inputPath}: --layout micc expects frames in …/<subject>/<video>/ with <video> one of ${MICC_SETTINGS.map((s) => s.video).join(', ')}`,
    );
  }
  return `${MICC_FRAMES_DIR}/${subject}/${video}/${basename(inputPath, extname(inputPath))}.f32`;
}

/**
 * After a batch: average each video's frames into the prediction `facegar eval micc` reads,
 * <subject>/<video>.obj + .txt under `outDir`. Returns the number of videos written.
 */
export async function writeMiccPredictions(outDir: string, model: MorphableModel): Promise<number> {
  const root = join(outDir, MICC_FRAMES_DIR);
  let written = 0;
  for (const subject of (await readdir(root).catch(() => [])).sort()) {
    for (const video of (await readdir(join(root, subject)).catch(() => [])).sort()) {
      const names = (await readdir(join(root, subject, video))).filter((name) => name.endsWith('.f32')).sort();
      const frames = await Promise.all(
        names.map(async (name) => {
          const bytes = await readFile(join(root, subject, video, name));
          return { vertices: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
        }),
      );
      if (frames.length === 0) continue;
      for (const file of writeMiccPrediction(frames, model, { subject, setting: video })) {
        await makeDirectories(dirname(join(outDir, file.path)));
        await writeFileAtomic(join(outDir, file.path), file.bytes);
      }
      written++;
    }
  }
  return written;
}
