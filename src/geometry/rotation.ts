import * as tf from '@tensorflow/tfjs-core';

/**
 * Head rotation from Euler angles in radians: R = Rz(roll) · Ry(yaw) · Rx(pitch), applied to
 * column vectors (p' = R p): pitch about +x, yaw about +y, roll about +z, right-handed.
 * Storage: row-major 3×3 [9].
 */
export function rotationFromEuler(pitch: number, yaw: number, roll: number): Float64Array {
  const cx = Math.cos(pitch),
    sx = Math.sin(pitch);
  const cy = Math.cos(yaw),
    sy = Math.sin(yaw);
  const cz = Math.cos(roll),
    sz = Math.sin(roll);
  // Rz·Ry·Rx written out.
  return Float64Array.of(
    cz * cy,
    cz * sy * sx - sz * cx,
    cz * sy * cx + sz * sx,
    sz * cy,
    sz * sy * sx + cz * cx,
    sz * sy * cx - cz * sx,
    -sy,
    cy * sx,
    cy * cx,
  );
}

/** The inverse of rotationFromEuler for |yaw| < 90°: [pitch, yaw, roll] in radians. */
export function eulerFromRotation(r: ArrayLike<number>): [number, number, number] {
  const yaw = Math.asin(Math.max(-1, Math.min(1, -r[6])));
  const pitch = Math.atan2(r[7], r[8]);
  const roll = Math.atan2(r[3], r[0]);
  return [pitch, yaw, roll];
}

/** Tensor version of rotationFromEuler: angles [3] = (pitch, yaw, roll) → [3, 3], differentiable. */
export function rotationMatrixTensor(angles: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const [pitch, yaw, roll] = tf.unstack(angles) as tf.Scalar[];
    const cx = tf.cos(pitch),
      sx = tf.sin(pitch);
    const cy = tf.cos(yaw),
      sy = tf.sin(yaw);
    const cz = tf.cos(roll),
      sz = tf.sin(roll);
    const m = tf.mul;
    const entries = [
      m(cz, cy),
      tf.sub(m(m(cz, sy), sx), m(sz, cx)),
      tf.add(m(m(cz, sy), cx), m(sz, sx)),
      m(sz, cy),
      tf.add(m(m(sz, sy), sx), m(cz, cx)),
      tf.sub(m(m(sz, sy), cx), m(cz, sx)),
      tf.neg(sy),
      m(cy, sx),
      m(cy, cx),
    ];
    return tf.reshape(tf.stack(entries), [3, 3]) as tf.Tensor2D;
  });
}
