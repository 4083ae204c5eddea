// The options that say how to reconstruct (renderer, preset, steps, formats), shared by
// `facegar reconstruct` and the work queue: `queue add` checks them and stores them with each
// job; each `facegar worker` turns them into batch settings with its own model files.
import { resolve } from 'node:path';
import { UsageError } from '../common/errors.ts';
import { optionalIntegerOption, type OptionSpec } from './command-options.ts';
import { MESH_FORMATS, type MeshFormat } from './mesh-formats.ts';
import { DEFAULT_MAX_FACES, RENDERER_NAMES, type RendererName } from '../api/default-renderer.ts';
import { NODE_BACKEND_NAMES, type NodeBackendName } from '../engine/backend-names.ts';
import { GAR_REFINE_PRESETS, type GarRefinePresetName } from '../fit/gar-refine-config.ts';
import { isGarName } from '../io/node/named-gars.ts';

/** Photos with a longer side than this are downscaled on decode (results stay in original pixels). */
export const DEFAULT_MAX_DECODE_SIDE_PX = 4096;
export const GAR_PRESET_NAMES = Object.keys(GAR_REFINE_PRESETS) as GarRefinePresetName[];
export const DEFAULT_GAR_PRESET: GarRefinePresetName = 'default';
import type { BatchSettings } from './process-input.ts';

export const RECONSTRUCT_SETTING_OPTIONS = {
  format: { type: 'string', default: 'obj' },
  'max-faces': { type: 'string', default: String(DEFAULT_MAX_FACES) },
  renderer: { type: 'string' },
  gar: { type: 'string' },
  encoder: { type: 'string' },
  'shape-encoder': { type: 'string' },
  'identity-regressor': { type: 'string' },
  'landmark-regressor': { type: 'string' },
  'landmark-map': { type: 'string' },
  preset: { type: 'string' },
  'landmark-steps': { type: 'string' },
  'photometric-steps': { type: 'string' },
  'render-size': { type: 'string' },
  'max-decode-side': { type: 'string', default: String(DEFAULT_MAX_DECODE_SIDE_PX) },
  focal: { type: 'string', default: 'exif' },
} as const satisfies OptionSpec;

/** Where the work runs: the model, backend and download policy of this machine. */
export const MACHINE_OPTIONS = {
  model: { type: 'string', short: 'm' },
  backend: { type: 'string' },
  offline: { type: 'boolean', default: false },
} as const satisfies OptionSpec;

/** Most faces one photo may ask for (--max-faces): each is a full fit, so a photo's work stays bounded. */
export const MAX_FACES = 64;

type PresetName = GarRefinePresetName;

/** A checked reconstruction request, plain JSON, the same on every machine (directories absolute). */
export interface ReconstructRequest {
  formats: MeshFormat[];
  maxFaces: number;
  fit: { landmarkSteps?: number; photometricSteps?: number; renderSizePx?: number };
  renderer?: RendererName;
  gar?: string;
  encoder?: string;
  /** A directory, or 'none' for no shape encoder. */
  shapeEncoder?: string;
  /** A directory, or 'none' for no identity regressor. */
  identityRegressor?: string;
  /** A directory, or 'none' for the detector's landmarks; absent = the shipped one, when there is one. */
  landmarkRegressor?: string;
  /** A file, or 'none' for FaceMesh's points throughout; absent = the shipped map. */
  landmarkMap?: string;
  preset?: PresetName;
  maxDecodeSidePx: number;
  /** Pixels of the original photos, 'exif' (from each photo's EXIF, else estimated) or 'fit' (always estimated). */
  focal: number | 'exif' | 'fit';
  /** A graphics-path option was given: with no renderer named it chooses the graphics path. */
  graphicsOption?: string;
}

type SettingValues = { [K in keyof typeof RECONSTRUCT_SETTING_OPTIONS]?: string };

/** Check the reconstruction options; one-line UsageErrors name the option. */
export async function readReconstructRequest(values: SettingValues): Promise<ReconstructRequest> {
  const formats = String(values.format ?? 'obj')
    .split(',')
    .map((f) => f.trim().toLowerCase());
  for (const format of formats) {
    if (!(MESH_FORMATS as readonly string[]).includes(format))
      throw new UsageError(`Expected one of ${MESH_FORMATS.join(', ')} for --format but received ${format}`);
  }
  const fit = {
    landmarkSteps: optionalIntegerOption(values['landmark-steps'], 'landmark-steps', 0),
    photometricSteps: optionalIntegerOption(values['photometric-steps'], 'photometric-steps', 0),
    renderSizePx: optionalIntegerOption(values['render-size'], 'render-size', 16),
  };
  const { validateFitConfig } = await import('../fit/fit-config.ts');
  validateFitConfig(fit);
  const maxFaces = optionalIntegerOption(values['max-faces'], 'max-faces', 1, MAX_FACES) ?? DEFAULT_MAX_FACES;
  const maxDecodeSidePx = optionalIntegerOption(values['max-decode-side'], 'max-decode-side', 64) ?? DEFAULT_MAX_DECODE_SIDE_PX;
  const focalText = values.focal ?? 'exif';
  const focal = focalText === 'exif' || focalText === 'fit' ? focalText : Number(focalText);
  if (typeof focal === 'number' && !(focal > 0 && Number.isFinite(focal)))
    throw new UsageError(`Expected exif, fit or a positive number of pixels for --focal but received ${values.focal}`);
  oneOf(values.preset, GAR_PRESET_NAMES, '--preset');
  oneOf(values.renderer, RENDERER_NAMES, '--renderer');
  // Options of the graphics path only: with no renderer named they choose it; beside an option of the GAR path they are a mistake.
  const graphicsOption = (['landmark-steps', 'photometric-steps', 'render-size'] as const).find((name) => values[name] !== undefined);
  const garOption =
    values.renderer === 'gar'
      ? '--renderer gar'
      : values.gar !== undefined
        ? '--gar'
        : values.encoder !== undefined
          ? '--encoder'
          : values['shape-encoder'] !== undefined
            ? '--shape-encoder'
            : values.preset !== undefined && values.renderer === undefined
              ? '--preset'
              : undefined;
  if (graphicsOption && garOption)
    throw new UsageError(`--${graphicsOption} belongs to the graphics path and ${garOption} to the GAR path: use one (--renderer graphics or gar)`);
  return {
    formats: formats as MeshFormat[],
    maxFaces,
    fit: Object.fromEntries(Object.entries(fit).filter(([, v]) => v !== undefined)),
    ...(values.renderer !== undefined ? { renderer: values.renderer as RendererName } : {}),
    // A shipped GAR's name (studio, real) stays a name; a folder becomes absolute.
    ...(values.gar !== undefined ? { gar: isGarName(values.gar) ? values.gar : resolve(values.gar) } : {}),
    ...(values.encoder !== undefined ? { encoder: resolve(values.encoder) } : {}),
    ...(values['shape-encoder'] !== undefined ? { shapeEncoder: values['shape-encoder'] === 'none' ? 'none' : resolve(values['shape-encoder']) } : {}),
    ...(values['identity-regressor'] !== undefined
      ? { identityRegressor: values['identity-regressor'] === 'none' ? 'none' : resolve(values['identity-regressor']) }
      : {}),
    ...(values['landmark-regressor'] !== undefined
      ? { landmarkRegressor: values['landmark-regressor'] === 'none' ? 'none' : resolve(values['landmark-regressor']) }
      : {}),
    ...(values['landmark-map'] !== undefined ? { landmarkMap: values['landmark-map'] === 'none' ? 'none' : resolve(values['landmark-map']) } : {}),
    ...(values.preset !== undefined ? { preset: values.preset as PresetName } : {}),
    maxDecodeSidePx,
    focal,
    ...(graphicsOption ? { graphicsOption } : {}),
  };
}

/** The tensor backend: --backend, else FACEGAR_BACKEND, else the engine's default. */
export function readBackendOption(value: string | undefined): NodeBackendName | undefined {
  return oneOf(value ?? process.env.FACEGAR_BACKEND, NODE_BACKEND_NAMES, '--backend');
}

/** `value` when it is one of `allowed` (undefined passes through), else a UsageError listing them. */
export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], option: string): T | undefined {
  if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
  throw new UsageError(`Expected one of ${allowed.join(', ')} for ${option} but received ${value}`);
}

export interface MachineSetup {
  outDir: string;
  modelDir?: string;
  offline?: boolean;
  backend?: NodeBackendName;
  /** Model download / first-use progress lines. */
  onModelProgress?: (stage: 'download' | 'parse', done: number, total: number) => void;
}

/**
 * Turn a request into batch settings on this machine: choose the renderer, find the GAR and
 * encoder, load (and cache) the morphable model, and decode the GAR's networks once so a bad
 * one ends the command with one line and exit 6 instead of failing in every worker.
 */
export async function prepareBatchSettings(
  request: ReconstructRequest,
  machine: MachineSetup,
): Promise<{ settings: BatchSettings; rendererReason: string; model: import('../morphable/morphable-model.ts').MorphableModel }> {
  const { chooseLandmarkRegressor, chooseRenderer } = await import('../io/node/gar-models.ts');
  const choice = await chooseRenderer({
    renderer: request.renderer,
    gar: request.gar,
    encoder: request.encoder,
    shapeEncoder: request.shapeEncoder,
    identityRegressor: request.identityRegressor,
    offline: machine.offline || undefined,
    ...(request.graphicsOption ? { defaultRenderer: 'graphics' as const } : {}),
  });
  if (choice.renderer === 'graphics' && request.preset !== undefined) throw new UsageError('--preset belongs to the GAR path (try --renderer gar)');
  if (choice.renderer === 'gar' && request.preset === 'instant' && !choice.encoderDir)
    throw new UsageError('--preset instant needs an encoder (--encoder ENC_DIR)');
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  const loaded = await loadMorphableModel({ modelDir: machine.modelDir, offline: machine.offline || undefined, onProgress: machine.onModelProgress });
  const gar =
    choice.renderer === 'gar'
      ? {
          garDir: choice.garDir!,
          encoderDir: choice.encoderDir,
          shapeEncoderDir: choice.shapeEncoderDir,
          preset: request.preset ?? DEFAULT_GAR_PRESET,
        }
      : undefined;
  if (gar) await checkGarModels(gar, loaded.model, machine.backend);
  if (choice.identityRegressorDir) await checkIdentityRegressor(choice.identityRegressorDir, loaded.model);
  const landmarkRegressorDir = await chooseLandmarkRegressor(request.landmarkRegressor);
  if (landmarkRegressorDir) await checkLandmarkRegressor(landmarkRegressorDir, loaded.model, machine.backend);
  const settings: BatchSettings = {
    outDir: machine.outDir,
    formats: request.formats,
    maxFaces: request.maxFaces,
    fit: request.fit,
    renderer: choice.renderer,
    gar,
    ...(request.landmarkMap !== undefined ? { landmarkMap: request.landmarkMap === 'none' ? (false as const) : request.landmarkMap } : {}),
    compactModelPath: loaded.compactPath,
    backend: machine.backend,
    maxDecodeSidePx: request.maxDecodeSidePx,
    focal: request.focal,
    ...(landmarkRegressorDir ? { landmarkRegressorDir } : {}),
    ...(choice.identityRegressorDir ? { identityRegressorDir: choice.identityRegressorDir } : {}),
  };
  const landmarks = landmarkRegressorDir ? `, landmarks: regressor ${landmarkRegressorDir}` : '';
  return {
    settings,
    rendererReason: (gar ? `renderer: ${choice.reason}, preset ${gar.preset}` : `renderer: ${choice.reason}`) + landmarks,
    model: loaded.model,
  };
}

async function checkGarModels(
  dirs: { garDir: string; encoderDir?: string; shapeEncoderDir?: string },
  model: import('../morphable/morphable-model.ts').MorphableModel,
  backend: NodeBackendName | undefined,
): Promise<void> {
  const { readGarModelFiles } = await import('../io/node/gar-models.ts');
  const { decodeGarModels } = await import('../api/gar-models.ts');
  const { initBackend } = await import('../engine/backend.ts');
  const files = await readGarModelFiles(dirs);
  await initBackend({ backend });
  decodeGarModels(files, model).dispose();
}

/** The identity regressor's file read (size, SHA-256, FaceRes at hand) and decoded once here, so a bad one ends the command with exit 6. */
async function checkIdentityRegressor(dir: string, model: import('../morphable/morphable-model.ts').MorphableModel): Promise<void> {
  const { readIdentityRegressorFiles } = await import('../io/node/gar-models.ts');
  const { decodeIdentityRegressor } = await import('../invert/identity-regressor.ts');
  const { ModelUnavailableError } = await import('../common/errors.ts');
  const files = await readIdentityRegressorFiles(dir);
  let identityCount: number;
  try {
    identityCount = decodeIdentityRegressor(files.weights, files.source).identityCount;
  } catch (error) {
    throw new ModelUnavailableError(`${files.source}: cannot load the identity regressor (${String((error as Error)?.message ?? error).split('\n')[0]})`, {
      cause: error,
    });
  }
  if (identityCount !== model.identityCount)
    throw new ModelUnavailableError(`${files.source}: ${identityCount} identity outputs vs the model's ${model.identityCount}`);
}

async function checkLandmarkRegressor(
  dir: string,
  model: import('../morphable/morphable-model.ts').MorphableModel,
  backend: NodeBackendName | undefined,
): Promise<void> {
  const { readLandmarkRegressorFiles } = await import('../io/node/gar-models.ts');
  const { decodeLandmarkRegressor } = await import('../invert/landmark-regressor-checkpoint.ts');
  const { ModelUnavailableError } = await import('../common/errors.ts');
  const { initBackend } = await import('../engine/backend.ts');
  const files = await readLandmarkRegressorFiles(dir);
  await initBackend({ backend });
  try {
    decodeLandmarkRegressor(files.manifest, files.weights, model).regressor.dispose();
  } catch (error) {
    throw new ModelUnavailableError(`${dir}: cannot load the landmark regressor (${String((error as Error)?.message ?? error).split('\n')[0]})`, {
      cause: error,
    });
  }
}
