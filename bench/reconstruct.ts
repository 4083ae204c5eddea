/**
 * Per-stage wall time of one reconstruction on the graphics path: a photo resized to 500 px
 * on its longer side, through the same calls the CLI makes (decode → detect → landmark fit →
 * photometric fit → overlay → OBJ), in one process after a warm-up run. benchGarReconstruct: the
 * GAR path's time per photo for each preset (instant, fast, default, quality).
 * Run: node --import tsx bench/reconstruct.ts [--gar]
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Reconstructor } from '../src/api/reconstruct.ts';
import { renderOverlay } from '../src/fit/render-overlay.ts';
import { meshToObj } from '../src/io/mesh-export.ts';
import { decodeImageBytes } from '../src/io/node/decode-image.ts';
import { encodePng } from '../src/io/node/encode-image.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { rasterize } from '../src/raster/rasterize.ts';
import { cameraToClipArray, transformPointsArray } from '../src/geometry/camera.ts';
import { rotationFromEuler } from '../src/geometry/rotation.ts';
import type { GarModelFiles } from '../src/api/gar-models.ts';
import { initBackend } from '../src/engine/backend.ts';
import type { GarRefinePresetName } from '../src/fit/gar-refine-config.ts';
import { DEFAULT_TRAIN_GAR_CONFIG, GAR_PRESETS, Generator } from '../src/gar/index.ts';
import { encodeParameterGroups } from '../src/gar/checkpoint-weights.ts';
import { DEFAULT_TRAIN_ENCODER_CONFIG, FaceEncoder, encoderNetworkConfig } from '../src/invert/index.ts';
import { chooseRenderer, readGarModelFiles } from '../src/io/node/gar-models.ts';
import type { MorphableModel } from '../src/morphable/morphable-model.ts';

const repositoryRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const sharedDir = process.env.FACEGAR_SHARED_DIR ?? resolve(repositoryRoot, '../shared');

export interface ReconstructBench {
  photo: string;
  imageSize: { width: number; height: number };
  stagesMs: Record<string, number>;
  reconstructMs: number;
  /** stagesMs.reconstructCpu is the CPU time of detect + fit: the wall time on an otherwise idle machine
   * (the fit runs on one thread), a steadier number than wall time on a busy one. */
  /** rasterize() of the full face area at 256×256. */
  rasterMs: number;
  landmarkErrorPx: number;
}

export async function benchReconstruct(options: { photo?: string; repeats?: number } = {}): Promise<ReconstructBench> {
  const photo = options.photo ?? join(sharedDir, 'photos/examples/000114.jpg');
  const stagesMs: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    stagesMs[name] = (stagesMs[name] ?? 0) + now - mark;
    mark = now;
  };

  const { model } = await loadMorphableModel({ modelDir: process.env.FACEGAR_MODEL_DIR ?? join(sharedDir, 'models/ict-facekit') });
  lap('loadModel');
  const reconstructor = await Reconstructor.create({ model, detector: await loadDetectorModelFiles() });
  lap('createReconstructor');
  const bytes = await sharp(photo).resize({ width: 500, height: 500, fit: 'inside' }).jpeg({ quality: 92 }).toBuffer();
  const image = await decodeImageBytes(bytes, photo);
  await reconstructor.reconstruct(image); // warm-up: first-call kernel setup
  const repeats = options.repeats ?? 3;
  for (const key of Object.keys(stagesMs)) stagesMs[key] = Math.round(stagesMs[key]);
  const perRun: Record<string, number>[] = [];
  let landmarkErrorPx = 0;
  for (let r = 0; r < repeats; r++) {
    const t: Record<string, number> = {};
    let m = performance.now();
    const step = (name: string) => {
      const now = performance.now();
      t[name] = now - m;
      m = now;
    };
    const decoded = await decodeImageBytes(bytes, photo);
    step('decode');
    const cpuBefore = process.cpuUsage();
    const result = await reconstructor.reconstruct(decoded);
    const cpu = process.cpuUsage(cpuBefore);
    t.reconstructCpu = (cpu.user + cpu.system) / 1000;
    t.detect = result.timingsMs.detect;
    t.landmarkFit = result.faces[0].timingsMs.landmarkFit;
    t.photometricFit = result.faces[0].timingsMs.photometricFit;
    m = performance.now();
    await encodePng(renderOverlay(decoded, result.faces, model));
    step('overlay');
    meshToObj({ positions: result.faces[0].vertices, triangles: model.triangles, uvs: model.uvs, triangleUvIndices: model.triangleUvIndices });
    step('exportObj');
    t.total = t.decode + result.timingsMs.total + t.overlay + t.exportObj;
    landmarkErrorPx = result.faces[0].landmarkErrorPx;
    perRun.push(t);
  }
  for (const key of Object.keys(perRun[0])) stagesMs[key] = Math.round(median(perRun.map((run) => run[key])));
  reconstructor.dispose();

  // Rasteriser alone: the full face area, frontal, filling most of a 256×256 image.
  const cameraPoints = transformPointsArray(model.neutral, rotationFromEuler(0, 0.3, 0), [0, 0, -600]);
  const clip = cameraToClipArray(cameraPoints, { focalPx: 700, principalPointPx: [128, 128], width: 256, height: 256 });
  const rasterTimes: number[] = [];
  for (let r = 0; r < 20; r++) {
    const started = performance.now();
    rasterize(clip, model.triangles, { width: 256, height: 256 });
    rasterTimes.push(performance.now() - started);
  }
  return {
    photo,
    imageSize: { width: image.width, height: image.height },
    stagesMs,
    reconstructMs: stagesMs.total,
    rasterMs: Number(median(rasterTimes).toFixed(2)),
    landmarkErrorPx: Number(landmarkErrorPx.toFixed(2)),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export interface GarReconstructBench {
  photo: string;
  /** Which networks: the shipped ones, or random weights of the small preset (speed does not depend on training). */
  networks: string;
  resolution: number;
  /** Photo → mesh (decode excluded: detect + align + encode + refine), per preset, median of the repeats. */
  presetsMs: Partial<Record<GarRefinePresetName, number>>;
  /** Per preset: the stage times of the last run (detect, align, encode, refine). */
  stagesMs: Partial<Record<GarRefinePresetName, Record<string, number>>>;
  refineMsPerStep: number | null;
}

/**
 * Time per photo on the GAR path for each preset (a 500-px photo, one process, after a warm-up):
 * the shipped GAR + encoder when both exist, else random-weight networks of the small preset.
 */
export async function benchGarReconstruct(options: { photo?: string; repeats?: number; presets?: GarRefinePresetName[] } = {}): Promise<GarReconstructBench> {
  const photo = options.photo ?? join(sharedDir, 'photos/examples/000114.jpg');
  const presets = options.presets ?? ['instant', 'fast', 'default', 'quality'];
  await initBackend();
  const { model } = await loadMorphableModel({ modelDir: process.env.FACEGAR_MODEL_DIR ?? join(sharedDir, 'models/ict-facekit') });
  let files: GarModelFiles, networks: string;
  const choice = await chooseRenderer({ renderer: 'gar' }).catch(() => undefined);
  if (choice?.encoderDir) {
    files = await readGarModelFiles({ garDir: choice.garDir!, encoderDir: choice.encoderDir, shapeEncoderDir: choice.shapeEncoderDir });
    networks = `shipped ${choice.garDir} + ${choice.encoderDir}`;
  } else {
    files = randomGarModelFiles(model, 'small');
    networks = 'random weights, small preset (no shipped GAR + encoder)';
  }
  const reconstructor = await Reconstructor.create({ model, detector: await loadDetectorModelFiles(), gar: files });
  const bytes = await sharp(photo).resize({ width: 500, height: 500, fit: 'inside' }).jpeg({ quality: 92 }).toBuffer();
  const image = await decodeImageBytes(bytes, photo);
  await reconstructor.reconstruct(image, { renderer: 'gar', garPreset: 'fast', garRefine: { steps: 2 } }); // warm-up
  const presetsMs: GarReconstructBench['presetsMs'] = {},
    stagesMs: GarReconstructBench['stagesMs'] = {};
  let refineMsPerStep: number | null = null;
  for (const preset of presets) {
    const times: number[] = [];
    for (let r = 0; r < (options.repeats ?? 1); r++) {
      const result = await reconstructor.reconstruct(image, { renderer: 'gar', garPreset: preset });
      times.push(result.timingsMs.total);
      const { detect, align, encode, refine } = result.timingsMs;
      stagesMs[preset] = Object.fromEntries(Object.entries({ detect, align, encode, refine }).map(([k, v]) => [k, Math.round(v ?? 0)]));
      const steps = result.faces[0].gar!.steps;
      if (steps > 0) refineMsPerStep = Number(((refine ?? 0) / steps).toFixed(1));
    }
    presetsMs[preset] = Math.round(median(times));
  }
  const resolution = reconstructor.garAvailable.resolution!;
  reconstructor.dispose();
  return { photo, networks, resolution, presetsMs, stagesMs, refineMsPerStep };
}

/** Checkpoint bytes of random-weight networks of a GAR preset and its encoder (for timing only). */
function randomGarModelFiles(model: MorphableModel, preset: 'tiny' | 'small'): GarModelFiles {
  const generator = new Generator(GAR_PRESETS[preset], 1);
  const network = encoderNetworkConfig(preset, {
    identityCount: model.identityCount,
    expressionCount: model.expressionNames.length,
    wDim: GAR_PRESETS[preset].wDim,
  });
  const encoder = new FaceEncoder(network, 2);
  const files: GarModelFiles = {
    gar: {
      manifest: {
        format: 1,
        className: 'GarTrainer',
        config: { network: GAR_PRESETS[preset], train: DEFAULT_TRAIN_GAR_CONFIG },
        step: 0,
        imagesSeen: 0,
        randomState: 0,
        pathLengthMean: 0,
        adamSteps: { G: 0, D: 0 },
        weightsPath: 'random',
      },
      weights: encodeParameterGroups([['G_ema', generator.namedParameters()]], {}),
    },
    encoder: {
      manifest: {
        format: 1,
        className: 'EncoderTrainer',
        config: { network, train: DEFAULT_TRAIN_ENCODER_CONFIG },
        step: 0,
        randomState: 0,
        adamSteps: 0,
        weightsPath: 'random',
      },
      weights: encodeParameterGroups([['E', encoder.namedParameters()]], {}),
    },
  };
  generator.dispose();
  encoder.dispose();
  return files;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(process.argv.includes('--gar') ? await benchGarReconstruct() : await benchReconstruct(), null, 1));
}
