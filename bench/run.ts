// `npm run bench`. Measures the engine (generator
// forward / forward+backward on wasm and cpu, 256×256, data-parallel training on 1 vs 2
// worker threads) and the graphics path (bench/reconstruct.ts), prints a table or one JSON.
// Run: node --import tsx bench/run.ts [--json] [--quick]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeBackend, initBackend } from '../src/engine/backend.ts';
import { DEFAULT_BENCH_GENERATOR_CONFIG, measureGenerator, measureTraining } from './engine.ts';
import { benchGarReconstruct, benchReconstruct } from './reconstruct.ts';
import { benchCluster, formatClusterRows, type ClusterReport } from './cluster.ts';
import { formatTimings, measureTimings, type TimingRow } from './timings.ts';

export interface BenchOptions {
  /** Skip the cpu backend (minutes here) and take fewer repeats: under ~2 minutes. */
  quick: boolean;
  /** One line per stage as it starts (stderr in the CLI). */
  onProgress?: (stage: string) => void;
}

export interface BenchReport {
  setup: string;
  backend: { name: string; threads: number; simd?: boolean };
  /** Generator at 128×128, batch 1, wasm: forward; forward + gradients w.r.t. input, latent and all weights. */
  gFwdMs: number;
  gFwdBwdMs: number;
  /** Forward + gradients w.r.t. the weights only (what a training step needs). */
  gFwdBwdParamsMs: number;
  /** Same forward+backward on the cpu backend; null with --quick. */
  gFwdBwdCpuMs: number | null;
  /** Forward+backward at 256×256. */
  gFwdBwd256Ms: number;
  rasterMs: number;
  reconstructMs: number;
  /** GAR path, one 500-px photo: ms per preset (--quick: no quality), the networks timed, ms per refinement step. */
  reconstructGarMs: Record<string, number>;
  reconstructGarNetworks: string;
  garRefineMsPerStep: number | null;
  /** Worker threads (cores) the training step used, its throughput, and the same with one. */
  threads: number;
  trainStepsPerSec: number;
  trainStepsPerSec1: number;
  trainBatch: number;
  /** Browser demo: bundle sizes and photo-to-mesh time in headless Chromium; null with --quick. */
  web: Record<string, unknown> | null;
  /** Many machines on this one: shards and queue workers against one reconstruct (bench/cluster.ts). */
  cluster: ClusterReport;
  ratios: { fwdBwdOverFwd: number; cpuOverWasm: number | null; twoCoresOverOne: number };
  /** Speeds the tests used to assert (bench/timings.ts), each with its target. */
  timings: TimingRow[];
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const progress = options.onProgress ?? (() => {});
  await initBackend({ backend: 'wasm' });
  const backend = describeBackend();
  progress('generator 128×128 on wasm');
  const g128 = measureGenerator({ size: 128, runs: options.quick ? 3 : 7 });
  progress('generator 256×256 on wasm');
  const g256 = measureGenerator({ size: 256, runs: options.quick ? 1 : 3, forwardBackwardOnly: true });
  let cpuMs: number | null = null;
  if (!options.quick) {
    progress('generator 128×128 on cpu (minutes)');
    await initBackend({ backend: 'cpu' });
    try {
      cpuMs = measureGenerator({ size: 128, runs: 1, forwardBackwardOnly: true, warmUp: false }).forwardBackwardMs;
    } finally {
      await initBackend({ backend: 'wasm' });
    }
  }
  progress('training steps, 1 and 2 worker threads');
  const trainBatch = 2;
  const training = await measureTraining({ batch: trainBatch, steps: options.quick ? 2 : 5 });
  progress('reconstruction (graphics path) and rasteriser');
  const reconstruct = await benchReconstruct({ repeats: options.quick ? 1 : 3 });
  progress('reconstruction (GAR path), per preset');
  const garReconstruct = await benchGarReconstruct({ presets: options.quick ? ['instant', 'fast', 'default'] : ['instant', 'fast', 'default', 'quality'] });
  const cluster = await benchCluster({ photos: options.quick ? 6 : 16, onProgress: progress });
  progress('OBJ export, cached model load, mesh index');
  const timings = await measureTimings();
  // The browser demo needs Chromium and ~30 s: full runs only.
  let web: Record<string, unknown> | null = null;
  if (!options.quick) {
    progress('browser demo in headless Chromium');
    web = await (await import('./web.ts')).benchWeb();
  }
  const { size } = DEFAULT_BENCH_GENERATOR_CONFIG;
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    setup: `generator: the GAR's base preset (64 channels up to 128², z/w 256), ${size}×${size}, batch 1`,
    backend: { name: backend.name, threads: backend.threads, simd: backend.simd },
    gFwdMs: round(g128.forwardMs),
    gFwdBwdMs: round(g128.forwardBackwardMs),
    gFwdBwdParamsMs: round(g128.forwardBackwardParamsMs),
    gFwdBwdCpuMs: cpuMs === null ? null : round(cpuMs),
    gFwdBwd256Ms: round(g256.forwardBackwardMs),
    rasterMs: reconstruct.rasterMs,
    reconstructMs: reconstruct.reconstructMs,
    reconstructGarMs: garReconstruct.presetsMs as Record<string, number>,
    reconstructGarNetworks: `${garReconstruct.networks}, ${garReconstruct.resolution}²`,
    garRefineMsPerStep: garReconstruct.refineMsPerStep,
    threads: 2,
    trainStepsPerSec: Number(training.stepsPerSec['2']!.toFixed(3)),
    trainStepsPerSec1: Number(training.stepsPerSec['1']!.toFixed(3)),
    trainBatch,
    web,
    cluster,
    ratios: {
      fwdBwdOverFwd: Number((g128.forwardBackwardMs / g128.forwardMs).toFixed(2)),
      cpuOverWasm: cpuMs === null ? null : Number((cpuMs / g128.forwardBackwardMs).toFixed(1)),
      twoCoresOverOne: Number(training.speedup!.toFixed(2)),
    },
    timings,
  };
}

/** The report as an aligned text table, with the targets of issue 3. */
export function formatBenchTable(report: BenchReport): string {
  const rows: Array<[string, string, string]> = [
    ['generator forward (wasm)', `${report.gFwdMs} ms`, ''],
    ['generator forward+backward (wasm)', `${report.gFwdBwdMs} ms`, `${report.ratios.fwdBwdOverFwd}× forward (target ≤ 3)`],
    ['  weights-only backward', `${report.gFwdBwdParamsMs} ms`, `${(report.gFwdBwdParamsMs / report.gFwdMs).toFixed(2)}× forward`],
    [
      'generator forward+backward (cpu)',
      report.gFwdBwdCpuMs === null ? 'skipped (--quick)' : `${report.gFwdBwdCpuMs} ms`,
      report.ratios.cpuOverWasm === null ? '' : `${report.ratios.cpuOverWasm}× wasm (target ≥ 50)`,
    ],
    ['generator forward+backward 256×256', `${report.gFwdBwd256Ms} ms`, ''],
    ['rasterise full face 256×256', `${report.rasterMs} ms`, ''],
    ['reconstruct one 500-px photo', `${report.reconstructMs} ms`, 'graphics path'],
    ...Object.entries(report.reconstructGarMs).map(([preset, ms]): [string, string, string] => [
      `  GAR path, --preset ${preset}`,
      `${ms} ms`,
      preset === 'instant' ? report.reconstructGarNetworks : '',
    ]),
    [
      `training, batch ${report.trainBatch}, ${report.threads} workers`,
      `${report.trainStepsPerSec} steps/s`,
      `${report.ratios.twoCoresOverOne}× one worker (${report.trainStepsPerSec1} steps/s; target ≥ 1.6)`,
    ],
  ];
  rows.push(...formatClusterRows(report.cluster));
  if (report.web) {
    const web = report.web as { totalGzipBytes: number; photoToMeshMs: { median: number } };
    rows.push(['browser demo: photo to mesh (Chromium, wasm)', `${web.photoToMeshMs.median} ms`, 'median of 3 photos']);
    rows.push(['browser demo: bundle', `${Math.round(web.totalGzipBytes / 1024)} KiB gzip`, 'app + worker + page']);
  }
  const width = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => `${r[0].padEnd(width[0]!)}  ${r[1].padStart(width[1]!)}  ${r[2]}`.trimEnd());
  return (
    [report.setup, `backend ${report.backend.name}, ${report.backend.threads} thread(s), simd ${report.backend.simd}`, ...lines].join('\n') +
    '\n' +
    formatTimings(report.timings)
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = new Set(process.argv.slice(2));
  const asJson = args.has('--json');
  try {
    const report = await runBench({ quick: args.has('--quick'), onProgress: (stage) => process.stderr.write(`bench: ${stage}\n`) });
    process.stdout.write(asJson ? JSON.stringify(report) + '\n' : formatBenchTable(report));
  } catch (error) {
    process.stderr.write(
      `bench failed: ${String((error as Error)?.message ?? error)
        .split('\n')[0]!
        .slice(0, 300)}\n`,
    );
    process.exitCode = 1;
  }
}
