import type { FaceReconstruction } from '../api/reconstruct.ts';
import { meshToObj } from '../io/mesh-export.ts';
import { trianglesWithinVertexRange, type MorphableModel } from '../morphable/morphable-model.ts';
import { MICC_SETTINGS } from './micc-protocol.ts';
import { NOW_LANDMARK_IBUG_INDICES } from './now-protocol.ts';

/**
 * Prediction files in the layouts `facegar eval now` and `facegar eval micc` read (core: returns
 * relative paths and bytes; the caller writes them). Meshes are the model-space vertices (mm,
 * +y up, face looking along +z) of the model's full face area, as OBJ; the 7 NoW landmark points
 * (right eye outer, inner, left eye inner, outer, nose bottom, mouth right, left corner) go in a
 * `.txt` of 7 lines "x y z" beside the mesh.
 */
export interface PredictionFile {
  /** Relative path with '/' separators. */
  path: string;
  bytes: Uint8Array;
}

type MeshSource = Pick<FaceReconstruction, 'vertices'>;

/**
 * NoW layout: `<subject>/<subset>/<stem>.obj` and `<stem>.txt`, for the image
 * `<subject>/<subset>/<stem>.jpg` of NoW's image list.
 */
export function writeNowPrediction(face: MeshSource, model: MorphableModel, image: { subject: string; subset: string; stem: string }): PredictionFile[] {
  for (const [key, value] of Object.entries(image)) checkPathPart(value, key);
  return meshAndLandmarks(Float64Array.from(face.vertices), model, `${image.subject}/${image.subset}/${image.stem}`);
}

/**
 * MICC layout: `<subject>/<video>.obj` and `<video>.txt`, `<video>` the dataset's video name of
 * `setting` (Indoor-Cooperative, PTZ-Indoor, PTZ-Outdoor; `cooperative`/`indoor`/`outdoor`
 * accepted too). Several faces (one per video frame) are averaged vertex by vertex into one mesh,
 * as published MICC evaluations pool the frames of a video.
 */
export function writeMiccPrediction(frames: MeshSource[], model: MorphableModel, target: { subject: string; setting: string }): PredictionFile[] {
  checkPathPart(target.subject, 'subject');
  const setting = MICC_SETTINGS.find((s) => s.name === target.setting || s.video === target.setting);
  if (!setting) throw new RangeError(`unknown MICC setting "${target.setting}" (expected ${MICC_SETTINGS.map((s) => s.video).join(', ')})`);
  if (frames.length === 0) throw new RangeError('writeMiccPrediction needs at least one reconstructed frame');
  const mean = new Float64Array(frames[0].vertices.length);
  for (const frame of frames) {
    if (frame.vertices.length !== mean.length) throw new RangeError('all frames must have the same vertex count');
    for (let i = 0; i < mean.length; i++) mean[i] += frame.vertices[i] / frames.length;
  }
  return meshAndLandmarks(mean, model, `${target.subject}/${setting.video}`);
}

function meshAndLandmarks(vertices: Float64Array, model: MorphableModel, base: string): PredictionFile[] {
  const count = model.vertexCount;
  const positions = Float32Array.from(vertices.subarray(0, 3 * count));
  const triangles = trianglesWithinVertexRange(model.triangles, count);
  const obj = meshToObj({ positions, triangles }, { comment: 'facegar prediction: model space, mm, +y up, face along +z' });
  const lines = NOW_LANDMARK_IBUG_INDICES.map((k) => {
    const v = model.landmarkVertexIndices[k];
    return `${round(positions[3 * v])} ${round(positions[3 * v + 1])} ${round(positions[3 * v + 2])}`;
  });
  const encoder = new TextEncoder();
  return [
    { path: `${base}.obj`, bytes: encoder.encode(obj) },
    { path: `${base}.txt`, bytes: encoder.encode(lines.join('\n') + '\n') },
  ];
}

const round = (v: number) => Number(v.toFixed(4));

function checkPathPart(value: string, name: string): void {
  if (!value || /[\\/]/.test(value) || value === '.' || value === '..') throw new RangeError(`${name} must be one path component, got "${value}"`);
}
