import type { RgbaImage } from '../common/image.ts';
import { FacegarError, NoFaceError, UsageError } from '../common/errors.ts';
import { DEFAULT_FIT_CONFIG } from '../fit/fit-config.ts';
import { GAR_REFINE_PRESETS } from '../fit/gar-refine-config.ts';
import type { Reconstruction, ReconstructOptions, Reconstructor } from './reconstruct.ts';

/** A photo of the person: the image, with its known focal length (px) when it has one (EXIF). */
export type PersonPhoto = RgbaImage | { image: RgbaImage; knownFocalPx?: number };

function photoOptions(photo: PersonPhoto, options: ReconstructOptions): [RgbaImage, ReconstructOptions] {
  return 'data' in photo ? [photo, options] : [photo.image, photo.knownFocalPx ? { ...options, knownFocalPx: photo.knownFocalPx } : options];
}

/** One person's identity, estimated from several photos of them. */
export interface PersonIdentity {
  /** [K] identity coefficients: the mean over the photos with a face of each photo's first-pass fit. */
  identity: Float32Array;
  /** How many photos gave a face (the largest face of each is taken). */
  photosUsed: number;
  /** Per photo, in order: its first-pass identity, or why it gave none (a FacegarError; others are rethrown). */
  perPhoto: ({ identity: Float32Array } | { error: FacegarError })[];
}

/**
 * Estimate one identity from several photos of the same person: fit each photo's largest face
 * with the identity prior's weight divided by the number of photos, then average the fitted
 * identities. Why divided: the prior belongs to the person, not to each photo. For a quadratic
 * fit the mean of the N per-photo solutions under prior λ/N is close to the joint solution of
 * all N photos' landmarks under one prior λ, where each fit under the full λ would shrink the
 * shape N times too hard. `loadPhoto(i)` is called once per photo, in order (one decoded photo in
 * memory at a time); a FacegarError from it or from the fit skips that photo. Throws NoFaceError
 * when no photo has a face.
 */
export async function estimatePersonIdentity(
  reconstructor: Reconstructor,
  loadPhoto: (index: number) => Promise<PersonPhoto> | PersonPhoto,
  count: number,
  options: ReconstructOptions = {},
  onPhoto?: (index: number, count: number, outcome: { identity: Float32Array } | { error: FacegarError }) => void,
): Promise<PersonIdentity> {
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`Expected a positive number of photos but received ${count}`);
  if (options.fixedIdentity) throw new UsageError('fixedIdentity is what estimatePersonIdentity finds: leave it out');
  const fitPriorWeight = options.fit?.identityPriorWeight ?? DEFAULT_FIT_CONFIG.identityPriorWeight;
  const garPriorWeight = options.garRefine?.identityPriorWeight ?? GAR_REFINE_PRESETS[options.garPreset ?? 'default'].identityPriorWeight;
  const firstPass: ReconstructOptions = {
    ...options,
    maxFaces: 1,
    fit: { ...options.fit, identityPriorWeight: fitPriorWeight / count },
    garRefine: { ...options.garRefine, identityPriorWeight: garPriorWeight / count },
  };
  const perPhoto: PersonIdentity['perPhoto'] = [];
  let sum: Float64Array | undefined;
  for (let index = 0; index < count; index++) {
    let outcome: PersonIdentity['perPhoto'][number];
    try {
      const [image, photoFirstPass] = photoOptions(await loadPhoto(index), firstPass);
      const identity = (await reconstructor.reconstruct(image, photoFirstPass)).faces[0].identity;
      sum ??= new Float64Array(identity.length);
      identity.forEach((v, k) => {
        sum![k] += v;
      });
      outcome = { identity };
    } catch (error) {
      if (!(error instanceof FacegarError)) throw error;
      outcome = { error };
    }
    perPhoto.push(outcome);
    onPhoto?.(index, count, outcome);
  }
  const photosUsed = perPhoto.filter((p) => 'identity' in p).length;
  if (!sum || photosUsed === 0) throw new NoFaceError(`no face found in any of the ${count} photos of the person`);
  return { identity: Float32Array.from(sum, (v) => v / photosUsed), photosUsed, perPhoto };
}

/**
 * Reconstruct several photos of one person with one shared identity: estimatePersonIdentity,
 * then each photo again with that identity held (ReconstructOptions.fixedIdentity) and its own
 * expression, pose and camera. `loadPhoto(i)` is called twice per photo, so decoded photos need
 * not all stay in memory. A photo without a face gets its error instead of a reconstruction.
 */
export async function reconstructPerson(
  reconstructor: Reconstructor,
  loadPhoto: (index: number) => Promise<PersonPhoto> | PersonPhoto,
  count: number,
  options: ReconstructOptions = {},
): Promise<{ person: PersonIdentity; photos: ({ reconstruction: Reconstruction } | { error: FacegarError })[] }> {
  const person = await estimatePersonIdentity(reconstructor, loadPhoto, count, options);
  const photos: ({ reconstruction: Reconstruction } | { error: FacegarError })[] = [];
  for (let i = 0; i < count; i++) {
    const first = person.perPhoto[i];
    if ('error' in first) {
      photos.push({ error: first.error });
      continue;
    }
    try {
      const [image, photoOptionsHeld] = photoOptions(await loadPhoto(i), { ...options, fixedIdentity: person.identity });
      photos.push({ reconstruction: await reconstructor.reconstruct(image, photoOptionsHeld) });
    } catch (error) {
      if (!(error instanceof FacegarError)) throw error;
      photos.push({ error });
    }
  }
  return { person, photos };
}
