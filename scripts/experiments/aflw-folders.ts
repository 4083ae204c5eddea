// The photos of AFLW2000-3D-layout folders that have their .mat truth, for the experiments that
// read such folders photo by photo with a keyed cache (crop-search.ts, blazeface-profile-offset.ts).
import { appendFile, readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RgbaImage } from '../../src/common/image.ts';
import { aflwGroundTruth, type AflwGroundTruth } from '../../src/eval/aflw2000-protocol.ts';
import { parseMatFile } from '../../src/io/mat-file.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { readKeyedCache } from '../keyed-cache.ts';

export interface AflwFolderPhoto {
  /** `folder/name`, the cache key. */
  key: string;
  /** Its position in its folder and the folder's photo count, for progress lines. */
  index: number;
  folderCount: number;
  folder: string;
  truth: () => Promise<AflwGroundTruth>;
  image: () => Promise<RgbaImage>;
}

/** Every photo with a .mat beside it in the comma-separated folders, in name order per folder. */
export async function aflwFolderPhotos(folders: string): Promise<AflwFolderPhoto[]> {
  const photos: AflwFolderPhoto[] = [];
  for (const folder of folders.split(',')) {
    const names = (await readdir(folder)).filter((name) => /\.(jpg|png)$/i.test(name)).sort();
    for (const [index, name] of names.entries()) {
      const matPath = join(folder, name.replace(/\.[^.]+$/, '.mat'));
      if (!existsSync(matPath)) continue;
      photos.push({
        key: `${basename(folder)}/${name}`,
        index,
        folderCount: names.length,
        folder,
        truth: async () => aflwGroundTruth(await parseMatFile(new Uint8Array(await readFile(matPath)))),
        image: () => decodeImageFile(join(folder, name)),
      });
    }
  }
  return photos;
}

/** A photo's row as both experiments cache it: its key, true yaw and true 68 points (rounded). */
export interface AflwRow {
  key: string;
  yawDeg: number;
  truth68: number[];
}

export const rounded = (values: ArrayLike<number>): number[] => Array.from(values, (v) => Math.round(v * 100) / 100);

/**
 * One row per photo of the folders: from the keyed cache (one JSON line per photo) when it holds
 * the photo, else `measure`d from the photo and appended to the cache.
 */
export async function gatherAflwRows<R extends AflwRow>(
  folders: string,
  cachePath: string | undefined,
  measure: (row: AflwRow, image: RgbaImage) => Promise<R>,
): Promise<R[]> {
  const cached = await readKeyedCache<R>(cachePath);
  const rows: R[] = [];
  for (const photo of await aflwFolderPhotos(folders)) {
    const known = cached.get(photo.key);
    if (known) {
      rows.push(known);
      continue;
    }
    const truth = await photo.truth();
    const row = await measure({ key: photo.key, yawDeg: truth.yawDeg, truth68: rounded(truth.landmarks2d) }, await photo.image());
    if (cachePath) await appendFile(cachePath, JSON.stringify(row) + '\n');
    rows.push(row);
    if ((photo.index + 1) % 20 === 0) process.stderr.write(`${photo.folder}: ${photo.index + 1} of ${photo.folderCount}\n`);
  }
  return rows;
}
