import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { photosDir } from './shared-data.ts';

/** Copy the first `count` example photos (sorted by name) into a new folder `dir/photos`; returns that folder. */
export async function copyExamplePhotos(dir: string, count: number): Promise<string> {
  const photos = join(dir, 'photos');
  await mkdir(photos);
  const examples = (await readdir(photosDir))
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .slice(0, count);
  for (const f of examples) await copyFile(join(photosDir, f), join(photos, f));
  return photos;
}
