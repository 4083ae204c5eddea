// `npm run build` (and `prepack`): the published package. Bundles the generated gradient
// registrations, compiles src/ to dist/ (JavaScript + .d.ts, tsconfig.build.json), and copies
// the generated JavaScript that tsc does not emit.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

run(process.execPath, ['scripts/bundle-gradients.mjs']);
rmSync(`${root}/dist`, { recursive: true, force: true });
run(process.execPath, [fileURLToPath(import.meta.resolve('typescript/bin/tsc')), '-p', 'tsconfig.build.json']);
cpSync(`${root}/src/engine/generated`, `${root}/dist/engine/generated`, { recursive: true });
