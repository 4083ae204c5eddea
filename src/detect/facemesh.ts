import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { ModelUnavailableError } from '../common/errors.ts';
import type { Affine2D } from '../common/image.ts';
import type { BlazeFaceDetection } from './blazeface.ts';
import type { ImagePyramid } from './image-pyramid.ts';
import { rgbInputTensor } from './model-input.ts';

export const MESH_POINT_COUNT = 468;
/** Mesh indices of the outer eye corners, image-left then image-right (upright face). */
const EYE_CORNER_LEFT = 33,
  EYE_CORNER_RIGHT = 263;

/** One FaceMesh result, in the pixels of the pyramid's base image. */
export interface MeshFit {
  /** [468 * 3] x, y in base pixels; z relative depth in the same pixel scale (smaller = nearer). */
  mesh: Float32Array;
  /** FaceMesh face flag, 0..1; below ~0.25 the crop held no face the model could fit. */
  score: number;
  /** The crop the mesh was estimated in: crop pixels → base pixels. */
  cropToBase: Affine2D;
}

/**
 * A FaceMesh graph's square input size and the names of its mesh and face-flag outputs; throws
 * ModelUnavailableError when the graph does not take [N, S, S, 3] images.
 */
export function faceMeshGraphInfo(model: GraphModel): { inputSize: number; meshOutput: string; scoreOutput: string } {
  const shape = model.inputs[0]?.shape;
  const size = shape?.[1];
  if (!shape || shape.length !== 4 || typeof size !== 'number' || size !== shape[2]) {
    throw new ModelUnavailableError(`facemesh: unexpected input shape ${JSON.stringify(shape)} (want [N, S, S, 3])`);
  }
  // The converted graph names its outputs in `signature`; fall back to MediaPipe's usual names.
  const outputs = (model.modelSignature as { outputs?: Record<string, { name?: string }> } | undefined)?.outputs;
  return { inputSize: size, meshOutput: outputs?.output_mesh?.name ?? 'Identity_2:0', scoreOutput: outputs?.output_faceflag?.name ?? 'Identity_1:0' };
}

/**
 * MediaPipe FaceMesh (468 points from a square RGB crop in [0, 1]). The crop is a
 * rotated square: eyes level, side = `enlarge` × face size.
 */
export class FaceMesh {
  readonly inputSize: number;
  private readonly model: GraphModel;
  private readonly meshOutput: string;
  private readonly scoreOutput: string;

  constructor(model: GraphModel) {
    ({ inputSize: this.inputSize, meshOutput: this.meshOutput, scoreOutput: this.scoreOutput } = faceMeshGraphInfo(model));
    this.model = model;
  }

  /** Estimate the mesh in the crop `cropToBase` maps from (crop pixels → base pixels). */
  async fitInCrop(pyramid: ImagePyramid, cropToBase: Affine2D): Promise<MeshFit> {
    const size = this.inputSize;
    const input = rgbInputTensor(pyramid.sampleCrop(cropToBase, size, size), 0, 1);
    let outputs: tf.Tensor[] = [];
    let meshCrop: Float32Array, score: number;
    try {
      outputs = this.model.execute(input, [this.meshOutput, this.scoreOutput]) as tf.Tensor[];
      meshCrop = (await outputs[0].data()) as Float32Array;
      score = (await outputs[1].data())[0];
    } finally {
      input.dispose();
      for (const t of outputs) t.dispose();
    }
    if (meshCrop.length !== MESH_POINT_COUNT * 3) {
      throw new ModelUnavailableError(`facemesh: mesh output holds ${meshCrop.length} values, expected ${MESH_POINT_COUNT * 3}`);
    }
    const m = cropToBase;
    const depthScale = Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
    const mesh = new Float32Array(MESH_POINT_COUNT * 3);
    for (let i = 0; i < MESH_POINT_COUNT; i++) {
      const u = meshCrop[3 * i],
        v = meshCrop[3 * i + 1];
      mesh[3 * i] = m.a * u + m.b * v + m.tx;
      mesh[3 * i + 1] = m.c * u + m.d * v + m.ty;
      mesh[3 * i + 2] = meshCrop[3 * i + 2] * depthScale;
    }
    return { mesh, score, cropToBase };
  }

  /**
   * Fit starting from a BlazeFace detection, then re-crop around the mesh
   * `refineIterations` times. Returns the best-scoring pass (the last one unless a
   * re-crop made the face flag drop).
   */
  async fitFromDetection(pyramid: ImagePyramid, detection: BlazeFaceDetection, refineIterations: number, enlarge: number): Promise<MeshFit> {
    let best = await this.fitInCrop(pyramid, this.cropAroundDetection(detection, enlarge));
    let current = best;
    for (let i = 0; i < refineIterations; i++) {
      current = await this.fitInCrop(pyramid, this.cropAroundMesh(current.mesh, enlarge));
      if (current.score >= best.score - 0.05) best = current;
    }
    return best;
  }

  dispose(): void {
    this.model.dispose();
  }

  /** Square crop centred on the detection box, rotated so the detected eyes are level. */
  cropAroundDetection(detection: BlazeFaceDetection, enlarge: number): Affine2D {
    const k = detection.keypoints;
    const angle = Math.atan2(k[3] - k[1], k[2] - k[0]);
    const { x, y, width, height } = detection.box;
    return this.squareCrop(x + width / 2, y + height / 2, enlarge * Math.max(width, height), angle);
  }

  /** Square crop around the mesh's x, y extent in the frame where its eye corners are level. */
  cropAroundMesh(mesh: Float32Array, enlarge: number): Affine2D {
    const l = 3 * EYE_CORNER_LEFT,
      r = 3 * EYE_CORNER_RIGHT;
    const angle = Math.atan2(mesh[r + 1] - mesh[l + 1], mesh[r] - mesh[l]);
    const cos = Math.cos(angle),
      sin = Math.sin(angle);
    let minU = Infinity,
      maxU = -Infinity,
      minV = Infinity,
      maxV = -Infinity;
    for (let i = 0; i < MESH_POINT_COUNT; i++) {
      const x = mesh[3 * i],
        y = mesh[3 * i + 1];
      const u = cos * x + sin * y,
        v = -sin * x + cos * y;
      minU = Math.min(minU, u);
      maxU = Math.max(maxU, u);
      minV = Math.min(minV, v);
      maxV = Math.max(maxV, v);
    }
    const cu = (minU + maxU) / 2,
      cv = (minV + maxV) / 2;
    const side = enlarge * Math.max(maxU - minU, maxV - minV);
    return this.squareCrop(cos * cu - sin * cv, sin * cu + cos * cv, side, angle);
  }

  /** The same square crop read right to left (crop x → side − x): FaceMesh fitted in the mirror image of `cropToBase`. */
  mirroredCrop(cropToBase: Affine2D): Affine2D {
    const m = cropToBase,
      side = this.inputSize;
    return { a: -m.a, b: m.b, c: -m.c, d: m.d, tx: m.tx + m.a * side, ty: m.ty + m.c * side };
  }

  /** Crop pixels → base pixels for a square of `side` base pixels centred at (cx, cy), x axis along `angle`. */
  private squareCrop(cx: number, cy: number, side: number, angle: number): Affine2D {
    const half = this.inputSize / 2;
    const s = side / this.inputSize;
    const a = s * Math.cos(angle),
      c = s * Math.sin(angle);
    const b = -c,
      d = a;
    return { a, b, c, d, tx: cx - half * (a + b), ty: cy - half * (c + d) };
  }
}
