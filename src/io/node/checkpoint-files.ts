/**
 * GAR checkpoints on disk: `<dir>/checkpoint.safetensors` (weights) and `<dir>/checkpoint.json`
 * (manifest), each written atomically; the manifest goes last and names the weights file, so a
 * crash between the two leaves the previous checkpoint intact (the old manifest points at the
 * old step-stamped weights, removed only after the new manifest is in place).
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InputMissingError, UsageError } from '../../common/errors.ts';
import { encodeGarCheckpoint, validateGarCheckpointManifest, type GarCheckpointManifest } from '../../gar/checkpoint.ts';
import type { GarTrainer } from '../../gar/train-gar.ts';
import { ensureWritableDirectory, writeFileAtomic } from './atomic-write.ts';

export const CHECKPOINT_MANIFEST = 'checkpoint.json';

/** Save the trainer's state into `dir` atomically; returns the manifest written. */
export async function saveGarCheckpoint(dir: string, trainer: GarTrainer, notes?: Record<string, string>): Promise<GarCheckpointManifest> {
  await ensureWritableDirectory(dir);
  const previous = await readManifestIfAny(dir);
  const weightsPath = `checkpoint-${String(trainer.step).padStart(8, '0')}.safetensors`;
  const { manifest, weights } = encodeGarCheckpoint(trainer, weightsPath, notes);
  await writeFileAtomic(join(dir, weightsPath), weights);
  await writeFileAtomic(join(dir, CHECKPOINT_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  if (previous && previous.weightsPath !== weightsPath) await rm(join(dir, previous.weightsPath), { force: true });
  return manifest;
}

/** The manifest and weight bytes of the checkpoint in `dir`, or undefined when there is none. */
export async function readGarCheckpoint(dir: string): Promise<{ manifest: GarCheckpointManifest; weights: Uint8Array } | undefined> {
  const manifest = await readManifestIfAny(dir);
  if (!manifest) return undefined;
  let weights: Uint8Array;
  try {
    weights = new Uint8Array(await readFile(join(dir, manifest.weightsPath)));
  } catch (error) {
    throw new InputMissingError(`${join(dir, manifest.weightsPath)}: cannot read the checkpoint weights (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
  return { manifest, weights };
}

async function readManifestIfAny(dir: string): Promise<GarCheckpointManifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, CHECKPOINT_MANIFEST), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputMissingError(`${join(dir, CHECKPOINT_MANIFEST)}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
  try {
    return validateGarCheckpointManifest(JSON.parse(text));
  } catch (error) {
    throw new UsageError(`${join(dir, CHECKPOINT_MANIFEST)}: not a facegar GAR checkpoint (${(error as Error).message})`);
  }
}
