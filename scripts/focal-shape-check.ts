// Does a wrong focal length bend the fitted shape? A single photo hardly shows focal length
// (a longer lens further away draws nearly the same face), so a fit may miss it; what matters is
// whether the shape pays for that. Reads the reports of
//   facegar eval synthetic --set SET --methods gar-encoder-init,true-focal,true-pose --report DIR
// (or of several runs on the same set, e.g. one per row) and prints, for each fitted row: how the
// per-image shape error (over the mean face's on the same image) correlates with the focal error
// |f / f_true − 1| (Spearman), the shape error of the images with the smaller and the larger half
// of focal errors, and, where the reports have the diagnostic rows, the same images' shape error
// when the fit was told the true focal length (`true-focal`, as EXIF tells it) or held at the true
// rotation, translation and focal length (`true-pose`).
//   node --import tsx scripts/focal-shape-check.ts DIR/report.json [DIR2/report.json …] [--json]
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pearsonCorrelation } from '../src/eval/identity-metrics.ts';

interface ImageRecord {
  method: string;
  index: number;
  ok: boolean;
  medianMm: number | null;
  focalPx: number | null;
  trueFocalPx?: number | null;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
if (positionals.length < 1) {
  process.stderr.write('usage: node --import tsx scripts/focal-shape-check.ts REPORT.json [REPORT.json …] [--json]\n');
  process.exit(2);
}
const byMethod = new Map<string, Map<number, ImageRecord>>();
for (const path of positionals) {
  let report: { images?: ImageRecord[] };
  try {
    report = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    process.stderr.write(`${path}: not a readable report.json (${(error as Error).message})\n`);
    process.exit(3);
  }
  const images = Array.isArray(report.images) ? report.images : [];
  if (!images.some((image) => typeof image.trueFocalPx === 'number')) {
    process.stderr.write(`${path}: no trueFocalPx per image (a report from before that field; run the eval again)\n`);
    process.exit(2);
  }
  for (const image of images) {
    const known = byMethod.get(image.method)?.get(image.index);
    // Every report has a mean-face row: the same set gives the same one, another set does not.
    if (image.method === 'mean-face' && known && (known.medianMm !== image.medianMm || known.trueFocalPx !== image.trueFocalPx)) {
      process.stderr.write(`${path}: image ${image.index} differs from the earlier report's: the reports are not of one set\n`);
      process.exit(2);
    }
    if (!byMethod.has(image.method)) byMethod.set(image.method, new Map());
    byMethod.get(image.method)!.set(image.index, image);
  }
}
const meanFace = byMethod.get('mean-face');
if (!meanFace) {
  process.stderr.write(`${positionals.join(', ')}: no mean-face row\n`);
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
const mean = (x: number[]) => (x.length ? x.reduce((s, v) => s + v, 0) / x.length : NaN);
const round = (v: number, digits = 3) => Number(v.toFixed(digits));

const DIAGNOSTIC_ROWS = ['true-focal', 'true-pose'] as const;
const results = [];
for (const [method, records] of byMethod) {
  if (method === 'mean-face' || (DIAGNOSTIC_ROWS as readonly string[]).includes(method)) continue;
  const rows = [...records.values()]
    .filter((r) => r.ok && r.medianMm != null && r.focalPx != null && r.trueFocalPx && meanFace.get(r.index)?.medianMm != null)
    .map((r) => ({
      index: r.index,
      focalError: Math.abs(r.focalPx! / r.trueFocalPx! - 1),
      ratio: r.medianMm! / meanFace.get(r.index)!.medianMm!,
      diagnostic: Object.fromEntries(
        DIAGNOSTIC_ROWS.map((name) => {
          const record = byMethod.get(name)?.get(r.index);
          return [name, record?.ok && record.medianMm != null ? record.medianMm / meanFace.get(r.index)!.medianMm! : undefined];
        }),
      ) as Record<(typeof DIAGNOSTIC_ROWS)[number], number | undefined>,
    }));
  if (rows.length < 6) continue;
  const sorted = [...rows].sort((a, b) => a.focalError - b.focalError);
  const halves = [sorted.slice(0, sorted.length >> 1), sorted.slice(sorted.length >> 1)];
  const half = (group: typeof rows) => {
    const out: Record<string, number> = {
      images: group.length,
      medianFocalErrorPct: round(100 * group[group.length >> 1].focalError, 1),
      meanRatioToMeanFace: round(mean(group.map((r) => r.ratio))),
    };
    // Only where every image of the half has the diagnostic row, so the means cover the same images.
    for (const name of DIAGNOSTIC_ROWS)
      if (group.every((r) => r.diagnostic[name] !== undefined))
        out[name === 'true-pose' ? 'truePoseMeanRatio' : 'trueFocalMeanRatio'] = round(mean(group.map((r) => r.diagnostic[name]!)));
    return out;
  };
  results.push({
    method,
    images: rows.length,
    spearmanFocalErrorVsShapeRatio: round(pearsonCorrelation(ranks(rows.map((r) => r.focalError)), ranks(rows.map((r) => r.ratio)))),
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
          ('trueFocalMeanRatio' in h ? `, told the true focal length ${h.trueFocalMeanRatio}×` : '') +
          ('truePoseMeanRatio' in h ? `, with the true camera held ${h.truePoseMeanRatio}×` : ''),
      );
  }
