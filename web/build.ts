// Bundle the demo page with esbuild into .cache/web-dist (gitignored).
// Usage: node --import tsx web/build.ts [--outdir DIR]
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_DIST_DIR = resolve(webDir, '../.cache/web-dist');

/** Build app.js and worker.js (ESM, minified) and copy index.html into `outDir`. Returns the output paths. */
export async function buildDemo(outDir = DEFAULT_DIST_DIR): Promise<{ outDir: string; files: string[] }> {
  await mkdir(outDir, { recursive: true });
  const common = {
    bundle: true,
    format: 'esm' as const,
    platform: 'browser' as const,
    target: 'es2022',
    minify: true,
    sourcemap: false,
    logLevel: 'warning' as const,
    legalComments: 'none' as const,
  };
  await Promise.all([
    build({ ...common, entryPoints: [join(webDir, 'app.ts')], outfile: join(outDir, 'app.js') }),
    build({ ...common, entryPoints: [join(webDir, 'reconstruct-worker.ts')], outfile: join(outDir, 'worker.js') }),
    // The README's embedding example, bundled as a user would ('facegar' is this package).
    build({
      ...common,
      entryPoints: [join(webDir, 'embed-example.js')],
      outfile: join(outDir, 'embed.js'),
      alias: { facegar: resolve(webDir, '../src/index.ts') },
    }),
  ]);
  await copyFile(join(webDir, 'index.html'), join(outDir, 'index.html'));
  await copyFile(join(webDir, 'embed.html'), join(outDir, 'embed.html'));
  return { outDir, files: ['index.html', 'app.js', 'worker.js', 'embed.html', 'embed.js'].map((f) => join(outDir, f)) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--outdir');
  const result = await buildDemo(at > 0 ? resolve(process.argv[at + 1]) : undefined);
  console.log(`built ${result.files.join(', ')}`);
}
