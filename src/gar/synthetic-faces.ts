// Synthetic training faces for the GAR: studio renders (the stand-in for real photos here),
// drawn from their own seed stream so they never repeat the benchmark's scenes.
import { invalidParameterError } from '../common/errors.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { hashSeed } from '../common/seeded-random.ts';
import { renderStudioPhoto, type StudioRender } from '../shading/studio-renderer.ts';
import { sampleStudioScene } from '../shading/studio-scene.ts';

/** Seed of training face `index` in the stream of `seed`: tag 'train', never the benchmark's 'benchmark'. */
export function trainingSceneSeed(seed: number, index: number): number {
  return hashSeed('train', seed, index);
}

/**
 * Render side for crops of `largestCropPx`: 4× the crop (at least 128 px), so that the face
 * (35–60 % of the render height) is downsampled, not upsampled, into the aligned crop.
 */
export function syntheticRenderSizePx(largestCropPx: number): number {
  if (!Number.isInteger(largestCropPx) || largestCropPx < 1) throw invalidParameterError('largestCropPx', 'a positive integer', largestCropPx);
  return Math.max(128, 4 * largestCropPx);
}

/**
 * Studio photo number `index` of the training stream `seed`, `renderSizePx`² (RGBA, opaque),
 * with its truth (landmarks2d [68*2] in render pixels from the model's landmark vertices).
 */
export function renderTrainingFace(model: MorphableModel, seed: number, index: number, renderSizePx: number): StudioRender {
  if (!Number.isInteger(index) || index < 0) throw invalidParameterError('index', 'an integer ≥ 0', index);
  if (!Number.isInteger(renderSizePx) || renderSizePx < 16) throw invalidParameterError('renderSizePx', 'an integer ≥ 16', renderSizePx);
  const scene = sampleStudioScene(model, trainingSceneSeed(seed, index), { width: renderSizePx, height: renderSizePx });
  return renderStudioPhoto(model, scene);
}

/** Source name of a synthetic face in dataset.json (unique per stream and index). */
export function syntheticSourceName(seed: number, index: number): string {
  return `synthetic:train:${seed}:${index}`;
}
