// Reconstructions made on a resized copy of a photo, expressed in the original photo's pixels.
import type { Affine2D } from '../common/image.ts';
import type { Reconstruction } from './reconstruction-types.ts';

/**
 * Express a reconstruction made on a resized copy of a photo in the original photo's pixels:
 * `factor` = original size / resized size. The 3D pose is unchanged (same rays); 2D
 * quantities and the camera intrinsics scale.
 */
export function rescaleReconstruction(reconstruction: Reconstruction, factor: number, originalSize: { width: number; height: number }): Reconstruction {
  if (factor === 1) return reconstruction;
  const scalePoints = (points: Float32Array) => points.map((value) => value * factor);
  return {
    ...reconstruction,
    imageSize: { ...originalSize },
    faces: reconstruction.faces.map((face) => ({
      ...face,
      landmarks2d: scalePoints(face.landmarks2d),
      detectedLandmarks2d: scalePoints(face.detectedLandmarks2d),
      ...(face.regressedLandmarks2d ? { regressedLandmarks2d: scalePoints(face.regressedLandmarks2d) } : {}),
      landmarkErrorPx: face.landmarkErrorPx * factor,
      interOcularPx: face.interOcularPx * factor,
      box: { x: face.box.x * factor, y: face.box.y * factor, width: face.box.width * factor, height: face.box.height * factor },
      focalPx: face.focalPx * factor,
      principalPointPx: [face.principalPointPx[0] * factor, face.principalPointPx[1] * factor],
      ...(face.gar ? { gar: { ...face.gar, cropFromImage: scaleAffineInput(face.gar.cropFromImage, 1 / factor) } } : {}),
    })),
  };
}

/** m ∘ (x ↦ k·x): the same map for input points given in pixels k times smaller. */
function scaleAffineInput(m: Affine2D, k: number): Affine2D {
  return { a: m.a * k, b: m.b * k, c: m.c * k, d: m.d * k, tx: m.tx, ty: m.ty };
}
