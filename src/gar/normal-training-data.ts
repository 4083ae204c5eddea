// Training and held-out data of the normal estimator: studio renders aligned exactly as
// `prepare --synthetic` aligns them (alignFaceCrop on the truth landmarks), each with the exact
// camera-space normal map of the same crop (rasterised with the crop's own camera).
import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import type { RgbaImage } from '../common/image.ts';
import { alignFaceCrop } from '../detect/align-face-crop.ts';
import type { PinholeCamera } from '../geometry/camera.ts';
import { transformPointsArray } from '../geometry/camera.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { hashSeed } from '../common/seeded-random.ts';
import { renderStudioPhoto } from '../shading/studio-renderer.ts';
import { sampleStudioScene } from '../shading/studio-scene.ts';
import { GeometrySampler } from './geometry-sampler.ts';
import type { SeededRandom } from '../common/seeded-random.ts';
import { syntheticRenderSizePx, trainingSceneSeed } from './synthetic-faces.ts';

/** One aligned crop and its truth, both `sizePx`². */
export interface NormalSample {
  /** [R*R*3] RGB in −1…1 (the GAR's image range), row-major. */
  image: Float32Array;
  /** [R*R*3] camera-space unit normals encoded n·0.5 + 0.5, background 0. */
  normalMap: Float32Array;
  /** [68*2] truth landmarks in crop pixels. */
  landmarks2d: Float32Array;
}

/** Which scene stream: 'train' is prepare --synthetic's stream; 'heldout' is never trained on. */
export type NormalSampleStream = 'train' | 'heldout';

/** Scene seed of sample `index` of a stream. */
export function normalSampleSceneSeed(stream: NormalSampleStream, seed: number, index: number): number {
  return stream === 'train' ? trainingSceneSeed(seed, index) : hashSeed('normals-heldout', seed, index);
}

/**
 * The camera of an aligned crop: the similarity `cropFromImage` (rotation, uniform scale, shift
 * in pixel space) is a turn of the camera-space points about the optical axis plus a new focal
 * length and principal point. Returns camera-space points (mm) and the crop camera.
 */
export function cropCamera(
  verticesCamera: Float32Array,
  camera: PinholeCamera,
  cropFromImage: { a: number; b: number; c: number; d: number; tx: number; ty: number },
  sizePx: number,
): { verticesCamera: Float32Array; camera: PinholeCamera } {
  const scale = Math.hypot(cropFromImage.a, cropFromImage.c);
  const cos = cropFromImage.a / scale,
    sin = cropFromImage.c / scale;
  const out = new Float32Array(verticesCamera.length);
  for (let i = 0; i < verticesCamera.length; i += 3) {
    const x = verticesCamera[i],
      y = verticesCamera[i + 1];
    out[i] = cos * x + sin * y; // image y points down, camera y up: the turn flips sign
    out[i + 1] = -sin * x + cos * y;
    out[i + 2] = verticesCamera[i + 2];
  }
  const [cx, cy] = camera.principalPointPx;
  return {
    verticesCamera: out,
    camera: {
      focalPx: camera.focalPx * scale,
      width: sizePx,
      height: sizePx,
      principalPointPx: [cropFromImage.a * cx + cropFromImage.b * cy + cropFromImage.tx, cropFromImage.c * cx + cropFromImage.d * cy + cropFromImage.ty],
    },
  };
}

/** Render studio face `index` of a stream and cut its `sizePx`² crop and exact normal map. */
export function renderNormalSample(model: MorphableModel, stream: NormalSampleStream, seed: number, index: number, sizePx: number): NormalSample {
  if (!Number.isInteger(sizePx) || sizePx < 8) throw invalidParameterError('sizePx', 'an integer ≥ 8', sizePx);
  const renderSize = syntheticRenderSizePx(sizePx);
  const scene = sampleStudioScene(model, normalSampleSceneSeed(stream, seed, index), { width: renderSize, height: renderSize });
  const { image, truth } = renderStudioPhoto(model, scene);
  const { crop, cropFromImage } = alignFaceCrop(image, truth.landmarks2d, sizePx);
  const verticesCamera = transformPointsArray(truth.verticesModel, truth.rotation, truth.translationMm);
  const framed = cropCamera(verticesCamera, truth.camera, cropFromImage, sizePx);
  const sampler = new GeometrySampler(model, { resolution: sizePx });
  const normalTensor = sampler.renderNormalMaps([framed]);
  const normalMap = normalTensor.dataSync() as Float32Array;
  normalTensor.dispose();
  const landmarks2d = new Float32Array(136);
  for (let i = 0; i < 68; i++) {
    const x = truth.landmarks2d[2 * i],
      y = truth.landmarks2d[2 * i + 1];
    landmarks2d[2 * i] = cropFromImage.a * x + cropFromImage.b * y + cropFromImage.tx;
    landmarks2d[2 * i + 1] = cropFromImage.c * x + cropFromImage.d * y + cropFromImage.ty;
  }
  return { image: rgbToSigned(crop), normalMap, landmarks2d };
}

/** RGB of an RGBA image as [H*W*3] in −1…1. */
export function rgbToSigned(image: RgbaImage): Float32Array {
  const out = new Float32Array(image.width * image.height * 3);
  for (let i = 0, j = 0; i < out.length; i += 3, j += 4) {
    out[i] = image.data[j] / 127.5 - 1;
    out[i + 1] = image.data[j + 1] / 127.5 - 1;
    out[i + 2] = image.data[j + 2] / 127.5 - 1;
  }
  return out;
}

/**
 * Stack samples into tensors: images [N, R, R, 3], normal maps [N, R, R, 3]. With `random`,
 * each sample is mirrored left-right with probability ½ (image flipped; normal map flipped and
 * its x component negated, background kept 0).
 */
export function stackNormalSamples(samples: NormalSample[], sizePx: number, random?: SeededRandom): { images: tf.Tensor4D; normalMaps: tf.Tensor4D } {
  const R = sizePx,
    plane = R * R * 3;
  const images = new Float32Array(samples.length * plane),
    normals = new Float32Array(samples.length * plane);
  samples.forEach((sample, b) => {
    if (sample.image.length !== plane) throw invalidParameterError('samples', `${R}×${R} samples`, sample.image.length / 3);
    const mirror = random !== undefined && random.next() < 0.5;
    if (!mirror) {
      images.set(sample.image, b * plane);
      normals.set(sample.normalMap, b * plane);
      return;
    }
    for (let y = 0; y < R; y++)
      for (let x = 0; x < R; x++) {
        const source = (y * R + (R - 1 - x)) * 3,
          target = b * plane + (y * R + x) * 3;
        for (let c = 0; c < 3; c++) {
          images[target + c] = sample.image[source + c];
          normals[target + c] = sample.normalMap[source + c];
        }
        const n = sample.normalMap;
        if (n[source] + n[source + 1] + n[source + 2] > 1e-6) normals[target] = 1 - n[source];
      }
  });
  return { images: tf.tensor4d(images, [samples.length, R, R, 3]), normalMaps: tf.tensor4d(normals, [samples.length, R, R, 3]) };
}
