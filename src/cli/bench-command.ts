// `facegar bench [--json] [--quick]`: the same measurements as `npm run bench` (bench/run.ts).
import { EXIT_CODES } from '../common/errors.ts';
import { parseCommandArgs } from './command-options.ts';

const BENCH_HELP = `Usage: facegar bench [options]

Measures the tensor engine and the graphics path on this machine: generator forward and
forward+backward (wasm, cpu), 256×256, training steps on 1 vs 2 worker threads, rasteriser,
one reconstruction. Prints a table, or one JSON object with --json.

Options:
      --json     [boolean] one JSON object on stdout
      --quick    [boolean] skip the cpu backend and repeat less (under ~2 minutes)
  -h, --help     [boolean] this help
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, {
    json: { type: 'boolean' }, quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  }, { allowPositionals: false });
  if (values.help) {
    process.stdout.write(BENCH_HELP);
    return EXIT_CODES.ok;
  }
  // The benchmark lives beside the sources (bench/), loaded only when asked for.
  const { runBench, formatBenchTable } = await import('../../bench/run.ts');
  const report = await runBench({ quick: values.quick ?? false, onProgress: (stage) => process.stderr.write(`facegar bench: ${stage}\n`) });
  process.stdout.write(values.json ? JSON.stringify(report) + '\n' : formatBenchTable(report));
  return EXIT_CODES.ok;
}
