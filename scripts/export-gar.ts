// Export the EMA generator of a GAR training run as a small, shippable checkpoint: the run's
// manifest (architecture, step, command) plus a safetensors file holding only the `G_ema.*`
// weights (a quarter of the training state: no D, no raw G, no Adam moments), and its SHA-256.
// decodeGarGenerator reads it like a full checkpoint.
// Run: node --import tsx scripts/export-gar.ts RUN_DIR OUT_DIR
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../src/gar/safetensors.ts';
import { validateGarCheckpointManifest } from '../src/gar/checkpoint.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../src/io/node/atomic-write.ts';

const [runDir, outDir] = process.argv.slice(2);
if (!runDir || !outDir) {
  process.stderr.write('usage: node --import tsx scripts/export-gar.ts RUN_DIR OUT_DIR\n');
  process.exit(2);
}
const manifest = validateGarCheckpointManifest(JSON.parse(await readFile(join(runDir, 'checkpoint.json'), 'utf8')));
const { tensors, metadata } = decodeSafetensors(new Uint8Array(await readFile(join(runDir, manifest.weightsPath))));
const ema = [...tensors.values()].filter((t) => t.name.startsWith('G_ema.'));
if (ema.length === 0) throw new Error(`${runDir}: the checkpoint holds no G_ema weights`);
const weights = encodeSafetensors(ema, { ...metadata, content: 'G_ema only (exported by scripts/export-gar.ts)' });
const sha256 = createHash('sha256').update(weights).digest('hex');
const weightsPath = `gar-${manifest.config.network.resolution}px-step${manifest.step}.safetensors`;
await ensureWritableDirectory(outDir);
await writeFileAtomic(join(outDir, weightsPath), weights);
const exported = { ...manifest, weightsPath, weightsSha256: sha256, notes: { ...manifest.notes, exportedFrom: `step ${manifest.step} of a run of facegar train-gar` } };
await writeFileAtomic(join(outDir, 'checkpoint.json'), JSON.stringify(exported, null, 2) + '\n');
process.stdout.write(`${join(outDir, weightsPath)}: ${ema.length} tensors, ${(weights.length / 1e6).toFixed(2)} MB, sha256 ${sha256}\n`);
