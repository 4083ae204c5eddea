// Benchmark of the browser demo (not a test): bundle size, and time from photo to mesh in headless
// Debian Chromium (wasm backend). Prints one JSON object.
// Usage: node --import tsx bench/web.ts [photo names in ../shared/photos/examples, default 3]
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { startDemoServer } from '../web/serve.ts';
import { DEFAULT_DIST_DIR } from '../web/build.ts';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelDir, photosDir, testCacheDir } from '../test/helpers/shared-data.ts';

const CHROMIUM_PATH = process.env.FACEGAR_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function benchWeb(photos: string[] = ['000002.jpg', '000031.jpg', '000037.jpg']): Promise<Record<string, unknown>> {
const server = await startDemoServer({ port: 0, model: { modelDir, cacheDir: testCacheDir, offline: true } });
const profileDir = await mkdtemp(join(tmpdir(), 'facegar-bench-'));
const context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM_PATH, headless: true, args: ARGS });
try {
  const bundle: Record<string, { bytes: number; gzipBytes: number }> = {};
  for (const name of ['app.js', 'worker.js', 'index.html']) {
    const body = await readFile(join(DEFAULT_DIST_DIR, name));
    bundle[name] = { bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
  }
  const page = await context.newPage();
  const loads: number[] = [];
  for (let visit = 0; visit < 2; visit++) {
    const started = Date.now();
    await page.goto(`${server.url}?backend=wasm`);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 120_000 });
    loads.push(Date.now() - started);
  }
  const runs: Record<string, unknown>[] = [];
  for (const photo of photos) {
    await page.setInputFiles('#file', join(photosDir, photo));
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 120_000 });
    const timings = await page.evaluate(() => (globalThis as unknown as { facegar: { timingsMs?: Record<string, number> } }).facegar.timingsMs);
    runs.push({ photo, ...timings });
  }
  const photoToMesh = runs.map((r) => r.photoToMesh as number);
  return {
    chromium: await context.browser()?.version() ?? 'persistent context',
    backend: await page.textContent('#backend'),
    bundle,
    totalGzipBytes: Object.values(bundle).reduce((s, b) => s + b.gzipBytes, 0),
    pageReadyMs: { firstVisit: loads[0], secondVisitModelFromCache: loads[1] },
    photoToMeshMs: { median: photoToMesh.sort((a, b) => a - b)[Math.floor(photoToMesh.length / 2)], runs },
  };
} finally {
  await context.close();
  await server.close();
  await rm(profileDir, { recursive: true, force: true });
}
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const photos = process.argv.slice(2);
  console.log(JSON.stringify(await benchWeb(photos.length ? photos : undefined), null, 1));
}
