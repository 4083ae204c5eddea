// Does a wrong focal length bend the fitted shape? A single photo hardly shows focal length
// (a longer lens further away draws nearly the same face), so a fit may miss it; what matters is
// whether the shape pays for that. Reads the report of
//   facegar eval synthetic --set SET --methods gar-encoder-init,true-pose --report DIR
// and prints, for each fitted row: how the per-image shape error (over the mean face's on the same
// image) correlates with the focal error |f / f_true − 1| (Spearman), the shape error of the images
// with the smaller and the larger half of focal errors, and, where the report has a `true-pose` row
// (the same fit with the true rotation, translation and focal length held), how much holding the
// true camera changes each half.
//   node --import tsx scripts/focal-shape-check.ts DIR/report.json [--json]
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ImageRecord {
  method: string;
  index: number;
  ok: boolean;
  medianMm: number | null;
  focalPx: number | null;
  trueFocalPx?: number | null;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
if (positionals.length !== 1) {
  process.stderr.write('usage: node --import tsx scripts/focal-shape-check.ts REPORT.json [--json]\n');
  process.exit(2);
}
let report: { images?: ImageRecord[] };
try {
  report = JSON.parse(await readFile(positionals[0], 'utf8'));
} catch (error) {
  process.stderr.write(`${positionals[0]}: not a readable report.json (${(error as Error).message})\n`);
  process.exit(3);
}
const images = Array.isArray(report.images) ? report.images : [];
if (!images.some((image) => typeof image.trueFocalPx === 'number')) {
  process.stderr.write(`${positionals[0]}: no trueFocalPx per image (a report from before that field; run the eval again)\n`);
  process.exit(2);
}
const byMethod = new Map<string, Map<number, ImageRecord>>();
for (const image of images) {
  if (!byMethod.has(image.method)) byMethod.set(image.method, new Map());
  byMethod.get(image.method)!.set(image.index, image);
}
const meanFace = byMethod.get('mean-face');
if (!meanFace) {
  process.stderr.write(`${positionals[0]}: no mean-face row\n`);
  process.exit(2);
}

/** Ranks (ties averaged), for Spearman's correlation. */
function ranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && order[end + 1][0] === order[start][0]) end++;
    for (let k = start; k <= end; k++) out[order[k][1]] = (start + end) / 2;
    start = end + 1;
  }
  return out;
}
function pearson(a: number[], b: number[]): number {
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const [ma, mb] = [mean(a), mean(b)];
  let ab = 0,
    aa = 0,
    bb = 0;
  a.forEach((v, i) => ((ab += (v - ma) * (b[i] - mb)), (aa += (v - ma) ** 2), (bb += (b[i] - mb) ** 2)));
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
const mean = (x: number[]) => (x.length ? x.reduce((s, v) => s + v, 0) / x.length : NaN);
const round = (v: number, digits = 3) => Number(v.toFixed(digits));

const results = [];
const truePose = byMethod.get('true-pose');
for (const [method, records] of byMethod) {
  if (method === 'mean-face' || method === 'true-pose') continue;
  const rows = [...records.values()]
    .filter((r) => r.ok && r.medianMm != null && r.focalPx != null && r.trueFocalPx && meanFace.get(r.index)?.medianMm != null)
    .map((r) => ({
      index: r.index,
      focalError: Math.abs(r.focalPx! / r.trueFocalPx! - 1),
      ratio: r.medianMm! / meanFace.get(r.index)!.medianMm!,
      truePoseRatio:
        truePose?.get(r.index)?.ok && truePose.get(r.index)!.medianMm != null ? truePose.get(r.index)!.medianMm! / meanFace.get(r.index)!.medianMm! : undefined,
    }));
  if (rows.length < 6) continue;
  const sorted = [...rows].sort((a, b) => a.focalError - b.focalError);
  const halves = [sorted.slice(0, sorted.length >> 1), sorted.slice(sorted.length >> 1)];
  const half = (group: typeof rows) => {
    const paired = group.filter((r) => r.truePoseRatio !== undefined);
    return {
      images: group.length,
      medianFocalErrorPct: round(100 * group[group.length >> 1].focalError, 1),
      meanRatioToMeanFace: round(mean(group.map((r) => r.ratio))),
      ...(paired.length ? { truePoseMeanRatio: round(mean(paired.map((r) => r.truePoseRatio!))) } : {}),
    };
  };
  results.push({
    method,
    images: rows.length,
    spearmanFocalErrorVsShapeRatio: round(pearson(ranks(rows.map((r) => r.focalError)), ranks(rows.map((r) => r.ratio)))),
    smallerFocalErrors: half(halves[0]),
    largerFocalErrors: half(halves[1]),
  });
}
if (values.json) console.log(JSON.stringify(results, null, 1));
else
  for (const r of results) {
    console.log(`${r.method}: ${r.images} images; Spearman(focal error, shape error ÷ mean face's) = ${r.spearmanFocalErrorVsShapeRatio}`);
    for (const [name, h] of [
      ['smaller half of focal errors', r.smallerFocalErrors],
      ['larger half of focal errors ', r.largerFocalErrors],
    ] as const)
      console.log(
        `  ${name}: median focal error ${h.medianFocalErrorPct} %, shape ${h.meanRatioToMeanFace}× the mean face` +
          ('truePoseMeanRatio' in h ? `, with the true camera held ${h.truePoseMeanRatio}×` : ''),
      );
  }
