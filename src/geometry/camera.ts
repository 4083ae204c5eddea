import * as tf from '@tensorflow/tfjs-core';

/**
 * Pinhole camera in image pixels. Camera space: right-handed, +y up, looking down −z, so visible
 * points have z < 0. A camera-space point (X, Y, Z) lands at
 *   u = cx + focalPx · X / (−Z),   v = cy − focalPx · Y / (−Z)
 * in pixel coordinates (origin top-left, v down, pixel centres at +0.5).
 */
export interface PinholeCamera {
  focalPx: number;
  principalPointPx: [number, number];
  width: number;
  height: number;
}

/** The same camera seen through a crop: output pixel = scale · (input pixel − origin). */
export function cropCamera(camera: PinholeCamera, originPx: [number, number], scale: number, width: number, height: number): PinholeCamera {
  return {
    focalPx: camera.focalPx * scale,
    principalPointPx: [(camera.principalPointPx[0] - originPx[0]) * scale, (camera.principalPointPx[1] - originPx[1]) * scale],
    width,
    height,
  };
}

/** Project camera-space points [N, 3] (mm) to pixels [N, 2]; `focalPx` may be a tensor (differentiable). */
export function projectToPixels(pointsCamera: tf.Tensor2D, focalPx: tf.Scalar | number, principalPointPx: [number, number]): tf.Tensor2D {
  return tf.tidy(() => {
    const [x, y, z] = tf.split(pointsCamera, 3, 1);
    const inverseDepth = tf.div(1, tf.neg(z));
    const u = tf.add(tf.mul(tf.mul(x, inverseDepth), focalPx), principalPointPx[0]);
    const v = tf.sub(principalPointPx[1], tf.mul(tf.mul(y, inverseDepth), focalPx));
    return tf.concat([u, v], 1) as tf.Tensor2D;
  });
}

/** Near and far planes (mm) for the depth buffer; faces sit well inside. */
export const DEPTH_RANGE_MM = { near: 10, far: 100000 } as const;

/**
 * Camera-space points [N, 3] → clip space [N, 4] for the rasteriser: x_ndc = 2u/W − 1,
 * y_ndc = 1 − 2v/H (row 0 at NDC +1), w = −Z, and an OpenGL-style z so nearer is smaller.
 */
export function cameraToClip(pointsCamera: tf.Tensor2D, focalPx: tf.Scalar | number, camera: Omit<PinholeCamera, 'focalPx'>): tf.Tensor2D {
  return tf.tidy(() => {
    // Columns as rows of the transpose, and the result stacked then transposed back: on wasm,
    // column slices and concatenation copy element by element (~5× slower at 5000 points).
    const [x, y, z] = tf.unstack(tf.transpose(pointsCamera));
    const w = tf.neg(z);
    const { width, height } = camera;
    const [cx, cy] = camera.principalPointPx;
    // x_ndc·w = (2/W)(cx·w + f·X) − w ; y_ndc·w = w − (2/H)(cy·w − f·Y)
    const xClip = tf.sub(tf.mul(2 / width, tf.add(tf.mul(cx, w), tf.mul(focalPx, x))), w);
    const yClip = tf.sub(w, tf.mul(2 / height, tf.sub(tf.mul(cy, w), tf.mul(focalPx, y))));
    const { near, far } = DEPTH_RANGE_MM;
    const zClip = tf.sub(tf.mul((far + near) / (far - near), w), (2 * far * near) / (far - near));
    return tf.transpose(tf.stack([xClip, yClip, zClip, w])) as tf.Tensor2D;
  });
}

/** Plain JS projection of camera-space [N*3] → pixels [N*2]. */
export function projectPointsArray(pointsCamera: ArrayLike<number>, camera: PinholeCamera): Float32Array {
  const n = pointsCamera.length / 3;
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const depth = -pointsCamera[i * 3 + 2];
    out[i * 2] = camera.principalPointPx[0] + (camera.focalPx * pointsCamera[i * 3]) / depth;
    out[i * 2 + 1] = camera.principalPointPx[1] - (camera.focalPx * pointsCamera[i * 3 + 1]) / depth;
  }
  return out;
}

/** p_cam = R p + t for [N*3] arrays; R row-major [9], t [3] mm. */
export function transformPointsArray(points: ArrayLike<number>, rotation: ArrayLike<number>, translationMm: ArrayLike<number>): Float32Array {
  const n = points.length / 3;
  const out = new Float32Array(n * 3);
  const r = rotation;
  for (let i = 0; i < n; i++) {
    const x = points[i * 3],
      y = points[i * 3 + 1],
      z = points[i * 3 + 2];
    out[i * 3] = r[0] * x + r[1] * y + r[2] * z + translationMm[0];
    out[i * 3 + 1] = r[3] * x + r[4] * y + r[5] * z + translationMm[1];
    out[i * 3 + 2] = r[6] * x + r[7] * y + r[8] * z + translationMm[2];
  }
  return out;
}

/** Plain JS version of cameraToClip: camera-space [N*3] → clip space [N*4]. */
export function cameraToClipArray(pointsCamera: ArrayLike<number>, camera: PinholeCamera): Float32Array {
  const n = pointsCamera.length / 3;
  const clip = new Float32Array(n * 4);
  const { near, far } = DEPTH_RANGE_MM;
  const { width, height, focalPx } = camera;
  const [cx, cy] = camera.principalPointPx;
  for (let i = 0; i < n; i++) {
    const x = pointsCamera[3 * i],
      y = pointsCamera[3 * i + 1],
      w = -pointsCamera[3 * i + 2];
    clip[4 * i] = (2 / width) * (cx * w + focalPx * x) - w;
    clip[4 * i + 1] = w - (2 / height) * (cy * w - focalPx * y);
    clip[4 * i + 2] = ((far + near) / (far - near)) * w - (2 * far * near) / (far - near);
    clip[4 * i + 3] = w;
  }
  return clip;
}
