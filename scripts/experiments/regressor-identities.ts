/**
 * Experiment helper: the identity regressor's estimate alone (no fit) for every photo of a folder,
 * written as OUT/<photo>.json `{ "identity": [...] }`, so that scripts/same-person-consistency.ts
 * can say whether one person's photos get one shape on real photos.
 *
 *   node --import tsx scripts/experiments/regressor-identities.ts --regressor DIR --photos DIR --out DIR
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadIdentityRegressor } from '../../src/api/regressor-loading.ts';
import { createFaceDetector } from '../../src/detect/index.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { estimateIdentity } from '../../src/invert/identity-regressor.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { readIdentityRegressorFiles } from '../../src/io/node/gar-models.ts';
import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';

const { values } = parseArgs({ options: { regressor: { type: 'string' }, photos: { type: 'string' }, out: { type: 'string' } } });
if (!values.regressor || !values.photos || !values.out) throw new Error('--regressor DIR, --photos DIR and --out DIR are needed');
await initBackend({ backend: 'wasm' });
const { model } = await loadMorphableModel();
const loaded = await loadIdentityRegressor(await readIdentityRegressorFiles(values.regressor), model);
const detector = await createFaceDetector(await loadDetectorModelFiles());
await mkdir(values.out, { recursive: true });
let written = 0;
for (const name of (await readdir(values.photos)).filter((n) => /\.(jpg|png)$/i.test(n)).sort()) {
  const image = await decodeImageFile(join(values.photos, name));
  const face = (await detector.detect(image))[0];
  if (!face) continue;
  const { mean } = estimateIdentity(loaded, image, face.landmarks68, face.mesh468);
  await writeFile(join(values.out, `${name}.json`), JSON.stringify({ identity: Array.from(mean) }) + '\n');
  written++;
}
detector.dispose();
loaded.embedder.dispose();
console.log(`${written} identities written to ${values.out}`);
