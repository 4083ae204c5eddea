import { invalidParameterError } from '../common/errors.ts';
import { invertAffine2D, type Affine2D, type RgbaImage } from '../common/image.ts';
import { ImagePyramid } from './image-pyramid.ts';

/**
 * Where the aligned crop puts an average frontal face, as fractions of the crop side
 * (x right, y down): image-left eye centre, image-right eye centre, image-left and
 * image-right mouth corner. Eye distance 0.26 of the side, so forehead to chin fits
 * with a margin; eye-to-mouth drop 1.15 and mouth width 0.83 eye distances, as in the
 * usual 5-point templates.
 */
export const ALIGNED_CROP_TEMPLATE: readonly (readonly [number, number])[] = [
  [0.37, 0.39],
  [0.63, 0.39],
  [0.392, 0.69],
  [0.608, 0.69],
];

const LEFT_EYE = [36, 37, 38, 39, 40, 41],
  RIGHT_EYE = [42, 43, 44, 45, 46, 47];
const MOUTH_LEFT = 48,
  MOUTH_RIGHT = 54;

/**
 * Cut a canonical `sizePx`×`sizePx` face crop: the similarity transform (rotation,
 * uniform scale, shift; no shear) that best maps the eye centres (mean of each eye's six
 * iBUG points) and mouth corners (48, 54) onto ALIGNED_CROP_TEMPLATE, least squares.
 * `landmarks68`: [68 * 2] iBUG-68 x, y in image pixels. Returns the crop (outside the
 * image = transparent black) and `cropFromImage`, image pixels → crop pixels.
 */
export function alignFaceCrop(image: RgbaImage, landmarks68: Float32Array, sizePx: number): { crop: RgbaImage; cropFromImage: Affine2D } {
  const cropFromImage = faceCropTransform(landmarks68, sizePx);
  const crop = new ImagePyramid(image).sampleCrop(invertAffine2D(cropFromImage), sizePx, sizePx);
  return { crop, cropFromImage };
}

/** The similarity alignFaceCrop cuts with (image pixels → crop pixels), without cutting. */
export function faceCropTransform(landmarks68: Float32Array, sizePx: number): Affine2D {
  if (!(landmarks68 instanceof Float32Array) || landmarks68.length !== 136) {
    throw invalidParameterError('landmarks68', 'a Float32Array of 68 * 2 values', landmarks68?.length);
  }
  if (!Number.isInteger(sizePx) || sizePx < 8 || sizePx > 8192) throw invalidParameterError('sizePx', 'an integer between 8 and 8192', sizePx);
  const mean = (indices: number[], axis: 0 | 1) => indices.reduce((sum, i) => sum + landmarks68[2 * i + axis], 0) / indices.length;
  const from: [number, number][] = [
    [mean(LEFT_EYE, 0), mean(LEFT_EYE, 1)],
    [mean(RIGHT_EYE, 0), mean(RIGHT_EYE, 1)],
    [landmarks68[2 * MOUTH_LEFT], landmarks68[2 * MOUTH_LEFT + 1]],
    [landmarks68[2 * MOUTH_RIGHT], landmarks68[2 * MOUTH_RIGHT + 1]],
  ];
  if (!from.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y))) throw invalidParameterError('landmarks68', 'finite coordinates', 'NaN or Infinity');
  const to = ALIGNED_CROP_TEMPLATE.map(([x, y]) => [x * sizePx, y * sizePx] as [number, number]);
  return fitSimilarity2D(from, to);
}

/**
 * Least-squares 2D similarity mapping points `from` onto `to` (x' = s·R·x + t).
 * Written with complex numbers: the scaled rotation is Σ conj(p)·q / Σ|p|² over centred points.
 */
export function fitSimilarity2D(from: [number, number][], to: [number, number][]): Affine2D {
  const n = from.length;
  const fx = from.reduce((s, p) => s + p[0], 0) / n,
    fy = from.reduce((s, p) => s + p[1], 0) / n;
  const tx = to.reduce((s, p) => s + p[0], 0) / n,
    ty = to.reduce((s, p) => s + p[1], 0) / n;
  let re = 0,
    im = 0,
    norm = 0;
  for (let i = 0; i < n; i++) {
    const px = from[i][0] - fx,
      py = from[i][1] - fy,
      qx = to[i][0] - tx,
      qy = to[i][1] - ty;
    re += px * qx + py * qy;
    im += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (!(norm > 0)) throw invalidParameterError('landmarks68', 'distinct eye and mouth points', 'coincident points');
  const a = re / norm,
    c = im / norm;
  return { a, b: -c, c, d: a, tx: tx - (a * fx - c * fy), ty: ty - (c * fx + a * fy) };
}
