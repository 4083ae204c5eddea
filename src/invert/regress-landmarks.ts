import { applyAffine2D, invertAffine2D, type Affine2D, type RgbaImage } from '../common/image.ts';
import { invalidParameterError } from '../common/errors.ts';
import { alignFaceCrop } from '../detect/align-face-crop.ts';
import type { LandmarkRegressor } from './landmark-regressor.ts';
import { imageToGarTensor } from './render-through-gar.ts';

/** Where a landmark regressor put the points in one photo. */
export interface RegressedLandmarks {
  /** [L*2] photo pixels (x, y per point), from the last pass: iBUG-68, then any dense points. */
  landmarks: Float32Array;
  /** Photo pixels → crop pixels of each pass's crop. */
  cropFromImage: Affine2D[];
}

/**
 * Run a landmark regressor on one face of a photo. The first crop is cut (alignFaceCrop at the
 * regressor's resolution, as the shape encoder's) from `framing68`, iBUG-68 points in photo
 * pixels (the detector's); each further pass re-cuts it from the previous pass's points (their
 * iBUG eye and mouth points frame the crop as the detector's did). `passes` ≥ 1. Leaves no tensors behind.
 */
export function regressLandmarks(regressor: LandmarkRegressor, image: RgbaImage, framing68: Float32Array, passes = 1): RegressedLandmarks {
  if (!Number.isInteger(passes) || passes < 1 || passes > 4) throw invalidParameterError('passes', 'an integer from 1 to 4', passes);
  if (regressor.config.landmarkCount < 68)
    throw invalidParameterError('landmark regressor', 'iBUG-68 points first (then any dense points)', `${regressor.config.landmarkCount} points`);
  const cropFromImage: Affine2D[] = [];
  let framing = framing68,
    landmarks = framing68;
  for (let pass = 0; pass < passes; pass++) {
    // Outside the photo the crop is black (alpha does not reach the network), as in training.
    const aligned = alignFaceCrop(image, framing, regressor.config.resolution);
    const crop = imageToGarTensor(aligned.crop);
    let points: Float32Array;
    try {
      points = regressor.predictCropPx(crop)[0];
    } finally {
      crop.dispose();
    }
    const imageFromCrop = invertAffine2D(aligned.cropFromImage);
    landmarks = new Float32Array(points.length);
    for (let k = 0; k < points.length / 2; k++) landmarks.set(applyAffine2D(imageFromCrop, points[2 * k], points[2 * k + 1]), 2 * k);
    cropFromImage.push(aligned.cropFromImage);
    framing = landmarks.subarray(0, 136);
  }
  return { landmarks, cropFromImage };
}
