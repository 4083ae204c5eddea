// `npm test` and `npm run test:unit`: node's test runner over test/<area>/*.test.ts through tsx.
//   node scripts/run-tests.mjs [--unit] [test files...]
// --unit leaves out the files listed in SLOW_TESTS (each takes a minute or more here: whole
// reconstructions through the CLI, training runs, the browser). Browser tests (files importing
// playwright-core) need Chromium: without it they are left out with one line saying so.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Test files left out of `npm run test:unit`: the slow end of the suite (whole fits, training, CLI batches, the browser). */
export const SLOW_TESTS = [
  'test/api/library.test.ts',
  'test/api/reconstruct-gar.test.ts',
  'test/cli/bad-input.test.ts',
  'test/cli/batch-resume.test.ts',
  'test/cli/eval-gar.test.ts',
  'test/cli/focal.test.ts',
  'test/cli/hostile-inputs.test.ts',
  'test/cli/hostile-models.test.ts',
  'test/cli/landmark-regressor-cli.test.ts',
  'test/cli/queue.test.ts',
  'test/cli/reconstruct-examples.test.ts',
  'test/cli/reconstruct-gar.test.ts',
  'test/cli/reconstruct-layout.test.ts',
  'test/cli/sample-normal-from.test.ts',
  'test/cli/shard.test.ts',
  'test/detect/face-embedding.test.ts',
  'test/engine/data-parallel.test.ts',
  'test/engine/shared-data-kernels.test.ts',
  'test/engine/simd-kernels.test.ts',
  'test/eval/aflw2000.test.ts',
  'test/eval/benchmark-report.test.ts',
  'test/eval/benchmark-set.test.ts',
  'test/eval/gar-quality.test.ts',
  'test/eval/geometry-primitives.test.ts',
  'test/eval/hostile-datasets.test.ts',
  'test/eval/micc-protocol.test.ts',
  'test/eval/now-protocol.test.ts',
  'test/eval/prediction-layout.test.ts',
  'test/eval/render-cycles-set.test.ts',
  'test/eval/synthetic-benchmark.test.ts',
  'test/eval/synthetic-gar.test.ts',
  'test/fit/fit-face.test.ts',
  'test/fit/gar-refine.test.ts',
  'test/gar/cli.test.ts',
  'test/gar/geometry-consistency.test.ts',
  'test/gar/identity-consistency.test.ts',
  'test/gar/prepare-photos.test.ts',
  'test/gar/prepare-synthetic.test.ts',
  'test/gar/sample.test.ts',
  'test/gar/train-gar-consistency.test.ts',
  'test/gar/train-gar-identity.test.ts',
  'test/gar/train-gar.test.ts',
  'test/invert/crop-frame.test.ts',
  'test/invert/encoder.test.ts',
  'test/io/download-models.test.ts',
  'test/morphable/load-morphable-model.test.ts',
  'test/web/bad-input-page.test.ts',
  'test/web/demo-page.test.ts',
  'test/web/gltf-export.test.ts',
];

/** FACEGAR_CHROMIUM, else `chromium` on PATH, else the browser playwright-core manages; undefined when none exists. */
export function findChromium() {
  if (process.env.FACEGAR_CHROMIUM) return existsSync(process.env.FACEGAR_CHROMIUM) ? process.env.FACEGAR_CHROMIUM : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'chromium'))) return join(dir, 'chromium');
  }
  try {
    const path = createRequire(import.meta.url)('playwright-core').chromium.executablePath();
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

const args = process.argv.slice(2);
const unit = args.includes('--unit');
const named = args.filter((arg) => !arg.startsWith('--'));
let files =
  named.length > 0
    ? named
    : readdirSync(join(root, 'test'), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .flatMap((dir) =>
          readdirSync(join(root, 'test', dir.name))
            .filter((name) => name.endsWith('.test.ts'))
            .map((name) => `test/${dir.name}/${name}`),
        )
        .sort();
const stale = SLOW_TESTS.filter((file) => !existsSync(join(root, file)));
if (stale.length > 0) {
  process.stderr.write(`scripts/run-tests.mjs: SLOW_TESTS names files that do not exist: ${stale.join(', ')}\n`);
  process.exit(2);
}
if (unit) files = files.filter((file) => !SLOW_TESTS.includes(file));

const env = { ...process.env };
const browserTests = files.filter((file) => /from 'playwright-core'/.test(readFileSync(join(root, file), 'utf8')));
if (browserTests.length > 0) {
  const chromium = findChromium();
  if (chromium) env.FACEGAR_CHROMIUM = chromium;
  else {
    files = files.filter((file) => !browserTests.includes(file));
    process.stdout.write(`browser tests skipped (${browserTests.join(', ')}): Chromium not found (apt-get install chromium, or set FACEGAR_CHROMIUM)\n`);
  }
}

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { cwd: root, env, stdio: 'inherit' });
process.exitCode = result.status ?? 1;
