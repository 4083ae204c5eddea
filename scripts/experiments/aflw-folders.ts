// The photos of AFLW2000-3D-layout folders that have their .mat truth, for the experiments that
// read such folders photo by photo with a keyed cache (crop-search.ts, blazeface-profile-offset.ts).
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RgbaImage } from '../../src/common/image.ts';
import { aflwGroundTruth, type AflwGroundTruth } from '../../src/eval/aflw2000-protocol.ts';
import { parseMatFile } from '../../src/io/mat-file.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';

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
