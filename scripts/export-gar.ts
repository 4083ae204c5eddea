// Export a training run's inference weights as a small, shippable checkpoint: the run's manifest
// (architecture, step, command) plus a safetensors file holding only the weights inference
// needs, and their SHA-256 (checked by the model lookup). A GAR run keeps `G_ema.*` (no D, no
// raw G, no Adam moments: a quarter of the training state), an encoder run keeps `E.*`.
// decodeGarGenerator / decodeFaceEncoder read the result like a full checkpoint.
// Run: node --import tsx scripts/export-gar.ts RUN_DIR OUT_DIR
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../src/gar/safetensors.ts';
import { validateGarCheckpointManifest } from '../src/gar/checkpoint.ts';
import { validateEncoderCheckpointManifest } from '../src/invert/encoder-checkpoint.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../src/io/node/atomic-write.ts';

const [runDir, outDir] = process.argv.slice(2);
if (!runDir || !outDir) {
  process.stderr.write('usage: node --import tsx scripts/export-gar.ts RUN_DIR OUT_DIR\n');
  process.exit(2);
}
const raw = JSON.parse(await readFile(join(runDir, 'checkpoint.json'), 'utf8')) as { className?: string };
const isEncoder = raw.className === 'EncoderTrainer';
const manifest = isEncoder ? validateEncoderCheckpointManifest(raw) : validateGarCheckpointManifest(raw);
const prefix = isEncoder ? 'E.' : 'G_ema.';
const { tensors, metadata } = decodeSafetensors(new Uint8Array(await readFile(join(runDir, manifest.weightsPath))));
const kept = [...tensors.values()].filter((t) => t.name.startsWith(prefix));
if (kept.length === 0) throw new Error(`${runDir}: the checkpoint holds no ${prefix}* weights`);
const weights = encodeSafetensors(kept, { ...metadata, content: `${prefix}* only (exported by scripts/export-gar.ts)` });
const sha256 = createHash('sha256').update(weights).digest('hex');
const weightsPath = `${isEncoder ? 'encoder' : 'gar'}-${manifest.config.network.resolution}px-step${manifest.step}.safetensors`;
await ensureWritableDirectory(outDir);
await writeFileAtomic(join(outDir, weightsPath), weights);
// A shipped manifest names no folder of the machine it was made on: absolute paths in the
// notes (the training command) and the GAR reference keep only their last component.
const withoutMachinePaths = (text: string) => text.replace(/(^|[\s=])\/[^\s]*\/([^\s/]+)/g, (_, lead: string, last: string) => `${lead}${last}`);
const notes = Object.fromEntries(Object.entries(manifest.notes ?? {}).map(([key, value]) => [key, withoutMachinePaths(String(value))]));
const gar = (manifest as { gar?: { step: number; weightsPath: string } }).gar;
const exported = {
  ...manifest, weightsPath, weightsSha256: sha256,
  ...(gar ? { gar: { ...gar, weightsPath: withoutMachinePaths(gar.weightsPath) } } : {}),
  notes: { ...notes, exportedFrom: `step ${manifest.step} of a facegar ${isEncoder ? 'train-encoder' : 'train-gar'} run` },
};
await writeFileAtomic(join(outDir, 'checkpoint.json'), JSON.stringify(exported, null, 2) + '\n');
process.stdout.write(`${join(outDir, weightsPath)}: ${kept.length} tensors, ${(weights.length / 1e6).toFixed(2)} MB, sha256 ${sha256}\n`);
