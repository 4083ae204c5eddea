// `facegar eval aflw2000 --write-synthetic DIR`: a folder in AFLW2000-3D's layout from studio
// renders (or, with --from-set, from a rendered set with exact truth such as the Blender Cycles
// set of scripts/render-cycles-set.py), for `facegar eval aflw2000 --data DIR`.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { InputMissingError, UsageError } from '../common/errors.ts';
import type { RgbaImage } from '../common/image.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { aflwAnnotation, aflwMatVariables, renderSyntheticAflwImage, type AflwAnnotation } from '../eval/aflw-synthetic.ts';
import { encodeMatFile } from '../io/mat-file.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../io/node/atomic-write.ts';
import { decodeImageFile } from '../io/node/decode-image.ts';

/** Written beside the images: how the folder was made and each image's yaw (and scene). */
export const SYNTHETIC_MANIFEST = 'synthetic-set.json';

async function writeImageAndMat(dir: string, name: string, image: RgbaImage, annotation: AflwAnnotation): Promise<void> {
  const { width, height, data } = image;
  // AFLW2000-3D ships JPEGs; quality 95 adds little to the render's own simulated compression.
  const jpeg = await sharp(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 4 } }).removeAlpha().jpeg({ quality: 95 }).toBuffer();
  await writeFileAtomic(join(dir, `${name}.jpg`), new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength));
  await writeFileAtomic(join(dir, `${name}.mat`), await encodeMatFile(aflwMatVariables(annotation), { compress: true, description: 'facegar synthetic AFLW2000-3D layout' }));
}

/**
 * Render `count` studio photos (450² by default, |yaw| spread evenly over 0–90°) into `dir` as
 * image00001.jpg + image00001.mat …, and SYNTHETIC_MANIFEST. Deterministic for (seed, count, size).
 */
export async function writeSyntheticAflwFolder(model: MorphableModel, dir: string, options: { count: number; seed: number; sizePx?: number }, onImage?: (index: number, name: string, yawDeg: number) => void): Promise<void> {
  await ensureWritableDirectory(dir);
  const images: Record<string, unknown>[] = [];
  for (let index = 0; index < options.count; index++) {
    const rendered = renderSyntheticAflwImage(model, index, options);
    await writeImageAndMat(dir, rendered.name, rendered.image, rendered.annotation);
    images.push({ name: rendered.name, yawDeg: Number(rendered.yawDeg.toFixed(3)), scene: rendered.scene });
    onImage?.(index, rendered.name, rendered.yawDeg);
  }
  await writeFileAtomic(join(dir, SYNTHETIC_MANIFEST), JSON.stringify({
    generator: 'facegar eval aflw2000 --write-synthetic (studio renderer)', seed: options.seed, count: options.count, sizePx: images.length ? (images[0].scene as { width: number }).width : undefined,
    conventions: 'pt3d_68: x, y 1-based image pixels (facegar pixel + 0.5), z depth in pixels at the face, larger = nearer; Pose_Para: pitch, yaw, roll (rad, facegar convention), tx, ty, 0, px per mm',
    images,
  }) + '\n');
}

/**
 * A rendered set with exact truth (NNNN.png, NNNN.f32 = the face area's vertices in model space,
 * float32 x, y, z mm; NNNN.json with `rotation` (9, row-major), `translationMm`, `focalPx`,
 * `principalPointPx`, `anglesDeg`, as scripts/render-cycles-set.py writes them) → the same images
 * in AFLW2000-3D's layout. Faces are renumbered image00001… in name order.
 */
export async function convertRenderedSetToAflw(model: MorphableModel, setDir: string, dir: string, onImage?: (index: number, name: string, yawDeg: number) => void): Promise<number> {
  let names: string[];
  try {
    names = (await readdir(setDir)).filter((n) => /^\d+\.json$/.test(n)).sort();
  } catch {
    throw new InputMissingError(`rendered set not found: ${setDir}`);
  }
  if (names.length === 0) throw new InputMissingError(`no NNNN.json truth files in ${setDir}`);
  await ensureWritableDirectory(dir);
  const images: Record<string, unknown>[] = [];
  for (const [index, jsonName] of names.entries()) {
    const stem = jsonName.slice(0, -5);
    const truth = JSON.parse(await readFile(join(setDir, jsonName), 'utf8')) as { rotation?: number[]; translationMm?: number[]; focalPx?: number; principalPointPx?: number[]; anglesDeg?: number[] };
    const { rotation, translationMm, focalPx, principalPointPx, anglesDeg } = truth;
    if (rotation?.length !== 9 || translationMm?.length !== 3 || typeof focalPx !== 'number' || principalPointPx?.length !== 2 || anglesDeg?.length !== 3) {
      throw new UsageError(`${join(setDir, jsonName)}: expected rotation[9], translationMm[3], focalPx, principalPointPx[2], anglesDeg[3]`);
    }
    const bytes = await readFile(join(setDir, `${stem}.f32`));
    const vertices = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const landmarksModel = new Float32Array(68 * 3);
    model.landmarkVertexIndices.forEach((v, k) => {
      if (3 * v + 3 > vertices.length) throw new UsageError(`${join(setDir, `${stem}.f32`)}: ${vertices.length / 3} vertices, landmark vertex ${v} missing`);
      landmarksModel.set(vertices.subarray(3 * v, 3 * v + 3), 3 * k);
    });
    const image = await decodeImageFile(join(setDir, `${stem}.png`));
    const annotation = aflwAnnotation(landmarksModel, rotation, translationMm, { focalPx, principalPointPx: principalPointPx as [number, number], width: image.width, height: image.height }, anglesDeg);
    const name = `image${String(index + 1).padStart(5, '0')}`;
    await writeImageAndMat(dir, name, image, annotation);
    images.push({ name, source: stem, yawDeg: anglesDeg[1] });
    onImage?.(index, name, anglesDeg[1]);
  }
  await writeFileAtomic(join(dir, SYNTHETIC_MANIFEST), JSON.stringify({ generator: `facegar eval aflw2000 --write-synthetic --from-set (${names.length} faces)`, count: names.length, images }) + '\n');
  return names.length;
}
