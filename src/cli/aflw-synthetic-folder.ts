// `facegar eval aflw2000 --write-synthetic DIR`: a folder in AFLW2000-3D's layout from studio
// renders (or, with --from-set, from a rendered set with exact truth such as the Blender Cycles
// set of scripts/render-cycles-set.py), for `facegar eval aflw2000 --data DIR`.
import { join } from 'node:path';
import sharp from 'sharp';
import type { RgbaImage } from '../common/image.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { aflwAnnotation, aflwMatVariables, renderSyntheticAflwImage, type AflwAnnotation } from '../eval/aflw-synthetic.ts';
import { encodeMatFile } from '../io/mat-file.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../io/node/atomic-write.ts';
import { syntheticSetSource } from '../io/node/synthetic-set-files.ts';

/** Written beside the images: how the folder was made and each image's yaw (and scene). */
export const SYNTHETIC_MANIFEST = 'synthetic-set.json';

async function writeImageAndMat(dir: string, name: string, image: RgbaImage, annotation: AflwAnnotation): Promise<void> {
  const { width, height, data } = image;
  // AFLW2000-3D ships JPEGs; quality 95 adds little to the render's own simulated compression.
  const jpeg = await sharp(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 4 } })
    .removeAlpha()
    .jpeg({ quality: 95 })
    .toBuffer();
  await writeFileAtomic(join(dir, `${name}.jpg`), new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength));
  await writeFileAtomic(
    join(dir, `${name}.mat`),
    await encodeMatFile(aflwMatVariables(annotation), { compress: true, description: 'facegar synthetic AFLW2000-3D layout' }),
  );
}

/**
 * Render `count` studio photos (450² by default, |yaw| spread evenly over 0–90°) into `dir` as
 * image00001.jpg + image00001.mat …, and SYNTHETIC_MANIFEST. Deterministic for (seed, count, size).
 */
export async function writeSyntheticAflwFolder(
  model: MorphableModel,
  dir: string,
  options: { count: number; seed: number; sizePx?: number },
  onImage?: (index: number, name: string, yawDeg: number) => void,
): Promise<void> {
  await ensureWritableDirectory(dir);
  const images: Record<string, unknown>[] = [];
  for (let index = 0; index < options.count; index++) {
    const rendered = renderSyntheticAflwImage(model, index, options);
    await writeImageAndMat(dir, rendered.name, rendered.image, rendered.annotation);
    images.push({ name: rendered.name, yawDeg: Number(rendered.yawDeg.toFixed(3)), scene: rendered.scene });
    onImage?.(index, rendered.name, rendered.yawDeg);
  }
  await writeFileAtomic(
    join(dir, SYNTHETIC_MANIFEST),
    JSON.stringify({
      generator: 'facegar eval aflw2000 --write-synthetic (studio renderer)',
      seed: options.seed,
      count: options.count,
      sizePx: images.length ? (images[0].scene as { width: number }).width : undefined,
      conventions:
        'pt3d_68: x, y 1-based image pixels (facegar pixel + 0.5), z depth in pixels at the face, larger = nearer; Pose_Para: pitch, yaw, roll (rad, facegar convention), tx, ty, 0, px per mm',
      images,
    }) + '\n',
  );
}

/**
 * A rendered set with exact truth (the layout `facegar eval synthetic --set` reads: NNNN.png,
 * NNNN.f32 = the face area's vertices, NNNN.json = pose, camera, coefficients; what
 * scripts/render-cycles-set.py writes) → the same photos in AFLW2000-3D's layout, renumbered
 * image00001… in the set's order. Set errors are those of io/node/synthetic-set-files.ts.
 */
export async function convertRenderedSetToAflw(
  model: MorphableModel,
  setDir: string,
  dir: string,
  onImage?: (index: number, name: string, yawDeg: number) => void,
): Promise<number> {
  const source = await syntheticSetSource(setDir, model);
  await ensureWritableDirectory(dir);
  const images: Record<string, unknown>[] = [];
  for (let index = 0; index < source.count; index++) {
    const { image, truth } = await source.face(index);
    const landmarksModel = new Float32Array(68 * 3);
    model.landmarkVertexIndices.forEach((v, k) => landmarksModel.set(truth.verticesModel.subarray(3 * v, 3 * v + 3), 3 * k));
    const camera = { focalPx: truth.focalPx, principalPointPx: truth.principalPointPx, width: image.width, height: image.height };
    const name = `image${String(index + 1).padStart(5, '0')}`;
    await writeImageAndMat(dir, name, image, aflwAnnotation(landmarksModel, truth.rotation, truth.translationMm, camera, truth.anglesDeg));
    images.push({ name, source: source.stems[index], yawDeg: truth.anglesDeg[1] });
    onImage?.(index, name, truth.anglesDeg[1]);
  }
  await writeFileAtomic(
    join(dir, SYNTHETIC_MANIFEST),
    JSON.stringify({ generator: `facegar eval aflw2000 --write-synthetic --from-set (${source.count} faces)`, count: source.count, images }) + '\n',
  );
  return source.count;
}
