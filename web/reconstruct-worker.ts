// The page's worker: loads the models once, then reconstructs photos off the main thread so the
// page stays responsive and the progress bars move. Everything here is facegar's core: the photo
// never leaves the browser.
import '@tensorflow/tfjs-backend-webgl';
import { Reconstructor, rescaleReconstruction } from '../src/api/reconstruct.ts';
import { reconstructionToJson } from '../src/api/result-json.ts';
import { FacegarError } from '../src/common/errors.ts';
import type { RgbaImage } from '../src/common/image.ts';
import { describeBackend, initBackend, type BackendName } from '../src/engine/backend.ts';
import type { DetectorModelFiles } from '../src/detect/index.ts';
import { bakeFaceTexture, findMirrorVertices } from '../src/fit/face-texture.ts';
import type { FitConfig } from '../src/fit/fit-config.ts';
import { renderOverlay } from '../src/fit/render-overlay.ts';
import { computeVertexNormalsArray } from '../src/geometry/vertex-normals.ts';
import { meshToGlb } from '../src/io/gltf-export.ts';
import { meshToObj } from '../src/io/mesh-export.ts';
import { decodeCompactModel } from '../src/morphable/compact-model.ts';
import type { MorphableModel } from '../src/morphable/morphable-model.ts';
import type { WorkerRequest, WorkerResponse } from './messages.ts';

const VERSION = '0.1.0';
let reconstructor: Reconstructor | undefined;
let model: MorphableModel | undefined;
let mirrorVertices: Int32Array | undefined;

const post = (message: WorkerResponse, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(message, transfer);

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  try {
    if (request.type === 'init') {
      await initBackend({ backend: request.backend as BackendName | undefined, wasmPath: request.wasmPath });
      model = decodeCompactModel(new Uint8Array(request.modelBytes), 'morphable model');
      mirrorVertices = findMirrorVertices(model.neutral, model.vertexCount);
      reconstructor = await Reconstructor.create({ model, detector: request.detector as DetectorModelFiles });
      post({ type: 'ready', backend: describeBackend().name, threads: describeBackend().threads });
    } else if (request.type === 'reconstruct') {
      await reconstructPhoto(request.image, request.scale, request.originalSize, request.name, request.fit);
    }
  } catch (error) {
    const known = error instanceof FacegarError;
    const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
    post({ type: 'error', code: known ? (error as FacegarError).code : 'internal', message: known ? message : `internal error: ${message}` });
  }
};

async function reconstructPhoto(image: RgbaImage, scale: number, originalSize: { width: number; height: number }, name: string, fit: Partial<FitConfig> | undefined): Promise<void> {
  if (!reconstructor || !model) throw new Error('the worker was not initialised');
  const stem = name.replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_') || 'face';
  const raw = await reconstructor.reconstruct(image, {
    maxFaces: 1,
    fit,
    // The page runs the graphics path: its stages are the only ones it draws bars for.
    onProgress: (p) => { if (p.stage !== 'gar') post({ type: 'progress', stage: p.stage, fraction: p.fraction }); },
  });
  const started = performance.now();
  post({ type: 'progress', stage: 'texture', fraction: 0 });
  const face = raw.faces[0];
  const texture = bakeFaceTexture(image, face, model, {}, mirrorVertices);
  const texturePng = await encodePngInWorker(texture.image);
  const normals = computeVertexNormalsArray(face.vertices, model.triangles);
  const mesh = { positions: face.vertices, triangles: model.triangles, normals, uvs: model.uvs, triangleUvIndices: model.triangleUvIndices };
  const glb = meshToGlb(mesh, { texturePng }).bytes;
  const names = { glb: `${stem}.glb`, obj: `${stem}.obj`, mtl: `${stem}.mtl`, texture: `${stem}.texture.png`, json: `${stem}.json` };
  const obj = meshToObj(mesh, { materialLibrary: names.mtl, materialName: 'face', comment: `facegar ${VERSION}: ${name}, model space, millimetres` });
  const mtl = `# facegar ${VERSION}\nnewmtl face\nKa 0 0 0\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\nmap_Kd ${names.texture}\n`;
  const textureMs = performance.now() - started;
  post({ type: 'progress', stage: 'texture', fraction: 1 });
  const overlay = renderOverlay(image, raw.faces, model, { maxSidePx: 1024, opacity: 1 });
  const reconstruction = rescaleReconstruction(raw, 1 / scale, originalSize);
  const timingsMs = { detect: raw.timingsMs.detect, fit: raw.timingsMs.fit, texture: textureMs, total: raw.timingsMs.total + textureMs };
  const json = reconstructionToJson(reconstruction, { input: name, outputs: [{ glb: names.glb, obj: names.obj, mtl: names.mtl, texture: names.texture }], timingsMs, version: VERSION });
  post({
    type: 'result',
    json,
    overlay,
    files: { names, glb, obj, mtl, texturePng, json: JSON.stringify(json, null, 1) + '\n' },
    coverage: texture.coverage,
  }, [glb.buffer as ArrayBuffer]);
}

async function encodePngInWorker(image: RgbaImage): Promise<Uint8Array> {
  const canvas = new OffscreenCanvas(image.width, image.height);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2D canvas context in this browser');
  context.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return new Uint8Array(await blob.arrayBuffer());
}
