import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { ModelUnavailableError } from '../common/errors.ts';
import type { Affine2D } from '../common/image.ts';
import type { ImagePyramid } from './image-pyramid.ts';
import { rgbInputTensor } from './model-input.ts';

/** Axis-aligned box, top-left corner and size, in pixels. */
export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One BlazeFace detection, in the pixels of the image it ran on. */
export interface BlazeFaceDetection {
  box: FaceBox;
  /**
   * [6 * 2] x, y of: image-left eye, image-right eye, nose tip, mouth centre,
   * image-left ear tragion, image-right ear tragion (for an upright face).
   */
  keypoints: Float32Array;
  /** Sigmoid of the classifier logit, 0..1. */
  score: number;
}

export interface BlazeFaceOptions {
  minScore: number;
  maxDetections: number;
  /** Candidates overlapping a better one by more than this IoU are merged into it. */
  iouThreshold: number;
}

const VALUES_PER_ANCHOR = 16; // box centre dx, dy, width, height, then 6 keypoints (x, y)

/**
 * BlazeFace short-range detector (MediaPipe's 128 px "front" or 256 px "back" model).
 * Anchors: two feature maps of stride size/16 and size/8 with 2 and 6 anchors per cell;
 * regressor offsets are in input pixels from the anchor centre.
 */
export class BlazeFace {
  readonly inputSize: number;
  private readonly model: GraphModel;
  /** [anchorCount * 2] anchor centres in input pixels, fine map first. */
  private readonly anchors: Float32Array;

  constructor(model: GraphModel) {
    const shape = model.inputs[0]?.shape;
    const size = shape?.[1];
    if (!shape || shape.length !== 4 || typeof size !== 'number' || size !== shape[2] || size % 16 !== 0) {
      throw new ModelUnavailableError(`blazeface: unexpected input shape ${JSON.stringify(shape)} (want [1, S, S, 3], S a multiple of 16)`);
    }
    this.model = model;
    this.inputSize = size;
    this.anchors = makeAnchors(size);
  }

  /** Detect faces in `pyramid.base`; results in base pixels, best score first. */
  async detect(pyramid: ImagePyramid, options: BlazeFaceOptions): Promise<BlazeFaceDetection[]> {
    const { width, height } = pyramid.base;
    const size = this.inputSize;
    // Letterbox: the longer side fills the input, the image sits centred.
    const basePerInput = Math.max(width, height) / size;
    const inputToBase: Affine2D = {
      a: basePerInput,
      b: 0,
      c: 0,
      d: basePerInput,
      tx: (width - size * basePerInput) / 2,
      ty: (height - size * basePerInput) / 2,
    };
    const input = rgbInputTensor(pyramid.sampleCrop(inputToBase, size, size), -1, 1);
    const { logits, regressors } = await this.run(input);
    input.dispose();
    const candidates = this.decode(logits, regressors, options.minScore, inputToBase);
    return mergeOverlapping(candidates, options.iouThreshold).slice(0, options.maxDetections);
  }

  dispose(): void {
    this.model.dispose();
  }

  /** Raw outputs concatenated in anchor order: logits [N], regressors [N * 16]. */
  private async run(input: tf.Tensor4D): Promise<{ logits: Float32Array; regressors: Float32Array }> {
    const outputs = this.model.execute(input) as tf.Tensor[];
    try {
      const scores = outputs.filter((t) => t.shape.length === 3 && t.shape[2] === 1);
      const boxes = outputs.filter((t) => t.shape.length === 3 && t.shape[2] === VALUES_PER_ANCHOR);
      // The fine map has more anchors: order both groups by anchor count, largest first.
      const byCount = (p: tf.Tensor, q: tf.Tensor) => q.shape[1]! - p.shape[1]!;
      scores.sort(byCount);
      boxes.sort(byCount);
      const logits = concat(await Promise.all(scores.map((t) => t.data() as Promise<Float32Array>)));
      const regressors = concat(await Promise.all(boxes.map((t) => t.data() as Promise<Float32Array>)));
      const anchorCount = this.anchors.length / 2;
      if (logits.length !== anchorCount || regressors.length !== anchorCount * VALUES_PER_ANCHOR) {
        throw new ModelUnavailableError(`blazeface: outputs hold ${logits.length} scores, expected ${anchorCount} anchors`);
      }
      return { logits, regressors };
    } finally {
      for (const t of outputs) t.dispose();
    }
  }

  private decode(logits: Float32Array, regressors: Float32Array, minScore: number, inputToBase: Affine2D): BlazeFaceDetection[] {
    const out: BlazeFaceDetection[] = [];
    const s = inputToBase.a;
    for (let i = 0; i < logits.length; i++) {
      const score = 1 / (1 + Math.exp(-Math.max(-100, Math.min(100, logits[i]))));
      if (score < minScore) continue;
      const r = i * VALUES_PER_ANCHOR,
        ax = this.anchors[2 * i],
        ay = this.anchors[2 * i + 1];
      const cx = ax + regressors[r],
        cy = ay + regressors[r + 1];
      const w = regressors[r + 2],
        h = regressors[r + 3];
      if (!(w > 0 && h > 0)) continue;
      const keypoints = new Float32Array(12);
      for (let k = 0; k < 6; k++) {
        keypoints[2 * k] = (ax + regressors[r + 4 + 2 * k]) * s + inputToBase.tx;
        keypoints[2 * k + 1] = (ay + regressors[r + 5 + 2 * k]) * s + inputToBase.ty;
      }
      const box = { x: (cx - w / 2) * s + inputToBase.tx, y: (cy - h / 2) * s + inputToBase.ty, width: w * s, height: h * s };
      out.push({ box, keypoints, score });
    }
    return out.sort((p, q) => q.score - p.score);
  }
}

function makeAnchors(size: number): Float32Array {
  const layers = [
    { stride: size / 16, perCell: 2 },
    { stride: size / 8, perCell: 6 },
  ];
  const centres: number[] = [];
  for (const { stride, perCell } of layers) {
    const cells = Math.ceil(size / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let n = 0; n < perCell; n++) centres.push((x + 0.5) * stride, (y + 0.5) * stride);
      }
    }
  }
  return new Float32Array(centres);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Intersection over union of two boxes (0 when either is empty). */
export function boxIoU(p: FaceBox, q: FaceBox): number {
  const w = Math.min(p.x + p.width, q.x + q.width) - Math.max(p.x, q.x);
  const h = Math.min(p.y + p.height, q.y + q.height) - Math.max(p.y, q.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (p.width * p.height + q.width * q.height - inter);
}

/**
 * Weighted non-maximum suppression: each kept detection is the score-weighted mean of
 * the candidates overlapping the best remaining one, which steadies box and keypoints.
 * `candidates` must be sorted by score, best first.
 */
function mergeOverlapping(candidates: BlazeFaceDetection[], iouThreshold: number): BlazeFaceDetection[] {
  const kept: BlazeFaceDetection[] = [];
  let remaining = candidates;
  while (remaining.length > 0) {
    const best = remaining[0];
    const group = remaining.filter((c) => boxIoU(best.box, c.box) > iouThreshold);
    remaining = remaining.filter((c) => boxIoU(best.box, c.box) <= iouThreshold && c !== best);
    let weight = 0,
      x = 0,
      y = 0,
      w = 0,
      h = 0;
    const keypoints = new Float32Array(12);
    for (const c of group) {
      weight += c.score;
      x += c.score * c.box.x;
      y += c.score * c.box.y;
      w += c.score * c.box.width;
      h += c.score * c.box.height;
      for (let k = 0; k < 12; k++) keypoints[k] += c.score * c.keypoints[k];
    }
    for (let k = 0; k < 12; k++) keypoints[k] /= weight;
    kept.push({ box: { x: x / weight, y: y / weight, width: w / weight, height: h / weight }, keypoints, score: best.score });
  }
  return kept;
}
