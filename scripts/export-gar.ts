// Export a training run's inference weights as a small, shippable checkpoint: the run's manifest
// (architecture, step, command) plus a safetensors file holding only the weights inference
// needs, and their SHA-256 (checked by the model lookup). A GAR run keeps `G_ema.*` (no D, no
// raw G, no Adam moments: a quarter of the training state), an encoder run keeps `E.*`, a
// normal-estimator run (facegar train-normals) `N.*`.
// decodeGarGenerator / decodeFaceEncoder read the result like a full checkpoint.
// Run: node --import tsx scripts/export-gar.ts RUN_DIR OUT_DIR
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../src/gar/safetensors.ts';
import { validateGarCheckpointManifest } from '../src/gar/checkpoint.ts';
import { validateEncoderCheckpointManifest } from '../src/invert/encoder-checkpoint.ts';
import { validateNormalEstimatorManifest } from '../src/gar/normal-estimator-training.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../src/io/node/atomic-write.ts';

const [runDir, outDir] = process.argv.slice(2);
if (!runDir || !outDir) {
  process.stderr.write('usage: node --import tsx scripts/export-gar.ts RUN_DIR OUT_DIR\n');
  process.exit(2);
}
const raw = JSON.parse(await readFile(join(runDir, 'checkpoint.json'), 'utf8')) as { className?: string };
// What each kind of run keeps: its inference weights' group, the file stem and the command that made it.
const KINDS = {
  EncoderTrainer: { validate: validateEncoderCheckpointManifest, prefix: 'E.', stem: 'encoder', command: 'train-encoder' },
  NormalEstimator: { validate: validateNormalEstimatorManifest, prefix: 'N.', stem: 'normal-estimator', command: 'train-normals' },
  GarTrainer: { validate: validateGarCheckpointManifest, prefix: 'G_ema.', stem: 'gar', command: 'train-gar' },
} as const;
const kind = KINDS[(raw.className ?? 'GarTrainer') as keyof typeof KINDS] ?? KINDS.GarTrainer;
const manifest = kind.validate(raw) as { weightsPath: string; step: number; config: { network: { resolution: number } }; notes?: Record<string, string> };
const prefix = kind.prefix;
const { tensors, metadata } = decodeSafetensors(new Uint8Array(await readFile(join(runDir, manifest.weightsPath))));
const kept = [...tensors.values()].filter((t) => t.name.startsWith(prefix));
if (kept.length === 0) throw new Error(`${runDir}: the checkpoint holds no ${prefix}* weights`);
const weights = encodeSafetensors(kept, { ...metadata, content: `${prefix}* only (exported by scripts/export-gar.ts)` });
const sha256 = createHash('sha256').update(weights).digest('hex');
const weightsPath = `${kind.stem}-${manifest.config.network.resolution}px-step${manifest.step}.safetensors`;
await ensureWritableDirectory(outDir);
await writeFileAtomic(join(outDir, weightsPath), weights);
// A shipped manifest names no folder of the machine it was made on: absolute paths in the
// notes (the training command) and the GAR reference keep only their last component.
const withoutMachinePaths = (text: string) => text.replace(/(^|[\s=])\/[^\s]*\/([^\s/]+)/g, (_, lead: string, last: string) => `${lead}${last}`);
const notes = Object.fromEntries(Object.entries(manifest.notes ?? {}).map(([key, value]) => [key, withoutMachinePaths(String(value))]));
const gar = (manifest as { gar?: { step: number; weightsPath: string } }).gar;
const exported = {
  ...manifest,
  weightsPath,
  weightsSha256: sha256,
  ...(gar ? { gar: { ...gar, weightsPath: withoutMachinePaths(gar.weightsPath) } } : {}),
  notes: { ...notes, exportedFrom: `step ${manifest.step} of a facegar ${kind.command} run` },
};
await writeFileAtomic(join(outDir, 'checkpoint.json'), JSON.stringify(exported, null, 2) + '\n');
process.stdout.write(`${join(outDir, weightsPath)}: ${kept.length} tensors, ${(weights.length / 1e6).toFixed(2)} MB, sha256 ${sha256}\n`);
