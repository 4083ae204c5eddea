/**
 * Where is the default fit's 3D error, identity or expression? Fits every face of a synthetic set
 * with the default GAR path (encoder start), then scores the model evaluated with the fitted or
 * true identity and the fitted, true or no expression, against the true vertices (median
 * per-vertex error after similarity alignment over the whole face area, the benchmark's headline
 * metric), and prints the mean over faces of each.
 *
 *   node --import tsx scripts/identity-expression-split.ts --set SET [--n N] [--json OUT.json]
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Reconstructor } from '../src/api/reconstruct.ts';
import { FacegarError } from '../src/common/errors.ts';
import { summarizeErrors } from '../src/eval/error-statistics.ts';
import { alignedVertexErrorsMm } from '../src/eval/synthetic-benchmark.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { chooseRenderer, readGarModelFiles, readIdentityRegressorFiles } from '../src/io/node/gar-models.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { syntheticSetSource } from '../src/io/node/synthetic-set-files.ts';
import { evaluateMorphableModel } from '../src/morphable/morphable-model.ts';

const { values } = parseArgs({ options: { set: { type: 'string' }, n: { type: 'string' }, json: { type: 'string' } } });
if (!values.set) {
  process.stderr.write('usage: node --import tsx scripts/identity-expression-split.ts --set SET [--n N] [--json OUT.json]\n');
  process.exit(2);
}
const choice = await chooseRenderer({ renderer: 'gar' });
const gar = await readGarModelFiles(choice as typeof choice & { garDir: string });
const identityRegressor = choice.identityRegressorDir ? await readIdentityRegressorFiles(choice.identityRegressorDir) : undefined;
const [{ model }, detector] = await Promise.all([loadMorphableModel(), loadDetectorModelFiles()]);
const source = await syntheticSetSource(resolve(values.set), model, values.n === undefined ? Infinity : Number(values.n));
const reconstructor = await Reconstructor.create({ model, detector, gar, ...(identityRegressor ? { identityRegressor } : {}) });
const errorMm = (vertices: Float32Array, truth: Float32Array) => summarizeErrors(alignedVertexErrorsMm(vertices, truth, model.vertexCount)).median;
const noIdentity = new Float32Array(model.identityCount);
const noExpression = new Float32Array(model.expressionNames.length);
const rows = [
  'mean face',
  'fit',
  'fitted identity, true expression',
  'true identity, fitted expression',
  'fitted identity, no expression',
  'true identity, no expression',
  'no identity, true expression',
];
const records: Record<string, number>[] = [];
for (let index = 0; index < source.count; index++) {
  const { image, truth } = await source.face(index);
  const record: Record<string, number> = {
    'mean face': errorMm(model.neutral, truth.verticesModel),
    'true identity, no expression': errorMm(evaluateMorphableModel(model, truth.identity, noExpression), truth.verticesModel),
    'no identity, true expression': errorMm(evaluateMorphableModel(model, noIdentity, truth.expression), truth.verticesModel),
  };
  try {
    const face = (await reconstructor.reconstruct(image, { maxFaces: 1, renderer: 'gar', garStart: 'encoder' })).faces[0];
    const expression = new Float32Array(model.expressionNames.length);
    for (const [name, weight] of Object.entries(face.expression)) expression[model.expressionNames.indexOf(name)] = weight;
    record.fit = errorMm(face.vertices, truth.verticesModel);
    record['fitted identity, true expression'] = errorMm(evaluateMorphableModel(model, face.identity, truth.expression), truth.verticesModel);
    record['true identity, fitted expression'] = errorMm(evaluateMorphableModel(model, truth.identity, expression), truth.verticesModel);
    record['fitted identity, no expression'] = errorMm(evaluateMorphableModel(model, face.identity, noExpression), truth.verticesModel);
  } catch (error) {
    if (!(error instanceof FacegarError)) throw error;
    process.stderr.write(`face ${index + 1}: ${error.message}\n`);
  }
  records.push(record);
  process.stderr.write(`face ${index + 1}/${source.count}: fit ${record.fit?.toFixed(2) ?? 'failed'} mm, mean face ${record['mean face'].toFixed(2)} mm\n`);
}
for (const row of rows) {
  const values = records.filter((r) => r.fit !== undefined).map((r) => r[row]);
  process.stdout.write(`${row.padEnd(34)} ${(values.reduce((a, b) => a + b, 0) / values.length).toFixed(2)} mm (mean over ${values.length} faces)\n`);
}
if (values.json) await writeFile(values.json, JSON.stringify(records));
reconstructor.dispose();
