// Where the GAR path's networks come from: `--gar` / `--encoder` directories, else the GAR and
// encoder shipped in the repository's `models/` folder. Each directory holds a checkpoint.json
// and the safetensors file it names (a training run directory or a shipped model directory; a
// shipped GAR may hold only the EMA generator's weights).
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FacegarError, ModelUnavailableError, UsageError } from '../../common/errors.ts';
import type { CheckpointBytes, GarModelFiles } from '../../api/gar-models.ts';
import { DEFAULT_RENDERER, type RendererName } from '../../api/default-renderer.ts';
import { validateGarCheckpointManifest } from '../../gar/checkpoint.ts';
import { validateEncoderCheckpointManifest } from '../../invert/encoder-checkpoint.ts';
import { validateLandmarkRegressorManifest } from '../../invert/landmark-regressor-checkpoint.ts';
import type { IdentityRegressorFiles } from '../../api/regressor-loading.ts';
import { faceEmbeddingModelAtHand, loadFaceEmbeddingModelFile } from './face-embedding-model.ts';
import { PACKAGE_MODELS_DIR } from './package-models-dir.ts';
import { NAMED_GARS, isGarName } from './named-gars.ts';
import { CHECKPOINT_MANIFEST, readCheckpointFiles, type CheckpointKind } from './checkpoint-files.ts';

export { DEFAULT_RENDERER } from '../../api/default-renderer.ts';

/** The shipped models' folder names, in order of preference; other `gar-*` / `encoder-*` folders come after, by name. */
export const SHIPPED_GAR_NAMES = ['gar-small'] as const;
export { NAMED_GARS, isGarName, type GarName } from './named-gars.ts';
export const SHIPPED_ENCODER_NAMES = ['encoder-small'] as const;
/** Shape encoders (identity, expression, pose, camera from renders of known geometry; `shape-encoder-*`). */
export const SHIPPED_SHAPE_ENCODER_NAMES = ['shape-encoder-128'] as const;
/** Identity regressors (identity from the face embedding and FaceMesh's mesh, scripts/fit-identity-regressor.ts). */
export const SHIPPED_IDENTITY_REGRESSOR_NAMES = ['identity-regressor'] as const;
export const IDENTITY_REGRESSOR_FILE = 'identity-regressor.bin';
/** Largest identity regressor file read (the shipped one is about 1 MB). */
const MAX_IDENTITY_REGRESSOR_BYTES = 64 * 1024 * 1024;
/** Landmark regressors (68 model landmark vertices from a crop, trained on renders; `landmarks-*`). */
export const SHIPPED_LANDMARK_REGRESSOR_NAMES = [] as const;

/** `$FACEGAR_SHIPPED_MODELS_DIR`, else the repository's `models/` folder. */
export function shippedModelsDir(): string {
  return process.env.FACEGAR_SHIPPED_MODELS_DIR ? resolve(process.env.FACEGAR_SHIPPED_MODELS_DIR) : PACKAGE_MODELS_DIR;
}

export interface RendererRequest {
  /** --renderer: 'gar' | 'graphics'; absent = `defaultRenderer`. */
  renderer?: string;
  /** --gar RUN_DIR_OR_MODEL_DIR */
  gar?: string;
  /** --encoder ENC_DIR */
  encoder?: string;
  /** --shape-encoder DIR, or 'none' for no shape encoder; absent = the shipped one, when the GAR path starts from an encoder. */
  shapeEncoder?: string;
  /** --identity-regressor DIR, or 'none'; absent = the shipped one, on the graphics path or beside a shape encoder. */
  identityRegressor?: string;
  /** Downloads are off (default from FACEGAR_OFFLINE=1): a shipped identity regressor whose FaceRes network is not at hand is left out. */
  offline?: boolean;
  /** Where shipped models are looked for (default shippedModelsDir()). */
  modelsDir?: string;
  /** Default DEFAULT_RENDERER. */
  defaultRenderer?: RendererName;
}

export interface RendererChoice {
  renderer: RendererName;
  /** Absolute directories, for the GAR path. No encoder: refinement starts from the mean face. */
  garDir?: string;
  encoderDir?: string;
  /** The shape encoder's directory: starts the fit and centres its identity prior (with an encoder only). */
  shapeEncoderDir?: string;
  /** The identity regressor's directory (IDENTITY_REGRESSOR_FILE there), either path: its estimate centres the identity prior. */
  identityRegressorDir?: string;
  /** One line saying why, for progress output. */
  reason: string;
}

/**
 * Decide the renderer and find the GAR and encoder directories. Explicit directories win; then
 * the shipped ones. Throws UsageError for contradictory options and ModelUnavailableError (exit 6)
 * when the GAR path is requested and no GAR is found. Does not read the checkpoints (see
 * readGarModelFiles).
 */
export async function chooseRenderer(request: RendererRequest): Promise<RendererChoice> {
  const choice = await chooseGarNetworks(request);
  if (request.shapeEncoder !== undefined && choice.renderer === 'graphics')
    throw new UsageError('--shape-encoder belongs to the GAR path: drop it or --renderer graphics');
  const withShape = choice.renderer === 'gar' && choice.encoderDir && request.shapeEncoder !== 'none' ? await addShapeEncoder(choice, request) : choice;
  // On the GAR path the shipped regressor joins a shape encoder's estimate; on the graphics path it centres the fit's own prior.
  const regressorByDefault = withShape.renderer === 'graphics' || withShape.shapeEncoderDir !== undefined;
  if (request.identityRegressor === 'none') return withShape;
  if (request.identityRegressor !== undefined) {
    const identityRegressorDir = resolve(request.identityRegressor);
    return { ...withShape, identityRegressorDir, reason: `${withShape.reason}, identity regressor ${identityRegressorDir}` };
  }
  if (!regressorByDefault) return withShape;
  const shipped = await findShipped(request.modelsDir ?? shippedModelsDir(), 'identity-regressor', SHIPPED_IDENTITY_REGRESSOR_NAMES, IDENTITY_REGRESSOR_FILE);
  if (!shipped) return withShape;
  // The shipped regressor reads FaceRes, which an installed package downloads on first use: offline without it, the fit goes on without the regressor and says so.
  const offline = request.offline ?? process.env.FACEGAR_OFFLINE === '1';
  if (offline && !(await faceEmbeddingModelAtHand()))
    return { ...withShape, reason: `${withShape.reason}, no identity regressor (its FaceRes network is not installed or cached, and downloads are off)` };
  return { ...withShape, identityRegressorDir: shipped, reason: `${withShape.reason}, identity regressor ${shipped}` };
}

/** The GAR choice with the shape encoder `request` names, else the shipped one (unchanged when there is none). */
async function addShapeEncoder(choice: RendererChoice, request: RendererRequest): Promise<RendererChoice> {
  const shapeEncoderDir =
    request.shapeEncoder !== undefined
      ? resolve(request.shapeEncoder)
      : await findShipped(request.modelsDir ?? shippedModelsDir(), 'shape-encoder-', SHIPPED_SHAPE_ENCODER_NAMES);
  return shapeEncoderDir ? { ...choice, shapeEncoderDir, reason: `${choice.reason}, shape encoder ${shapeEncoderDir}` } : choice;
}

async function chooseGarNetworks(request: RendererRequest): Promise<RendererChoice> {
  const { renderer } = request;
  if (renderer !== undefined && renderer !== 'gar' && renderer !== 'graphics')
    throw new UsageError(`Expected gar or graphics for --renderer but received ${renderer}`);
  if (renderer === 'graphics') {
    if (request.gar !== undefined || request.encoder !== undefined)
      throw new UsageError('--gar and --encoder belong to the GAR path: drop them or --renderer graphics');
    return { renderer: 'graphics', reason: 'graphics renderer (--renderer graphics)' };
  }
  const modelsDir = request.modelsDir ?? shippedModelsDir();
  if (request.gar !== undefined && isGarName(request.gar)) {
    // A name picks a shipped GAR; the shipped encoder comes with it unless --encoder says otherwise.
    const name = request.gar;
    const garDir = join(modelsDir, NAMED_GARS[name]);
    if (
      !(await stat(join(garDir, CHECKPOINT_MANIFEST)).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      throw new ModelUnavailableError(`--gar ${name}: ${garDir} is not shipped here (names: ${Object.keys(NAMED_GARS).join(', ')}; or pass a GAR directory)`);
    const encoderDir = request.encoder !== undefined ? resolve(request.encoder) : await findShipped(modelsDir, 'encoder-', SHIPPED_ENCODER_NAMES);
    const licence = name === 'real' ? ' (trained on real photos: non-commercial research use only)' : '';
    return {
      renderer: 'gar',
      garDir,
      encoderDir,
      reason: `shipped GAR "${name}" ${garDir}${licence}${encoderDir ? `, encoder ${encoderDir}` : ', no encoder (refinement from the mean face)'}`,
    };
  }
  if (request.gar !== undefined) {
    const garDir = resolve(request.gar);
    const encoderDir = request.encoder !== undefined ? resolve(request.encoder) : undefined;
    return {
      renderer: 'gar',
      garDir,
      encoderDir,
      reason: `GAR ${request.gar}${encoderDir ? `, encoder ${request.encoder}` : ', no encoder (refinement from the mean face)'}`,
    };
  }
  const shippedGar = await findShipped(modelsDir, 'gar-', SHIPPED_GAR_NAMES);
  if (request.encoder !== undefined) {
    if (!shippedGar) throw new ModelUnavailableError(`--encoder ${request.encoder} needs a GAR: none is shipped in ${modelsDir}; pass --gar RUN_DIR`);
    return { renderer: 'gar', garDir: shippedGar, encoderDir: resolve(request.encoder), reason: `shipped GAR ${shippedGar}, encoder ${request.encoder}` };
  }
  const wanted = renderer ?? request.defaultRenderer ?? DEFAULT_RENDERER;
  if (wanted === 'graphics') return { renderer: 'graphics', reason: 'graphics renderer (the default)' };
  const shippedEncoder = await findShipped(modelsDir, 'encoder-', SHIPPED_ENCODER_NAMES);
  if (renderer === 'gar') {
    if (!shippedGar)
      throw new ModelUnavailableError(`--renderer gar: no GAR found (none shipped in ${modelsDir}); pass --gar RUN_DIR (made by facegar train-gar)`);
    return {
      renderer: 'gar',
      garDir: shippedGar,
      encoderDir: shippedEncoder,
      reason: `shipped GAR ${shippedGar}${shippedEncoder ? ` and encoder ${shippedEncoder}` : ', no encoder (refinement from the mean face)'}`,
    };
  }
  // The default says GAR: only with both shipped networks, else the baseline.
  if (shippedGar && shippedEncoder)
    return { renderer: 'gar', garDir: shippedGar, encoderDir: shippedEncoder, reason: `shipped GAR ${shippedGar} and encoder ${shippedEncoder} (the default)` };
  return { renderer: 'graphics', reason: `graphics renderer (no shipped GAR and encoder in ${modelsDir})` };
}

/** The first shipped directory holding `file` (a checkpoint by default): preferred names first, then `<prefix>*` by name; undefined when none. */
async function findShipped(modelsDir: string, prefix: string, preferred: readonly string[], file = CHECKPOINT_MANIFEST): Promise<string | undefined> {
  const names = await readdir(modelsDir).catch(() => [] as string[]);
  const candidates = [...preferred.filter((n) => names.includes(n)), ...names.filter((n) => n.startsWith(prefix) && !preferred.includes(n)).sort()];
  for (const name of candidates) {
    const dir = join(modelsDir, name);
    if (
      await stat(join(dir, file)).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return dir;
  }
  return undefined;
}

/**
 * The landmark regressor's directory: `request` when given (a directory, or 'none' for FaceMesh's
 * landmarks), else the first shipped `landmarks-*` folder; undefined when there is none. Both
 * renderers use it.
 */
export async function chooseLandmarkRegressor(request: string | undefined, modelsDir = shippedModelsDir()): Promise<string | undefined> {
  if (request === 'none') return undefined;
  if (request !== undefined) return resolve(request);
  return findShipped(modelsDir, 'landmarks-', SHIPPED_LANDMARK_REGRESSOR_NAMES);
}

/** chooseLandmarkRegressor's directory read (ReconstructorResources.landmarkRegressor, `source` = the directory); undefined for none. */
export async function readChosenLandmarkRegressor(
  request: string | undefined,
  modelsDir?: string,
): Promise<(CheckpointBytes & { source: string }) | undefined> {
  const dir = await chooseLandmarkRegressor(request, modelsDir);
  return dir ? { ...(await readLandmarkRegressorFiles(dir)), source: dir } : undefined;
}

/** The landmark regressor's checkpoint files; ModelUnavailableError (exit 6) as readGarModelFiles. */
export async function readLandmarkRegressorFiles(dir: string): Promise<CheckpointBytes> {
  return readCheckpointDir(dir, LANDMARK_KIND, 'landmark regressor', 'scripts/gpu/train_landmarks.py');
}

const LANDMARK_KIND: CheckpointKind<{ weightsPath: string }> = {
  validate: (v) => validateLandmarkRegressorManifest(v),
  name: 'landmark regressor checkpoint',
  weightsName: 'landmark regressor weights',
};
const GAR_KIND: CheckpointKind<{ weightsPath: string }> = {
  validate: (v) => validateGarCheckpointManifest(v),
  name: 'GAR checkpoint',
  weightsName: 'GAR weights',
};
const ENCODER_KIND: CheckpointKind<{ weightsPath: string }> = {
  validate: (v) => validateEncoderCheckpointManifest(v),
  name: 'encoder checkpoint',
  weightsName: 'encoder weights',
};

/**
 * Read the GAR (and encoder) checkpoint files. Any missing, unreadable or malformed manifest or
 * weights file, or weights whose SHA-256 differs from the manifest's `weightsSha256` (when it has
 * one), is a ModelUnavailableError (exit 6) naming the directory. The weights themselves
 * are checked when decoded (decodeGarModels, also exit 6).
 */
export async function readGarModelFiles(dirs: { garDir: string; encoderDir?: string; shapeEncoderDir?: string }): Promise<GarModelFiles> {
  const gar = await readCheckpointDir(dirs.garDir, GAR_KIND, 'GAR', 'facegar train-gar');
  const encoder = dirs.encoderDir ? await readCheckpointDir(dirs.encoderDir, ENCODER_KIND, 'encoder', 'facegar train-encoder') : undefined;
  const shapeEncoder = dirs.shapeEncoderDir
    ? await readCheckpointDir(dirs.shapeEncoderDir, ENCODER_KIND, 'shape encoder', 'scripts/gpu/train_shape_encoder.py')
    : undefined;
  return {
    gar,
    encoder,
    garSource: dirs.garDir,
    ...(dirs.encoderDir ? { encoderSource: dirs.encoderDir } : {}),
    ...(shapeEncoder ? { shapeEncoder, shapeEncoderSource: dirs.shapeEncoderDir } : {}),
  };
}

/**
 * The identity regressor's file (checked against the SHA-256 in its manifest.json when there is
 * one) and the face embedding network it reads; ModelUnavailableError (exit 6) when either is
 * missing, too large or damaged.
 */
export async function readIdentityRegressorFiles(dir: string): Promise<IdentityRegressorFiles & { source: string }> {
  const path = join(dir, IDENTITY_REGRESSOR_FILE);
  const size = await stat(path).then(
    (s) => (s.isFile() ? s.size : -1),
    () => -1,
  );
  if (size < 0) throw new ModelUnavailableError(`${path}: no identity regressor there; make one with scripts/fit-identity-regressor.ts`);
  if (size > MAX_IDENTITY_REGRESSOR_BYTES)
    throw new ModelUnavailableError(`${path}: ${size} bytes, more than an identity regressor's ${MAX_IDENTITY_REGRESSOR_BYTES}`);
  const weights = new Uint8Array(await readFile(path));
  const manifestPath = join(dir, 'manifest.json');
  const manifestText = await readFile(manifestPath, 'utf8').catch(() => undefined);
  let manifest: { sha256?: unknown } | undefined;
  try {
    manifest = manifestText === undefined ? undefined : ((JSON.parse(manifestText) as { sha256?: unknown } | null) ?? undefined);
  } catch {
    throw new ModelUnavailableError(`${manifestPath}: not valid JSON (a damaged identity regressor manifest)`);
  }
  if (typeof manifest?.sha256 === 'string' && createHash('sha256').update(weights).digest('hex') !== manifest.sha256.toLowerCase())
    throw new ModelUnavailableError(`${path}: does not match the SHA-256 in manifest.json (damaged or replaced file)`);
  const embedding = await loadFaceEmbeddingModelFile().catch((error: unknown) => {
    throw new ModelUnavailableError(
      `the identity regressor needs the FaceRes embedding network: ${String((error as Error)?.message ?? error).split('\n')[0]}`,
      {
        cause: error,
      },
    );
  });
  return { weights, embedding, source: path };
}

async function readCheckpointDir(dir: string, kind: CheckpointKind<{ weightsPath: string }>, what: string, maker: string): Promise<CheckpointBytes> {
  let files: { manifest: { weightsPath: string }; weights: Uint8Array } | undefined;
  try {
    files = await readCheckpointFiles(dir, kind);
  } catch (error) {
    const reason = error instanceof FacegarError ? error.message : String((error as Error)?.message ?? error).split('\n')[0];
    throw new ModelUnavailableError(`${what} unavailable: ${reason}`, { cause: error });
  }
  if (!files) throw new ModelUnavailableError(`${dir}: no ${what} checkpoint (${CHECKPOINT_MANIFEST}) there; make one with ${maker}`);
  // Shipped models carry their weights' SHA-256 (scripts/export-gar.ts): a damaged file is caught here.
  const expected = (files.manifest as { weightsSha256?: unknown }).weightsSha256;
  if (typeof expected === 'string' && createHash('sha256').update(files.weights).digest('hex') !== expected.toLowerCase()) {
    throw new ModelUnavailableError(
      `${join(dir, files.manifest.weightsPath)}: the ${what} weights do not match the SHA-256 in ${CHECKPOINT_MANIFEST} (damaged or replaced file)`,
    );
  }
  return files;
}
