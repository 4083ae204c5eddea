import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { FacegarError, EXIT_CODES, type ErrorCode } from '../common/errors.ts';
import { decodeCompactModel } from '../morphable/compact-model.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { Reconstructor, rescaleReconstruction } from '../api/reconstruct.ts';
import { formatJson, reconstructionToJson } from '../api/result-json.ts';
import type { FitConfig } from '../fit/fit-config.ts';
import type { GarRefinePresetName } from '../fit/gar-refine-config.ts';
import type { RendererName } from '../api/reconstruct.ts';
import { renderGarComparison } from '../api/gar-face.ts';
import { readGarModelFiles, readIdentityRegressorFiles, readLandmarkRegressorFiles } from '../io/node/gar-models.ts';
import { renderOverlay } from '../fit/render-overlay.ts';
import { meshToObj, meshToPly } from '../io/mesh-export.ts';
import { encodeFaceGlb } from '../io/node/face-glb.ts';
import { makeDirectories, notWritable, writeFileAtomic } from '../io/node/atomic-write.ts';
import { writePngAtomic } from '../io/node/encode-image.ts';
import { decodeImageFileScaled } from '../io/node/decode-image.ts';
import { loadDetectorModelFiles } from '../io/node/detector-models.ts';
import type { BackendName } from '../engine/backend.ts';
import { computeVertexNormalsArray } from '../geometry/vertex-normals.ts';
import { VERSION } from './version.ts';
import { writeNowPrediction } from '../eval/prediction-layout.ts';
import type { MeshFormat, PredictionLayout } from './mesh-formats.ts';
import { miccFramePath } from './micc-predictions.ts';

/** What every input of a batch shares. Plain data: it crosses to worker threads. */
export interface BatchSettings {
  outDir: string;
  formats: MeshFormat[];
  maxFaces: number;
  fit: Partial<FitConfig>;
  /** Default graphics. */
  renderer?: RendererName;
  /** The GAR path's networks (absolute directories; no encoder = refinement from the mean face) and preset. */
  gar?: { garDir: string; encoderDir?: string; shapeEncoderDir?: string; preset: GarRefinePresetName };
  /** The identity regressor (absolute directory): on either path its estimate centres the fit's identity prior. */
  identityRegressorDir?: string;
  /** The compact model file prepared by the main thread. */
  compactModelPath: string;
  backend?: BackendName;
  /** Photos are decoded with at most this many pixels on the longer side; results are in original pixels. */
  maxDecodeSidePx: number;
  /**
   * Also write benchmark predictions (see eval/prediction-layout.ts): 'now' = NoW challenge
   * layout; 'micc' = each frame's vertices under micc-frames/, averaged per video after the batch
   * (micc-predictions.ts).
   */
  layout?: PredictionLayout;
  /**
   * The camera's focal length: a number of pixels of the original photos, 'exif' (from each
   * file's EXIF when it records one, else estimated) or 'fit' (always estimated). Default 'exif'.
   */
  focal?: number | 'exif' | 'fit';
  /** A landmark regressor (absolute directory): both paths fit its points instead of the detector's. */
  landmarkRegressorDir?: string;
  /** The landmark map: an absolute file, or false for none (default: the shipped one). */
  landmarkMap?: string | false;
  /** --same-person: every face's identity is held at these coefficients (cli/person-identity.ts). */
  fixedIdentity?: number[];
}

export interface InputJob {
  index: number;
  path: string;
  stem: string;
}

/** One line of summary.jsonl. */
export interface InputResult {
  input: string;
  stem: string;
  status: 'ok' | 'failed';
  /** For failures: the error kind and its exit code. */
  code?: ErrorCode;
  exitCode: number;
  reason?: string;
  faces?: number;
  landmarkErrorPx?: number;
  /** Files written, relative to the output directory; the JSON is last. */
  outputs: string[];
  timingsMs: Record<string, number>;
}

export interface ProcessContext {
  reconstructor: Reconstructor;
  model: MorphableModel;
  settings: BatchSettings;
}

export async function createProcessContext(settings: BatchSettings): Promise<ProcessContext> {
  const model = decodeCompactModel(await readFile(settings.compactModelPath), settings.compactModelPath);
  const detector = await loadDetectorModelFiles({ landmarkMap: settings.landmarkMap });
  const gar = settings.renderer === 'gar' && settings.gar ? await readGarModelFiles(settings.gar) : undefined;
  const landmarkRegressor = settings.landmarkRegressorDir
    ? { ...(await readLandmarkRegressorFiles(settings.landmarkRegressorDir)), source: settings.landmarkRegressorDir }
    : undefined;
  const identityRegressor = settings.identityRegressorDir ? await readIdentityRegressorFiles(settings.identityRegressorDir) : undefined;
  const reconstructor = await Reconstructor.create(
    { model, detector, gar, ...(landmarkRegressor ? { landmarkRegressor } : {}), ...(identityRegressor ? { identityRegressor } : {}) },
    { backend: settings.backend },
  );
  return { reconstructor, model, settings };
}

/**
 * Reconstruct one photo and write its outputs atomically, the JSON last (its presence marks the
 * input complete). Never throws for a user error: failures come back as a result line.
 */
export async function processInput(job: InputJob, context: ProcessContext, onProgress?: (fraction: number, stage: string) => void): Promise<InputResult> {
  const { settings, model, reconstructor } = context;
  const timingsMs: Record<string, number> = {};
  const started = performance.now();
  let mark = started;
  const lap = (name: string) => {
    const now = performance.now();
    timingsMs[name] = now - mark;
    mark = now;
  };
  try {
    onProgress?.(0, 'decode');
    const decoded = await decodeImageFileScaled(job.path, { maxSide: settings.maxDecodeSidePx });
    lap('decode');
    const knownFocalPx = knownFocalOf(settings, decoded);
    const raw = await reconstructor.reconstruct(decoded.image, {
      knownFocalPx,
      maxFaces: settings.maxFaces,
      fit: settings.fit,
      renderer: settings.renderer ?? 'graphics',
      garPreset: settings.gar?.preset,
      ...(settings.fixedIdentity ? { fixedIdentity: Float32Array.from(settings.fixedIdentity) } : {}),
      onProgress: (event) => onProgress?.(0.05 + 0.85 * event.fraction, event.stage),
    });
    timingsMs.detect = raw.timingsMs.detect;
    timingsMs.fit = raw.timingsMs.fit;
    for (const key of ['align', 'encode', 'landmarks', 'refine', 'regress'] as const)
      if (raw.timingsMs[key] !== undefined) timingsMs[key] = raw.timingsMs[key]!;
    mark = performance.now();
    const reconstruction = rescaleReconstruction(raw, 1 / decoded.scale, { width: decoded.originalWidth, height: decoded.originalHeight });

    onProgress?.(0.9, 'write');
    // A stem from a subfolder of the input root writes into the same subfolder of --out.
    await makeOutputDirectory(dirname(join(settings.outDir, job.stem)));
    const outputs: string[] = [];
    const perFaceOutputs: Record<string, string>[] = [];
    const single = reconstruction.faces.length === 1;
    for (const face of reconstruction.faces) {
      const base = single ? job.stem : `${job.stem}.face${face.faceNumber}`;
      const mesh = modelMesh(model, face.vertices);
      const written: Record<string, string> = {};
      for (const format of settings.formats) {
        const name = `${base}.${format}`;
        // The GLB's texture is baked in the pixels the fit was made in: the decoded image and the raw face.
        const data =
          format === 'obj'
            ? meshToObj(mesh, { comment: `facegar ${VERSION}: ${job.path} face ${face.faceNumber}, model space, millimetres` })
            : format === 'ply'
              ? meshToPly(mesh)
              : (await encodeFaceGlb(decoded.image, raw.faces[face.faceNumber - 1], model)).glb;
        await writeFileAtomic(join(settings.outDir, name), data);
        written[format] = name;
        outputs.push(name);
      }
      if (face.gar) {
        const name = `${base}.gar.png`;
        await writePngAtomic(join(settings.outDir, name), renderGarComparison(face.gar));
        written.gar = name;
        outputs.push(name);
      }
      perFaceOutputs.push(written);
    }
    if (settings.layout === 'now') {
      // NoW images live at …/<subject>/<subset>/<image>.jpg; predictions mirror that under --out.
      const subset = basename(dirname(job.path)),
        subject = basename(dirname(dirname(job.path)));
      for (const file of writeNowPrediction(reconstruction.faces[0], model, { subject, subset, stem: basename(job.path, extname(job.path)) })) {
        await makeOutputDirectory(dirname(join(settings.outDir, file.path)));
        await writeFileAtomic(join(settings.outDir, file.path), file.bytes);
        outputs.push(file.path);
      }
    } else if (settings.layout === 'micc') {
      const path = miccFramePath(job.path);
      await makeOutputDirectory(dirname(join(settings.outDir, path)));
      const vertices = reconstruction.faces[0].vertices;
      await writeFileAtomic(join(settings.outDir, path), new Uint8Array(vertices.buffer, vertices.byteOffset, vertices.byteLength));
      outputs.push(path);
    }
    const overlayName = `${job.stem}.overlay.png`;
    await writePngAtomic(join(settings.outDir, overlayName), renderOverlay(decoded.image, raw.faces, model));
    outputs.push(overlayName);
    lap('write');
    timingsMs.total = performance.now() - started;
    const jsonName = `${job.stem}.json`;
    const json = reconstructionToJson(reconstruction, {
      input: job.path,
      outputs: perFaceOutputs.map((o) => ({ ...o, overlay: overlayName })),
      timingsMs,
      version: VERSION,
    });
    await writeFileAtomic(join(settings.outDir, jsonName), formatJson(json));
    outputs.push(jsonName);
    onProgress?.(1, 'done');
    const meanError = reconstruction.faces[0].landmarkErrorPx;
    return {
      input: job.path,
      stem: job.stem,
      status: 'ok',
      exitCode: 0,
      faces: reconstruction.faces.length,
      landmarkErrorPx: Number(meanError.toFixed(3)),
      outputs,
      timingsMs: roundTimings(timingsMs),
    };
  } catch (error) {
    timingsMs.total = performance.now() - started;
    if (error instanceof FacegarError) {
      const reason = error.message.includes(job.path) ? error.message : `${job.path}: ${error.message}`;
      return {
        input: job.path,
        stem: job.stem,
        status: 'failed',
        code: error.code,
        exitCode: error.exitCode,
        reason,
        outputs: [],
        timingsMs: roundTimings(timingsMs),
      };
    }
    const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
    return {
      input: job.path,
      stem: job.stem,
      status: 'failed',
      code: 'internal',
      exitCode: EXIT_CODES.internal,
      reason: `${job.path}: internal error: ${message}`,
      outputs: [],
      timingsMs: roundTimings(timingsMs),
    };
  }
}

/** The focal length (px of the decoded photo) a batch holds for one photo: --focal N scaled like its pixels, its EXIF's with 'exif', else none (fitted). */
export function knownFocalOf(settings: Pick<BatchSettings, 'focal'>, decoded: { scale: number; exifFocalPx?: number }): number | undefined {
  const focal = settings.focal ?? 'exif';
  return typeof focal === 'number' ? focal * decoded.scale : focal === 'exif' ? decoded.exifFocalPx : undefined;
}

/** The model's mesh (topology, normals, UVs) at `vertices`, model space: what the mesh files hold. */
export function modelMesh(model: MorphableModel, vertices: Float32Array) {
  return {
    positions: vertices,
    triangles: model.triangles,
    normals: computeVertexNormalsArray(vertices, model.triangles),
    uvs: model.uvs,
    triangleUvIndices: model.triangleUvIndices,
  };
}

/** `mkdir -p` of an output folder; failing is the input's exit 7, as a failing write is. */
async function makeOutputDirectory(dir: string): Promise<void> {
  await makeDirectories(dir).catch((error) => {
    throw notWritable(dir, error);
  });
}

function roundTimings(timings: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)]));
}
