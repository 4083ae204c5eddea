// The page's worker: chooses the backend, loads the models once, then reconstructs photos (the
// GAR path as the CLI runs it, or the graphics path) and follows the webcam's face, off the main
// thread so the page stays responsive and the progress bars move. Everything here is facegar's
// core through its public entry: the photo never leaves the browser.
import '@tensorflow/tfjs-backend-webgl';
import {
  Reconstructor,
  rescaleReconstruction,
  reconstructionToJson,
  renderGarComparison,
  renderOverlay,
  describeBackend,
  createFaceDetector,
  bakeFaceTexture,
  findMirrorVertices,
  computeVertexNormalsArray,
  meshToGlb,
  meshToObj,
  decodeCompactModel,
  FacegarError,
  ModelUnavailableError,
  type BackendName,
  type DetectedFace,
  type DetectorModelFiles,
  type FaceDetector,
  type FaceTracker,
  type MorphableModel,
  type Reconstruction,
  type RgbaImage,
} from '../src/index.ts';
import { chooseBackend } from './backend-probe.ts';
import type { PhotoSettings, ProgressStage, WorkerRequest, WorkerResponse } from './messages.ts';

const VERSION = '0.1.0';
let reconstructor: Reconstructor | undefined;
let tracker: FaceTracker | undefined;
let model: MorphableModel | undefined;
let mirrorVertices: Int32Array | undefined;

const post = (message: WorkerResponse, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(message, transfer);
const progress = (stage: ProgressStage, fraction: number) => post({ type: 'progress', stage, fraction });

// One message at a time, in order of arrival: an async handler would otherwise start the next
// queued frame at the first await of the last, and two frames would share the tracker's state.
let handled: Promise<void> = Promise.resolve();
self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  handled = handled.then(() => handle(event.data));
};

async function handle(request: WorkerRequest): Promise<void> {
  try {
    if (request.type === 'init') {
      const choice = await chooseBackend(request.backend as BackendName | undefined, request.wasmPath);
      model = decodeCompactModel(new Uint8Array(request.modelBytes), 'morphable model');
      mirrorVertices = findMirrorVertices(model.neutral, model.vertexCount);
      const detector = rememberLastDetection(await createFaceDetector(request.detector as DetectorModelFiles));
      // Networks that do not decode (or do not fit the model) leave the graphics path usable.
      let garError: string | undefined;
      const identityRegressor = request.identityRegressor ? { identityRegressor: request.identityRegressor } : {};
      reconstructor = await Reconstructor.create({ model, detector, gar: request.networks, ...identityRegressor }).catch(async (error) => {
        if (!(error instanceof ModelUnavailableError) || !(request.networks || request.identityRegressor)) throw error;
        garError = error.message;
        return Reconstructor.create({ model: model!, detector });
      });
      const { name, threads } = describeBackend();
      const { gar, encoder } = reconstructor.garAvailable;
      post({ type: 'ready', backend: name, threads, choice, gar, encoder, garError, triangles: model.triangles.slice() });
    } else if (request.type === 'reconstruct') {
      await reconstructPhoto(request.image, request.scale, request.originalSize, request.name, request.settings);
    } else if (request.type === 'track') {
      await trackFrame(request.frame);
    } else if (request.type === 'track-reset') {
      if (request.tracker && reconstructor) {
        const next = reconstructor.createTracker(request.tracker); // throws on unknown or out-of-range options
        tracker?.dispose();
        tracker = next;
      }
      tracker?.reset();
      post({ type: 'tracked' });
    }
  } catch (error) {
    const known = error instanceof FacegarError;
    const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
    post({ type: 'error', code: known ? (error as FacegarError).code : 'internal', message: known ? message : `internal error: ${message}` });
  }
}

/**
 * The detector, remembering its last answer: the GAR path reconstructs a photo twice (the
 * encoder's estimate first, shown at once, then the refinement), and detects it once.
 */
function rememberLastDetection(detector: FaceDetector): FaceDetector {
  let last: { image: RgbaImage; faces: Promise<DetectedFace[]> } | undefined;
  return {
    detect(image) {
      if (last?.image !== image) last = { image, faces: detector.detect(image) };
      return last.faces;
    },
    track: detector.track?.bind(detector),
    dispose() {
      last = undefined;
      detector.dispose();
    },
  };
}

async function reconstructPhoto(
  image: RgbaImage,
  scale: number,
  originalSize: { width: number; height: number },
  name: string,
  settings: PhotoSettings,
): Promise<void> {
  if (!reconstructor || !model) throw new Error('the worker was not initialised');
  const stem = name.replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_') || 'face';
  let raw: Reconstruction;
  let estimate: Reconstruction | undefined;
  if (settings.renderer === 'gar') {
    progress('detect', 0.5);
    estimate = await reconstructor.reconstruct(image, { maxFaces: 1, renderer: 'gar', garPreset: 'instant', knownFocalPx: settings.knownFocalPx });
    progress('detect', 1);
    progress('encode', 1);
    postEstimate(image, estimate);
    raw =
      settings.preset === 'instant'
        ? estimate
        : await reconstructor.reconstruct(image, {
            maxFaces: 1,
            renderer: 'gar',
            garPreset: settings.preset,
            knownFocalPx: settings.knownFocalPx,
            onProgress: (p) => {
              if (p.stage === 'landmarks' || p.stage === 'gar') progress(p.stage === 'gar' ? 'refine' : 'landmarks', p.stageFraction ?? 0);
            },
          });
  } else {
    let detected = false;
    raw = await reconstructor.reconstruct(image, {
      maxFaces: 1,
      renderer: 'graphics',
      fit: settings.fit,
      knownFocalPx: settings.knownFocalPx,
      onProgress: (p) => {
        if (p.stage === 'detect') {
          progress('detect', 0.5);
          return;
        }
        if (!detected) {
          detected = true;
          progress('detect', 1);
        }
        progress(p.stage === 'photometric' ? 'refine' : 'landmarks', p.stageFraction ?? 0);
      },
    });
  }
  progress('landmarks', 1);
  progress('refine', 1);
  const started = performance.now();
  progress('texture', 0);
  const face = raw.faces[0];
  const texture = bakeFaceTexture(image, face, model, {}, mirrorVertices);
  const texturePng = await encodePngInWorker(texture.image);
  const mesh = exportMesh(face.vertices);
  const glb = meshToGlb(mesh, { texturePng }).bytes;
  const names = { glb: `${stem}.glb`, obj: `${stem}.obj`, mtl: `${stem}.mtl`, texture: `${stem}.texture.png`, json: `${stem}.json` };
  const obj = meshToObj(mesh, { materialLibrary: names.mtl, materialName: 'face', comment: `facegar ${VERSION}: ${name}, model space, millimetres` });
  const mtl = `# facegar ${VERSION}\nnewmtl face\nKa 0 0 0\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\nmap_Kd ${names.texture}\n`;
  const textureMs = performance.now() - started;
  progress('texture', 1);
  const overlay = renderOverlay(image, raw.faces, model, { maxSidePx: 1024, opacity: 1 });
  const reconstruction = rescaleReconstruction(raw, 1 / scale, originalSize);
  // GAR path: the estimate's pass detected the face (the refinement's pass reused it) and ran the encoder.
  const fitMs = raw.timingsMs.fit + (estimate && estimate !== raw ? estimate.timingsMs.fit : 0);
  const timingsMs: Record<string, number> = {
    detect: (estimate ?? raw).timingsMs.detect,
    fit: fitMs,
    texture: textureMs,
    total: (estimate ?? raw).timingsMs.detect + fitMs + textureMs,
  };
  if (estimate) timingsMs.encode = estimate.timingsMs.encode!;
  if (estimate && estimate !== raw) Object.assign(timingsMs, { landmarks: raw.timingsMs.landmarks!, refine: raw.timingsMs.refine! });
  const json = reconstructionToJson(reconstruction, {
    input: name,
    outputs: [{ glb: names.glb, obj: names.obj, mtl: names.mtl, texture: names.texture }],
    timingsMs,
    version: VERSION,
  });
  post(
    {
      type: 'result',
      json,
      overlay,
      files: { names, glb, obj, mtl, texturePng, json: JSON.stringify(json, null, 1) + '\n' },
      coverage: texture.coverage,
      garComparison: face.gar ? renderGarComparison(face.gar) : undefined,
    },
    [glb.buffer as ArrayBuffer],
  );
}

/** The encoder's estimate as the page shows it while the refinement runs: overlay, untextured mesh, crop beside GAR render. */
function postEstimate(image: RgbaImage, estimate: Reconstruction): void {
  const face = estimate.faces[0];
  const glb = meshToGlb(exportMesh(face.vertices)).bytes;
  post(
    {
      type: 'estimate',
      overlay: renderOverlay(image, estimate.faces, model!, { maxSidePx: 1024, opacity: 1 }),
      glb,
      garComparison: renderGarComparison(face.gar!),
      landmarkErrorPercent: (100 * face.landmarkErrorPx) / face.interOcularPx,
      encodeMs: estimate.timingsMs.total,
    },
    [glb.buffer as ArrayBuffer],
  );
}

function exportMesh(vertices: Float32Array) {
  const m = model!;
  return {
    positions: vertices,
    triangles: m.triangles,
    normals: computeVertexNormalsArray(vertices, m.triangles),
    uvs: m.uvs,
    triangleUvIndices: m.triangleUvIndices,
  };
}

/** One webcam frame: follow the face (a few landmark steps; the encoder every few frames), send the mesh and pose. */
async function trackFrame(bitmap: ImageBitmap): Promise<void> {
  if (!reconstructor) throw new Error('the worker was not initialised');
  tracker ??= reconstructor.createTracker();
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('no 2D canvas context in this browser');
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  const face = await tracker.track({ width: pixels.width, height: pixels.height, data: pixels.data });
  if (!face) {
    post({ type: 'tracked' });
    return;
  }
  post(
    {
      type: 'tracked',
      frame: {
        vertices: face.vertices,
        rotation: face.rotation,
        translationMm: face.translationMm,
        focalPx: face.focalPx,
        principalPointPx: face.principalPointPx,
        frameSize: { width: pixels.width, height: pixels.height },
        landmarks2d: face.landmarks2d,
        detectedLandmarks2d: face.detectedLandmarks2d,
        landmarkErrorPercent: (100 * face.landmarkErrorPx) / face.interOcularPx,
        anglesDeg: face.anglesDeg,
        identityFrames: face.identityFrames,
        encoded: face.encoded,
        identity: face.identity,
        timingsMs: face.timingsMs,
      },
    },
    [face.vertices.buffer as ArrayBuffer],
  );
}

async function encodePngInWorker(image: RgbaImage): Promise<Uint8Array> {
  const canvas = new OffscreenCanvas(image.width, image.height);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2D canvas context in this browser');
  context.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return new Uint8Array(await blob.arrayBuffer());
}
