// The demo page: photo in (drop, picker, webcam), facegar reconstructs it in a worker (the GAR
// path with the CLI's presets, or the graphics path), the page shows the encoder's estimate at
// once, then the refinement's progress, the overlay, the GAR's render beside the crop, a 3D
// viewer, the numbers, and offers the downloads. Live mode follows the webcam's face in 3D.
// URL options: ?model=<url of the compact model> ?backend=wasm|webgl|cpu ?renderer=gar|graphics
// ?preset=instant|fast|default|quality|shading ?fit=<JSON of FitConfig overrides: the graphics path>
import { loadCompactModelBytes, loadGraphModelBytes, loadLandmarkMap, loadNetworkFiles, type NetworkList } from './model-store.ts';
import { MeshViewer } from './viewer.ts';
import type { PhotoSettings, ProgressStage, WorkerResponse } from './messages.ts';
import { MAX_FILE_BYTES, MAX_FIT_SIDE_PX, MAX_PIXELS } from './limits.ts';
import { WorkerClient, WorkerReplacedError, type ReadyResponse } from './worker-client.ts';
import { expectedPhotoMs } from './expected-time.ts';
import { LiveMode, type LiveStats } from './live-mode.ts';
import type { GarRefinePresetName, RendererName } from '../src/index.ts';
// Straight from its module: the library's entry would bring TF.js into the page's own bundle.
import { focalFromExif } from '../src/index.ts';
import { EXIF_SEARCH_BYTES, jpegExifBlock } from './jpeg-exif.ts';
import { drawImage, replaceDownloadLinks, resultSummary, toImageData } from './result-panel.ts';

const params = new URLSearchParams(location.search);
const modelUrl = new URL(params.get('model') ?? 'models/ict-facekit.fgmm', location.href).href;
const fit = params.get('fit') ? JSON.parse(params.get('fit')!) : undefined;
/** Live mode's tracker options (`?live={"encoderInterval":1}`), checked by the worker. */
const liveTracker = params.get('live') ? JSON.parse(params.get('live')!) : undefined;
/** A photo far past its expected time: this many times the wasm estimate, plus the slack. */
const SLOW_FACTOR = 3;
const SLOW_SLACK_MS = 5000;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const messageBox = $('message');
const state = (value: string) => {
  document.body.dataset.state = value;
};

/** What the page exposes for scripts and tests: the last result's JSON, the last error, the backend choice, live stats. */
const exposed: {
  result?: Record<string, unknown>;
  error?: string;
  meshVertexCount?: number;
  timingsMs?: Record<string, number>;
  backend?: Omit<ReadyResponse, 'triangles'>;
  estimate?: { landmarkErrorPercent: number; shownAfterMs: number };
  slowOffer?: string;
  live?: LiveStats;
} = {};
(globalThis as unknown as { facegar: typeof exposed }).facegar = exposed;

function showMessage(text: string, kind: 'error' | 'info'): void {
  messageBox.textContent = text;
  messageBox.className = kind;
  if (kind === 'error') exposed.error = text;
}
function clearMessage(): void {
  messageBox.className = '';
  messageBox.textContent = '';
}

function setProgress(stage: ProgressStage | 'model', fraction: number): void {
  const bar = document.getElementById(`p-${stage}`) as HTMLProgressElement | null;
  if (bar) bar.value = Math.max(0, Math.min(1, fraction));
}

const viewer = new MeshViewer($('viewer'));
let client: WorkerClient | undefined;
let ready: ReadyResponse | undefined;
let triangles: Uint32Array | undefined;
let busy = false;
let photoStartedMs = 0;
let current: { blob: Blob; name: string } | undefined;

// ---- settings: the renderer and preset, as the CLI's --renderer and --preset ----
const modeSelect = $<HTMLSelectElement>('mode');
function photoSettings(): PhotoSettings {
  const [renderer, preset] = modeSelect.value.split(':') as [RendererName, GarRefinePresetName | undefined];
  return { renderer, preset: preset ?? 'default', fit: renderer === 'graphics' ? fit : undefined };
}
function initialMode(defaultRenderer: string | undefined, garAvailable: boolean): string {
  const renderer = params.get('renderer') ?? (fit ? 'graphics' : defaultRenderer === 'gar' && garAvailable ? 'gar' : 'graphics');
  if (renderer !== 'gar') return 'graphics';
  return `gar:${params.get('preset') ?? 'default'}`;
}
function showStagesFor(settings: PhotoSettings): void {
  $('stage-encode').classList.toggle('off', settings.renderer !== 'gar');
  $('refine-label').textContent = settings.renderer === 'gar' ? 'GAR refinement' : 'photometric fit';
}
modeSelect.addEventListener('change', () => showStagesFor(photoSettings()));

// ---- start: models from the server (or Cache Storage), then the worker ----
async function start(): Promise<void> {
  state('loading');
  try {
    setProgress('model', 0.1);
    const status = (text: string) => {
      $('model-status').textContent = text;
    };
    const { bytes, fromCache } = await loadCompactModelBytes(modelUrl, status);
    setProgress('model', 0.4);
    const detectorBase = new URL('detector/', location.href).href;
    const [blazeface, facemesh, landmarkMap] = await Promise.all([
      loadGraphModelBytes(detectorBase, 'blazeface'),
      loadGraphModelBytes(detectorBase, 'facemesh'),
      loadLandmarkMap(detectorBase),
    ]);
    // The GAR path's networks are optional: without them the graphics path still runs.
    let networkProblem: string | undefined;
    const networks = await loadNetworkFiles(new URL('models/', location.href).href, status, detectorBase).catch((error: Error) => {
      networkProblem = error.message;
      return { files: undefined, identityRegressor: undefined, list: {} as NetworkList, fromCache: false, identityRegressorProblem: undefined };
    });
    setProgress('model', 0.7);
    client = new WorkerClient(
      new URL('worker.js', location.href),
      {
        type: 'init',
        wasmPath: new URL('wasm/', location.href).href,
        modelBytes: bytes,
        detector: { blazeface, facemesh, ...(landmarkMap ? { landmarkMap } : {}) },
        networks: networks.files,
        ...(networks.identityRegressor ? { identityRegressor: networks.identityRegressor } : {}),
      },
      onWorkerEvent,
      (message) => {
        state('error');
        showMessage(message, 'error');
      },
    );
    await startWorker(params.get('backend') ?? undefined);
    for (const option of modeSelect.options)
      if (option.value.startsWith('gar:')) option.disabled = !ready!.gar || (option.value === 'gar:instant' && !ready!.encoder);
    modeSelect.value = initialMode(networks.list.defaultRenderer, ready!.gar && ready!.encoder);
    if (modeSelect.selectedIndex < 0 || modeSelect.selectedOptions[0]?.disabled) modeSelect.value = 'graphics';
    showStagesFor(photoSettings());
    networkProblem ??= ready!.garError;
    if (networkProblem) showMessage(`${networkProblem} The graphics path runs without the GAR networks.`, 'info');
    else if (networks.identityRegressorProblem) showMessage(`${networks.identityRegressorProblem} The fit runs without the identity regressor.`, 'info');
    const garNames = [networks.list.gar, networks.list.encoder, networks.list.shapeEncoder, networks.identityRegressor && networks.list.identityRegressor];
    const garText = ready!.gar ? ` + ${garNames.filter(Boolean).join(', ')}` : '';
    status(`ICT-FaceKit${garText} (${fromCache && (networks.fromCache || !networks.files) ? 'browser cache' : 'downloaded, now cached'})`);
    state('ready');
  } catch (error) {
    state('error');
    $('model-status').textContent = 'unavailable';
    showMessage((error as Error).message, 'error');
  }
}

/** (Re)start the worker on `backend` (undefined: its own choice) and show the choice and why. */
async function startWorker(backend?: string): Promise<void> {
  ready = undefined;
  $('backend').textContent = 'starting…';
  const response = await client!.start(backend);
  ready = response;
  triangles = response.triangles;
  const { triangles: _, ...facts } = response;
  exposed.backend = facts;
  setProgress('model', 1);
  $('backend').textContent = response.backend === 'wasm' ? `wasm (${response.threads} thread${response.threads === 1 ? '' : 's'})` : response.backend;
  $('backend-reason').textContent = response.choice.reason;
}

function onWorkerEvent(event: Extract<WorkerResponse, { type: 'progress' | 'estimate' }>): void {
  if (event.type === 'progress') {
    setProgress(event.stage, event.fraction);
    return;
  }
  // The encoder's estimate: shown at once while the refinement runs.
  drawImage($('render-canvas'), toImageData(event.overlay));
  fitRenderToPhoto();
  showGarComparison(event.garComparison, "aligned crop · the GAR's render of the encoder's estimate");
  void viewer.show(event.glb);
  exposed.estimate = { landmarkErrorPercent: event.landmarkErrorPercent, shownAfterMs: Math.round(performance.now() - photoStartedMs) };
  $('summary').textContent =
    `the encoder's estimate (${Math.round(event.encodeMs)} ms): landmark error ${event.landmarkErrorPercent.toFixed(1)} % of the eye distance${photoSettings().preset === 'instant' ? '' : ' · refining…'}`;
}

// ---- a photo ----
/** Decode a file to RGBA in the page (EXIF orientation applied by the browser), downscaled for fitting. */
async function decodePhoto(
  blob: Blob,
  name: string,
): Promise<{ image: ImageData; scale: number; originalSize: { width: number; height: number }; exifFocalPx?: number }> {
  if (blob.size > MAX_FILE_BYTES)
    throw new Error(`${name}: the file is ${(blob.size / 1e6).toFixed(0)} MB; photos up to ${MAX_FILE_BYTES / 1e6} MB are accepted.`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    throw new Error(`${name}: not an image the browser can decode (JPEG, PNG, WebP, …).`);
  }
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) {
    bitmap.close();
    throw new Error(`${name}: the photo is ${width}×${height} pixels; at most ${MAX_PIXELS / 1e6} megapixels are accepted.`);
  }
  const scale = Math.min(1, MAX_FIT_SIDE_PX / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale)),
    h = Math.max(1, Math.round(height * scale));
  const canvas = new OffscreenCanvas(w, h);
  const context = canvas.getContext('2d')!;
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  // The camera's focal length from EXIF, in pixels of the image fitted (as the CLI's decode gives it).
  const exif = jpegExifBlock(new Uint8Array(await blob.slice(0, EXIF_SEARCH_BYTES).arrayBuffer()));
  const exifFocalPx = focalFromExif(exif, w, h)?.focalPx;
  return { image: context.getImageData(0, 0, w, h), scale: w / width, originalSize: { width, height }, exifFocalPx };
}

async function reconstructBlob(blob: Blob, name: string): Promise<void> {
  if (!ready || !client) {
    showMessage('The models are not loaded yet (see the message above or wait a moment).', 'error');
    return;
  }
  if (busy) {
    showMessage('Still working on the previous photo.', 'info');
    return;
  }
  busy = true;
  if (live.running) await stopLive();
  current = { blob, name };
  state('busy');
  clearMessage();
  clearResult();
  const settings = photoSettings();
  showStagesFor(settings);
  for (const stage of ['detect', 'encode', 'landmarks', 'refine', 'texture'] as const) setProgress(stage, 0);
  photoStartedMs = performance.now();
  const watch = watchForSlowPhoto(settings);
  try {
    const { image, scale, originalSize, exifFocalPx } = await decodePhoto(blob, name);
    if (scale < 1)
      showMessage(
        `${name}: ${originalSize.width}×${originalSize.height} px, fitted at ${image.width}×${image.height}; results are in the original pixels.`,
        'info',
      );
    drawImage($('photo-canvas'), image);
    const rgba = { width: image.width, height: image.height, data: image.data };
    const response = await client.ask({ type: 'reconstruct', image: rgba, scale, originalSize, name, settings: { ...settings, knownFocalPx: exifFocalPx } }, [
      image.data.buffer,
    ]);
    if (response.type === 'error') {
      throw new Error(
        response.code === 'no_face' || /no face/i.test(response.message)
          ? `${name}: no face found in this photo. Try a photo where the face is visible and at least ~80 px wide.`
          : `${name}: ${response.message}`,
      );
    }
    if (response.type !== 'result') throw new Error('unexpected worker reply');
    clearInterval(watch);
    await showResult(response, performance.now() - photoStartedMs, settings);
    if (exposed.slowOffer) clearMessage();
    state('done');
  } catch (error) {
    if (error instanceof WorkerReplacedError) return; // a backend switch: the photo starts again
    showMessage((error as Error).message, 'error');
    state('failed');
  } finally {
    clearInterval(watch);
    busy = false;
  }
}

/**
 * Every second while a photo runs: past SLOW_FACTOR × what wasm should take (from its probe),
 * offer to switch to wasm and redo the photo; on wasm itself, say the device seems busy.
 */
function watchForSlowPhoto(settings: PhotoSettings): ReturnType<typeof setInterval> | undefined {
  exposed.slowOffer = undefined;
  const wasmProbeMs = ready?.choice.probeMs.wasm;
  if (wasmProbeMs === undefined) return undefined;
  const expectedMs = expectedPhotoMs(wasmProbeMs, settings.renderer, settings.preset);
  const watch = setInterval(() => {
    const elapsedMs = performance.now() - photoStartedMs;
    if (!busy || exposed.slowOffer || elapsedMs < SLOW_FACTOR * expectedMs + SLOW_SLACK_MS) return;
    const seconds = (ms: number) => `${Math.max(1, Math.round(ms / 1000))} s`;
    if (ready?.backend === 'wasm') {
      exposed.slowOffer = 'busy';
      showMessage(
        `This photo has taken ${seconds(elapsedMs)}; about ${seconds(expectedMs)} was expected here. The device may be busy, or pick a faster fit above.`,
        'info',
      );
      return;
    }
    exposed.slowOffer = 'switch';
    showMessage(`This photo has taken ${seconds(elapsedMs)} on ${ready?.backend}; on wasm it should take about ${seconds(expectedMs)}.`, 'info');
    const button = document.createElement('button');
    button.id = 'switch-backend';
    button.textContent = 'Switch to wasm and redo this photo';
    button.addEventListener('click', () => void switchBackend('wasm'));
    messageBox.appendChild(button);
  }, 1000);
  return watch;
}

async function switchBackend(backend: string): Promise<void> {
  const photo = current;
  state('loading');
  clearMessage();
  try {
    await startWorker(backend);
    state('ready');
  } catch (error) {
    state('error');
    showMessage((error as Error).message, 'error');
    return;
  }
  if (photo) await reconstructBlob(photo.blob, photo.name);
}

async function showResult(result: Extract<WorkerResponse, { type: 'result' }>, photoToMeshMs: number, settings: PhotoSettings): Promise<void> {
  const { json, files, overlay } = result;
  drawImage($('render-canvas'), toImageData(overlay));
  fitRenderToPhoto();
  if (result.garComparison) showGarComparison(result.garComparison, `aligned crop · the GAR's render of the fit (preset ${settings.preset})`);
  const vertexCount = await viewer.show(files.glb);
  const timings = json.timingsMs as Record<string, number>;
  exposed.result = json;
  exposed.meshVertexCount = vertexCount;
  exposed.timingsMs = { ...timings, photoToMesh: Math.round(photoToMeshMs) };
  $('summary').textContent = resultSummary(json, settings, ready?.backend, result.coverage, photoToMeshMs);
  replaceDownloadLinks($('downloads'), files);
}

/** Forget the previous photo's result, so a failure never shows beside another photo's mesh and downloads. */
function clearResult(): void {
  for (const id of ['photo-canvas', 'render-canvas', 'gar-canvas']) {
    const canvas = $<HTMLCanvasElement>(id);
    canvas.width = 0;
    canvas.height = 0;
  }
  $('gar-panel').classList.remove('shown');
  viewer.clear();
  $('summary').textContent = '';
  for (const a of $('downloads').querySelectorAll('a')) URL.revokeObjectURL(a.href);
  $('downloads').replaceChildren();
  exposed.result = undefined;
  exposed.meshVertexCount = undefined;
  exposed.timingsMs = undefined;
  exposed.estimate = undefined;
}

function showGarComparison(image: { width: number; height: number; data: Uint8ClampedArray }, caption: string): void {
  drawImage($('gar-canvas'), toImageData(image));
  $('gar-caption').textContent = caption;
  $('gar-panel').classList.add('shown');
}

function fitRenderToPhoto(): void {
  const photo = $<HTMLCanvasElement>('photo-canvas'),
    render = $<HTMLCanvasElement>('render-canvas');
  render.style.width = `${photo.clientWidth}px`;
  render.style.height = `${photo.clientHeight}px`;
  applyBlend();
}

function applyBlend(): void {
  $('render-canvas').style.opacity = $<HTMLInputElement>('blend').value;
}

// ---- the webcam: a photo from it, or live mode ----
let stream: MediaStream | undefined;
async function startCamera(): Promise<MediaStream | undefined> {
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser offers no camera access here (it needs https or localhost)');
    stream ??= await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
    clearMessage();
    return stream;
  } catch (error) {
    const name = (error as Error).name;
    showMessage(
      name === 'NotAllowedError'
        ? 'The webcam was denied: allow camera access for this page, or pick a photo instead.'
        : name === 'NotFoundError'
          ? 'No webcam found: pick a photo instead.'
          : `The webcam could not be started: ${(error as Error).message}`,
      'error',
    );
    return undefined;
  }
}

const live = new LiveMode({
  video: $<HTMLVideoElement>('live-video'),
  canvas: $<HTMLCanvasElement>('live-canvas'),
  viewer,
  track: (frame) => client!.queue({ type: 'track', frame }, [frame]),
  reset: () => client!.ask({ type: 'track-reset', tracker: liveTracker }),
  triangles: () => triangles,
  onFrame: (stats) => {
    exposed.live = stats;
    const last = stats.last;
    $('live-stats').textContent =
      `live: ${stats.fps.toFixed(1)} frames/s on ${ready?.backend} · ${stats.framesWithFace}/${stats.frames} frames with a face` +
      (last
        ? ` · identity from ${last.identityFrames} frames · landmark error ${last.landmarkErrorPercent.toFixed(1)} % · per frame: detect ${Math.round(last.timingsMs.detect)} ms, landmark steps ${Math.round(last.timingsMs.landmarks)} ms, encoder ${Math.round(stats.lastEncodeMs ?? 0)} ms on the frames it runs on`
        : '');
  },
  onError: (message) => {
    showMessage(message, 'error');
    void stopLive();
  },
});

async function startLive(): Promise<void> {
  if (!ready || !client) {
    showMessage('The models are not loaded yet (see the message above or wait a moment).', 'error');
    return;
  }
  if (busy) {
    showMessage('Still working on the previous photo.', 'info');
    return;
  }
  if (!ready.encoder) {
    showMessage("Live mode needs the GAR path's encoder, which the server does not offer.", 'error');
    return;
  }
  const camera = await startCamera();
  if (!camera) return;
  clearResult();
  $('photo-stack').style.display = 'none';
  $('blend-row').style.display = 'none';
  $('live-stack').classList.add('shown');
  $('live').textContent = 'stop live 3D';
  state('live');
  await live.start(camera);
}

async function stopLive(): Promise<void> {
  const stopped = live.stop();
  $('photo-stack').style.display = '';
  $('blend-row').style.display = '';
  $('live-stack').classList.remove('shown');
  $('live').textContent = 'live 3D from the webcam';
  await stopped;
  if (document.body.dataset.state === 'live') state('ready');
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
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  const file = event.dataTransfer?.files?.[0];
  if (file) void reconstructBlob(file, file.name);
  else showMessage('Drop an image file (JPEG, PNG, WebP).', 'error');
});
$('webcam').addEventListener('click', async () => {
  const camera = await startCamera();
  if (!camera) return;
  const video = $<HTMLVideoElement>('video');
  video.srcObject = camera;
  video.style.display = 'block';
  $<HTMLButtonElement>('capture').disabled = false;
});
$('capture').addEventListener('click', async () => {
  const video = $<HTMLVideoElement>('video');
  const canvas = new OffscreenCanvas(video.videoWidth || 640, video.videoHeight || 480);
  canvas.getContext('2d')!.drawImage(video, 0, 0);
  void reconstructBlob(await canvas.convertToBlob({ type: 'image/png' }), 'webcam.png');
});
$('live').addEventListener('click', () => void (live.running ? stopLive() : startLive()));
window.addEventListener('unhandledrejection', (event) =>
  showMessage(`Unexpected error: ${String((event.reason as Error)?.message ?? event.reason).split('\n')[0]}`, 'error'),
);

void start();
