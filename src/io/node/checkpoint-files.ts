/**
 * Checkpoints on disk (GAR and encoder): `<dir>/checkpoint-<step>.safetensors` (weights) and
 * `<dir>/checkpoint.json` (manifest), each written atomically; the manifest goes last and names
 * the weights file, so a crash between the two leaves the previous checkpoint intact (the old
 * manifest points at the old step-stamped weights, removed only after the new manifest is in place).
 */
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InputMissingError, UsageError } from '../../common/errors.ts';
import { encodeGarCheckpoint, validateGarCheckpointManifest, type GarCheckpointManifest } from '../../gar/checkpoint.ts';
import type { GarTrainer } from '../../gar/train-gar.ts';
import { ensureWritableDirectory, writeFileAtomic } from './atomic-write.ts';
import { readRegularFile, UnreadableFileError } from './read-regular-file.ts';

export const CHECKPOINT_MANIFEST = 'checkpoint.json';

/** How one kind of checkpoint is checked and named in messages. */
export interface CheckpointKind<M extends { weightsPath: string }> {
  /** Checks an already parsed manifest, throwing Error with a one-line reason. */
  validate(value: unknown): M;
  /** e.g. "GAR checkpoint", in "not a facegar GAR checkpoint". */
  name: string;
  /** e.g. "checkpoint weights", in "cannot read the checkpoint weights". */
  weightsName: string;
}

const GAR_CHECKPOINT: CheckpointKind<GarCheckpointManifest> = {
  validate: validateGarCheckpointManifest,
  name: 'GAR checkpoint',
  weightsName: 'checkpoint weights',
};

/** Save the trainer's state into `dir` atomically; returns the manifest written. */
export async function saveGarCheckpoint(dir: string, trainer: GarTrainer, notes?: Record<string, string>): Promise<GarCheckpointManifest> {
  await ensureWritableDirectory(dir);
  return saveCheckpointFiles(dir, trainer.step, (weightsPath) => encodeGarCheckpoint(trainer, weightsPath, notes), GAR_CHECKPOINT);
}

/** The manifest and weight bytes of the checkpoint in `dir`, or undefined when there is none. */
export async function readGarCheckpoint(dir: string): Promise<{ manifest: GarCheckpointManifest; weights: Uint8Array } | undefined> {
  return readCheckpointFiles(dir, GAR_CHECKPOINT);
}

/**
 * Write a checkpoint at `step` into the existing folder `dir`: `encode(weightsPath)` gives the
 * manifest and weight bytes; weights first, then the manifest, then the previous weights go.
 */
export async function saveCheckpointFiles<M extends { weightsPath: string }>(
  dir: string,
  step: number,
  encode: (weightsPath: string) => { manifest: M; weights: Uint8Array },
  kind: CheckpointKind<M>,
): Promise<M> {
  const previous = await readManifestIfAny(dir, kind);
  const weightsPath = `checkpoint-${String(step).padStart(8, '0')}.safetensors`;
  const { manifest, weights } = encode(weightsPath);
  await writeFileAtomic(join(dir, weightsPath), weights);
  await writeFileAtomic(join(dir, CHECKPOINT_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  if (previous && previous.weightsPath !== weightsPath) await rm(join(dir, previous.weightsPath), { force: true });
  return manifest;
}

/** Largest weights file read (bytes): a `paper`-sized training state (G, G_ema, D, Adam moments) is under 1 GiB. */
export const MAX_WEIGHTS_FILE_BYTES = 2 * 1024 ** 3;
/** Largest manifest read (bytes); real ones are about 2 KB. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * The checkpoint in `dir` (validated manifest + weight bytes), or undefined when there is none.
 * The weights file must be a regular file inside `dir` (the manifests' validators allow only a
 * plain file name; checked again here), of at most MAX_WEIGHTS_FILE_BYTES.
 */
export async function readCheckpointFiles<M extends { weightsPath: string }>(
  dir: string,
  kind: CheckpointKind<M>,
): Promise<{ manifest: M; weights: Uint8Array } | undefined> {
  const manifest = await readManifestIfAny(dir, kind);
  if (!manifest) return undefined;
  const path = resolve(dir, manifest.weightsPath);
  if (dirname(path) !== resolve(dir))
    throw new UsageError(`${join(dir, CHECKPOINT_MANIFEST)}: weightsPath ${manifest.weightsPath} leaves the checkpoint folder (refused)`);
  let weights: Uint8Array;
  try {
    weights = new Uint8Array(await readRegularFile(path, MAX_WEIGHTS_FILE_BYTES));
  } catch (error) {
    const reason = error instanceof UnreadableFileError ? error.message : ((error as NodeJS.ErrnoException).code ?? 'error');
    throw new InputMissingError(`${path}: cannot read the ${kind.weightsName} (${reason})`, { cause: error });
  }
  return { manifest, weights };
}

async function readManifestIfAny<M extends { weightsPath: string }>(dir: string, kind: CheckpointKind<M>): Promise<M | undefined> {
  let text: string;
  try {
    text = (await readRegularFile(join(dir, CHECKPOINT_MANIFEST), MAX_MANIFEST_BYTES)).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const reason = error instanceof UnreadableFileError ? error.message : ((error as NodeJS.ErrnoException).code ?? 'error');
    throw new InputMissingError(`${join(dir, CHECKPOINT_MANIFEST)}: cannot read (${reason})`, { cause: error });
  }
  try {
    return kind.validate(JSON.parse(text));
  } catch (error) {
    throw new UsageError(`${join(dir, CHECKPOINT_MANIFEST)}: not a facegar ${kind.name} (${(error as Error).message})`);
  }
}

/**
 * Drop the loss-log lines (`<dir>/losses.jsonl`, one JSON object with a `step` per line) past
 * `step`: a run killed after its last checkpoint logged steps that the resumed run repeats, and
 * the log must read as if the run had never stopped. Rewritten atomically; no log, no change.
 */
export async function trimLossLog(dir: string, step: number): Promise<void> {
  const path = join(dir, 'losses.jsonl');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const kept = lines.filter((line) => {
    try {
      return (JSON.parse(line) as { step?: number }).step! <= step;
    } catch {
      return false; // a line cut short by the kill
    }
  });
  if (kept.length !== lines.length) await writeFileAtomic(path, kept.map((line) => line + '\n').join(''));
}
