// The demo page: photo in (drop, picker, webcam), facegar reconstructs it in a worker, the page
// shows the overlay, a 3D viewer, the numbers, and offers the downloads.
// URL options: ?model=<url of the compact model> ?backend=wasm|webgl|webgpu|cpu ?fit=<JSON of FitConfig overrides>
import { loadCompactModelBytes, loadGraphModelBytes } from './model-store.ts';
import { MeshViewer } from './viewer.ts';
import type { WorkerRequest, WorkerResponse } from './messages.ts';
import { MAX_FILE_BYTES, MAX_FIT_SIDE_PX, MAX_PIXELS } from './limits.ts';

const params = new URLSearchParams(location.search);
const modelUrl = new URL(params.get('model') ?? 'models/ict-facekit.fgmm', location.href).href;
const backend = params.get('backend') ?? undefined;
const fit = params.get('fit') ? JSON.parse(params.get('fit')!) : undefined;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const messageBox = $('message');
const state = (value: string) => { document.body.dataset.state = value; };

/** What the page exposes for scripts and tests: the last result's JSON, the last error. */
const exposed: { result?: Record<string, unknown>; error?: string; meshVertexCount?: number; timingsMs?: Record<string, number> } = {};
(globalThis as unknown as { facegar: typeof exposed }).facegar = exposed;

function showMessage(text: string, kind: 'error' | 'info'): void {
  messageBox.textContent = text;
  messageBox.className = kind;
  if (kind === 'error') exposed.error = text;
}
function clearMessage(): void { messageBox.className = ''; messageBox.textContent = ''; }

function setProgress(stage: string, fraction: number): void {
  const bar = document.getElementById(`p-${stage}`) as HTMLProgressElement | null;
  if (bar) bar.value = Math.max(0, Math.min(1, fraction));
}

const viewer = new MeshViewer($('viewer'));
const worker = new Worker(new URL('worker.js', location.href), { type: 'module' });
let ready = false;
let busy = false;
let pending: ((response: WorkerResponse) => void) | undefined;
let photoStartedMs = 0;

worker.onerror = (event) => { state('error'); showMessage(`The reconstruction worker failed to start: ${event.message || 'unknown error'}`, 'error'); };
worker.onmessage = (event: MessageEvent<WorkerResponse>) => {
  const response = event.data;
  if (response.type === 'progress') {
    // The reconstructor's fraction spans detect → landmarks → photometric; show each stage's own share.
    if (response.stage === 'detect') setProgress('detect', 0.5);
    if (response.stage === 'landmarks') { setProgress('detect', 1); setProgress('landmarks', (response.fraction - 0.05) / (0.95 * 0.4)); }
    if (response.stage === 'photometric') { setProgress('landmarks', 1); setProgress('photometric', (response.fraction - 0.05 - 0.95 * 0.4) / (0.95 * 0.6)); }
    if (response.stage === 'texture') { setProgress('photometric', 1); setProgress('texture', response.fraction); }
    return;
  }
  pending?.(response);
};

function ask(request: WorkerRequest, transfer: Transferable[] = []): Promise<WorkerResponse> {
  return new Promise((resolve) => { pending = resolve; worker.postMessage(request, transfer); });
}

async function start(): Promise<void> {
  state('loading');
  try {
    setProgress('model', 0.1);
    const { bytes, fromCache } = await loadCompactModelBytes(modelUrl, (text) => { $('model-status').textContent = text; });
    setProgress('model', 0.6);
    const detectorBase = new URL('detector/', location.href).href;
    const [blazeface, facemesh] = await Promise.all([loadGraphModelBytes(detectorBase, 'blazeface'), loadGraphModelBytes(detectorBase, 'facemesh')]);
    const response = await ask({ type: 'init', backend, wasmPath: new URL('wasm/', location.href).href, modelBytes: bytes, detector: { blazeface, facemesh } }, [bytes]);
    if (response.type !== 'ready') throw new Error(response.type === 'error' ? response.message : 'unexpected worker reply');
    setProgress('model', 1);
    $('model-status').textContent = fromCache ? 'ICT-FaceKit (browser cache)' : 'ICT-FaceKit (downloaded, now cached)';
    $('backend').textContent = response.backend === 'wasm' ? `wasm (${response.threads} thread${response.threads === 1 ? '' : 's'})` : response.backend;
    ready = true;
    state('ready');
  } catch (error) {
    state('error');
    $('model-status').textContent = 'unavailable';
    showMessage((error as Error).message, 'error');
  }
}

/** Decode a file to RGBA in the page (EXIF orientation applied by the browser), downscaled for fitting. */
async function decodePhoto(blob: Blob, name: string): Promise<{ image: ImageData; scale: number; originalSize: { width: number; height: number } }> {
  if (blob.size > MAX_FILE_BYTES) throw new Error(`${name}: the file is ${(blob.size / 1e6).toFixed(0)} MB; photos up to ${MAX_FILE_BYTES / 1e6} MB are accepted.`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    throw new Error(`${name}: not an image the browser can decode (JPEG, PNG, WebP, …).`);
  }
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) { bitmap.close(); throw new Error(`${name}: the photo is ${width}×${height} pixels; at most ${MAX_PIXELS / 1e6} megapixels are accepted.`); }
  const scale = Math.min(1, MAX_FIT_SIDE_PX / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale)), h = Math.max(1, Math.round(height * scale));
  const canvas = new OffscreenCanvas(w, h);
  const context = canvas.getContext('2d')!;
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  return { image: context.getImageData(0, 0, w, h), scale: w / width, originalSize: { width, height } };
}

async function reconstructBlob(blob: Blob, name: string): Promise<void> {
  if (!ready) { showMessage('The models are not loaded yet (see the message above or wait a moment).', 'error'); return; }
  if (busy) { showMessage('Still working on the previous photo.', 'info'); return; }
  busy = true;
  state('busy');
  clearMessage();
  clearResult();
  for (const stage of ['detect', 'landmarks', 'photometric', 'texture']) setProgress(stage, 0);
  photoStartedMs = performance.now();
  try {
    const { image, scale, originalSize } = await decodePhoto(blob, name);
    if (scale < 1) showMessage(`${name}: ${originalSize.width}×${originalSize.height} px, fitted at ${image.width}×${image.height}; results are in the original pixels.`, 'info');
    drawImage($('photo-canvas'), image);
    const rgba = { width: image.width, height: image.height, data: image.data };
    const response = await ask({ type: 'reconstruct', image: rgba, scale, originalSize, name, fit }, [image.data.buffer]);
    if (response.type === 'error') {
      throw new Error(response.code === 'no_face' || /no face/i.test(response.message) ? `${name}: no face found in this photo. Try a photo where the face is visible and at least ~80 px wide.` : `${name}: ${response.message}`);
    }
    if (response.type !== 'result') throw new Error('unexpected worker reply');
    await showResult(response, performance.now() - photoStartedMs);
    state('done');
  } catch (error) {
    showMessage((error as Error).message, 'error');
    state('failed');
  } finally {
    busy = false;
  }
}

async function showResult(result: Extract<WorkerResponse, { type: 'result' }>, photoToMeshMs: number): Promise<void> {
  const { json, files, overlay } = result;
  drawImage($('render-canvas'), new ImageData(new Uint8ClampedArray(overlay.data), overlay.width, overlay.height));
  const photo = $<HTMLCanvasElement>('photo-canvas'), render = $<HTMLCanvasElement>('render-canvas');
  render.style.width = `${photo.clientWidth}px`;
  render.style.height = `${photo.clientHeight}px`;
  applyBlend();
  const vertexCount = await viewer.show(files.glb);
  const pose = json.pose as { anglesDeg: { pitch: number; yaw: number; roll: number } };
  const timings = json.timingsMs as Record<string, number>;
  exposed.result = json;
  exposed.meshVertexCount = vertexCount;
  exposed.timingsMs = { ...timings, photoToMesh: Math.round(photoToMeshMs) };
  $('summary').textContent = `landmark error ${json.landmarkErrorPx} px (${(100 * (json.landmarkErrorPx as number) / (json.interOcularPx as number)).toFixed(1)} % of the eye distance) · `
    + `yaw ${pose.anglesDeg.yaw.toFixed(0)}°, pitch ${pose.anglesDeg.pitch.toFixed(0)}° · texture: ${(100 * result.coverage.photo).toFixed(0)} % seen, ${(100 * result.coverage.mirror).toFixed(0)} % mirrored · `
    + `times: detect ${timings.detect} ms, fit ${timings.fit} ms, texture ${timings.texture} ms, photo to mesh ${Math.round(photoToMeshMs)} ms`;
  const downloads = $('downloads');
  downloads.replaceChildren();
  const link = (name: string, data: BlobPart, type: string, id: string) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([data], { type }));
    a.download = name;
    a.id = id;
    a.textContent = name;
    downloads.appendChild(a);
  };
  link(files.names.glb, files.glb as BlobPart, 'model/gltf-binary', 'download-glb');
  link(files.names.obj, files.obj, 'text/plain', 'download-obj');
  link(files.names.mtl, files.mtl, 'text/plain', 'download-mtl');
  link(files.names.texture, files.texturePng as BlobPart, 'image/png', 'download-texture');
  link(files.names.json, files.json, 'application/json', 'download-json');
}

/** Forget the previous photo's result, so a failure never shows beside another photo's mesh and downloads. */
function clearResult(): void {
  for (const id of ['photo-canvas', 'render-canvas']) { const canvas = $<HTMLCanvasElement>(id); canvas.width = 0; canvas.height = 0; }
  viewer.clear();
  $('summary').textContent = '';
  for (const a of $('downloads').querySelectorAll('a')) URL.revokeObjectURL(a.href);
  $('downloads').replaceChildren();
  exposed.result = undefined;
  exposed.meshVertexCount = undefined;
  exposed.timingsMs = undefined;
}

function drawImage(canvas: HTMLCanvasElement, image: ImageData): void {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')!.putImageData(image, 0, 0);
}

function applyBlend(): void {
  $('render-canvas').style.opacity = $<HTMLInputElement>('blend').value;
}

// Inputs: file picker, drag and drop, webcam.
$<HTMLInputElement>('blend').addEventListener('input', applyBlend);
$<HTMLInputElement>('file').addEventListener('change', (event) => {
  const input = event.target as HTMLInputElement;
  const file = input.files?.[0];
  // Reset, so picking the same file again (after a failure, say) fires 'change' again.
  input.value = '';
  if (file) void reconstructBlob(file, file.name);
});
const drop = $('drop');
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  const file = event.dataTransfer?.files?.[0];
  if (file) void reconstructBlob(file, file.name);
  else showMessage('Drop an image file (JPEG, PNG, WebP).', 'error');
});
$('webcam').addEventListener('click', async () => {
  const video = $<HTMLVideoElement>('video');
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser offers no camera access here (it needs https or localhost)');
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
    video.style.display = 'block';
    $<HTMLButtonElement>('capture').disabled = false;
    clearMessage();
  } catch (error) {
    const name = (error as Error).name;
    showMessage(name === 'NotAllowedError' ? 'The webcam was denied: allow camera access for this page, or pick a photo instead.'
      : name === 'NotFoundError' ? 'No webcam found: pick a photo instead.'
        : `The webcam could not be started: ${(error as Error).message}`, 'error');
  }
});
$('capture').addEventListener('click', async () => {
  const video = $<HTMLVideoElement>('video');
  const canvas = new OffscreenCanvas(video.videoWidth || 640, video.videoHeight || 480);
  canvas.getContext('2d')!.drawImage(video, 0, 0);
  void reconstructBlob(await canvas.convertToBlob({ type: 'image/png' }), 'webcam.png');
});
window.addEventListener('unhandledrejection', (event) => showMessage(`Unexpected error: ${String((event.reason as Error)?.message ?? event.reason).split('\n')[0]}`, 'error'));

void start();
