import * as tf from '@tensorflow/tfjs-core';
import type { RgbaImage, Affine2D } from '../common/image.ts';
import { warpAffine } from '../common/image.ts';
import { trianglesWithinVertexRange } from '../morphable/morphable-model.ts';
import { cameraToClip } from '../geometry/camera.ts';
import { computeVertexNormals } from '../geometry/vertex-normals.ts';
import { rasterize } from '../raster/rasterize.ts';
import { renderShaded } from '../shading/render-shaded.ts';
import type { FitConfig } from './fit-config.ts';
import type { FitVariables } from './fit-variables.ts';
import type { ModelTensors } from './model-tensors.ts';
import {
  CONTOUR_UPDATE_INTERVAL,
  clampExpression,
  focalTensor,
  landmarkLoss,
  landmarkWeights,
  toCameraSpace,
  updateContour,
  type FitFrame,
} from './landmark-stage.ts';
import type { LandmarkCorrespondence } from './contour-landmarks.ts';
import { landmarkBounds } from './fit-frame.ts';
import type { DenseLandmarkTerm } from './dense-landmarks.ts';

/** A square crop of the photo around the face, where the photometric loss is measured. */
export interface FaceCrop {
  sizePx: number;
  /** Top-left corner of the crop in original-image pixels, and output px per input px. */
  originPx: [number, number];
  scale: number;
  /** [S, S, 3] the photo's colours, 0..1. */
  target: tf.Tensor3D;
}

/** Crop a square of 1.5× the landmark box around its centre and resample it to `sizePx`. */
export function createFaceCrop(image: RgbaImage, landmarks68: Float32Array, sizePx: number): FaceCrop {
  const { minU, maxU, minV, maxV } = landmarkBounds(landmarks68);
  const side = 1.5 * Math.max(maxU - minU, maxV - minV, 1);
  const originPx: [number, number] = [(minU + maxU) / 2 - side / 2, (minV + maxV) / 2 - side / 2];
  const scale = sizePx / side;
  const outputToSource: Affine2D = { a: 1 / scale, b: 0, c: 0, d: 1 / scale, tx: originPx[0], ty: originPx[1] };
  return { sizePx, originPx, scale, target: rgbTensor(warpAffine(image, outputToSource, sizePx, sizePx)) };
}

/** [H, W, 3] an image's colours, 0..1 (alpha dropped). */
export function rgbTensor(image: RgbaImage): tf.Tensor3D {
  const rgb = new Float32Array(image.width * image.height * 3);
  for (let p = 0; p < image.width * image.height; p++) for (let c = 0; c < 3; c++) rgb[3 * p + c] = image.data[4 * p + c] / 255;
  return tf.tensor3d(rgb, [image.height, image.width, 3]);
}

/**
 * Render the narrow face area into the crop with the current variables. Returns the image
 * [S, S, 3] and coverage mask [S, S, 1]; gradients reach all variables.
 */
export function renderFaceInCrop(
  models: ModelTensors,
  variables: FitVariables,
  frame: FitFrame,
  crop: FaceCrop,
  triangles: Uint32Array,
): { image: tf.Tensor3D; mask: tf.Tensor3D } {
  return tf.tidy(() => {
    const vertices = models.vertices(variables.coefficients, 'narrow');
    const cameraPoints = toCameraSpace(vertices, variables, frame);
    const focalCrop = tf.mul(focalTensor(variables, frame), crop.scale) as tf.Scalar;
    const principalPointPx: [number, number] = [
      (frame.principalPointPx[0] - crop.originPx[0]) * crop.scale,
      (frame.principalPointPx[1] - crop.originPx[1]) * crop.scale,
    ];
    const clip = cameraToClip(cameraPoints, focalCrop, { principalPointPx, width: crop.sizePx, height: crop.sizePx });
    const rasterization = rasterize(clip.dataSync() as Float32Array, triangles, { width: crop.sizePx, height: crop.sizePx }, { cullBackFaces: true });
    const vertexNormalsCamera = computeVertexNormals(cameraPoints, triangles);
    const albedo = tf.mul(tf.reshape(variables.albedo, [1, 3]), tf.onesLike(vertexNormalsCamera)) as tf.Tensor2D;
    const { image, mask } = renderShaded({ rasterization, triangles, albedo, vertexNormalsCamera, shCoefficients: variables.light, positionsClip: clip });
    return { image, mask };
  });
}

/** Robust (pseudo-Huber-like) colour distance averaged over covered pixels. */
export function photometricLoss(rendered: tf.Tensor3D, mask: tf.Tensor3D, target: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => {
    const difference = tf.mul(tf.sub(rendered, target), mask);
    const perPixel = tf.sqrt(tf.add(tf.sum(tf.square(difference), -1), 1e-4));
    const covered = tf.maximum(tf.sum(mask), 1);
    return tf.div(tf.sum(tf.mul(perPixel, tf.squeeze(mask, [2]))), covered) as tf.Scalar;
  });
}

/** Set albedo to the mean photo colour under the current render, and light to ambient. */
export function initialiseAppearance(models: ModelTensors, variables: FitVariables, frame: FitFrame, crop: FaceCrop, triangles: Uint32Array): void {
  tf.tidy(() => {
    const { mask } = renderFaceInCrop(models, variables, frame, crop, triangles);
    const covered = tf.maximum(tf.sum(mask), 1);
    const meanColour = tf.div(tf.sum(tf.reshape(tf.mul(crop.target, mask), [-1, 3]), 0), covered);
    variables.albedo.assign(tf.clipByValue(meanColour, 0.05, 1) as tf.Tensor1D);
  });
}

/**
 * Landmark + photometric fitting through the graphics renderer (albedo × SH light), every
 * variable free. Returns the total loss after each step.
 */
export function runPhotometricStage(
  models: ModelTensors,
  correspondence: LandmarkCorrespondence,
  variables: FitVariables,
  frame: FitFrame,
  crop: FaceCrop,
  detected: Float32Array,
  config: FitConfig,
  onStep?: (step: number, total: number) => void,
  dense?: DenseLandmarkTerm,
): number[] {
  const triangles = trianglesWithinVertexRange(models.model.triangles, models.model.narrowFaceVertexCount);
  initialiseAppearance(models, variables, frame, crop, triangles);
  const detectedTensor = tf.tensor2d(detected, [68, 2]);
  const weights = tf.tensor1d(landmarkWeights(config.contourLandmarkWeight));
  // Adam moves every free variable by ~its learning rate per step, however small its gradient:
  // the pose and camera, which the landmarks pin down well, stay as the landmark stage left them
  // (a 2° drift moves landmarks by pixels); the shape coefficients get a small rate and wait
  // while light and albedo settle during the first third.
  const appearanceOptimizer = tf.train.adam(config.learningRate * 2);
  const geometryOptimizer = tf.train.adam(config.learningRate * config.photometricShapeRateFraction);
  const appearance = [variables.light, variables.albedo];
  const geometry = [variables.coefficients];
  const appearanceOnlySteps = Math.round(config.photometricSteps / 3);
  const history: number[] = [];
  try {
    for (let step = 0; step < config.photometricSteps; step++) {
      if (step % CONTOUR_UPDATE_INTERVAL === 0) updateContour(correspondence, variables, frame);
      const withGeometry = step >= appearanceOnlySteps;
      const { value, grads } = tf.variableGrads(
        () => {
          const { image, mask } = renderFaceInCrop(models, variables, frame, crop, triangles);
          const photometric = tf.mul(config.photometricWeight, photometricLoss(image, mask, crop.target));
          return tf.add(photometric, landmarkLoss(models, correspondence, variables, frame, detectedTensor, weights, config, dense)) as tf.Scalar;
        },
        withGeometry ? [...appearance, ...geometry] : appearance,
      );
      appearanceOptimizer.applyGradients(appearance.map((v) => ({ name: v.name, tensor: grads[v.name] })));
      if (withGeometry) geometryOptimizer.applyGradients(geometry.map((v) => ({ name: v.name, tensor: grads[v.name] })));
      history.push(value.dataSync()[0]);
      tf.dispose([value, ...Object.values(grads)]);
      variables.restoreLocked();
      clampExpression(models, variables);
      onStep?.(step + 1, config.photometricSteps);
    }
  } finally {
    tf.dispose([detectedTensor, weights]);
    appearanceOptimizer.dispose();
    geometryOptimizer.dispose();
  }
  return history;
}
