// Benchmark of the browser demo (not a test): bundle size, the page's backend choice with no
// options, time from photo to mesh per backend and fit (GAR presets, graphics path), live mode's
// frames per second with a fake camera, and screenshots of each mode. Headless Debian Chromium.
// Prints one JSON object.
// Usage: node --import tsx bench/web.ts [--photos 000002.jpg,000031.jpg] [--modes gar:instant,gar:fast,…,graphics]
//   [--backends wasm,webgl] [--slow-timeout-s 120] [--live-s 15] [--live-trackers '[{},{"encoderInterval":1}]'] [--camera-fps 15]
//   [--screenshots docs/images]
// --live-trackers: live mode once per tracker option set (the page's ?live=), one after the other in this run.
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDemoServer } from '../web/serve.ts';
import { DEFAULT_DIST_DIR } from '../web/build.ts';
import type { LiveStats } from '../web/live-mode.ts';
import { writeFakeCameraVideo } from '../test/helpers/fake-camera.ts';
import { modelDir, photosDir, testCacheDir } from '../test/helpers/shared-data.ts';

const CHROMIUM_PATH = process.env.FACEGAR_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ALL_MODES = ['gar:instant', 'gar:fast', 'gar:default', 'gar:quality', 'graphics'];

export interface BenchWebOptions {
  photos?: string[];
  /** Values of the page's fit selector (#mode); the first is the one photoToMeshMs reports. Default: the page's default. */
  modes?: string[];
  backends?: string[];
  /** A photo on a backend other than wasm is given up after this long (software WebGL takes minutes). */
  slowTimeoutMs?: number;
  /** Seconds of live mode (wasm, fake camera); 0 = none. */
  liveSeconds?: number;
  /** The fake camera's frame rate (15 by default): live mode cannot track more frames per second than it delivers. */
  cameraFps?: number;
  /** Live mode once per option set of the tracker (default: one run with the page's defaults). */
  liveTrackers?: Record<string, number>[];
  /** Write web-photo-gar.png, web-photo-graphics.png and web-live.png here. */
  screenshotsDir?: string;
}

type Exposed = {
  timingsMs?: Record<string, number>;
  backend?: { backend: string; threads: number; choice: { reason: string; probeMs: Record<string, number> } };
  live?: LiveStats;
};
const exposed = (page: Page) => page.evaluate(() => (globalThis as unknown as { facegar: Exposed }).facegar);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function benchWeb(options: BenchWebOptions = {}): Promise<Record<string, unknown>> {
  const photos = options.photos ?? ['000002.jpg', '000031.jpg', '000037.jpg'];
  const modes = options.modes ?? ['gar:default'];
  const backends = options.backends ?? ['wasm'];
  const workDir = await mkdtemp(join(tmpdir(), 'facegar-bench-'));
  const camera = join(workDir, 'camera.y4m');
  await writeFakeCameraVideo(camera, [join(photosDir, photos[0])], { framesPerPhoto: 40, framesPerSecond: options.cameraFps ?? 15 });
  const server = await startDemoServer({ port: 0, model: { modelDir, cacheDir: testCacheDir, offline: true } });
  const context = await chromium.launchPersistentContext(join(workDir, 'profile'), {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1200, height: 960 },
    args: [...ARGS, '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${camera}`],
  });
  await context.grantPermissions(['camera'], { origin: new URL(server.url).origin });
  try {
    const bundle: Record<string, { bytes: number; gzipBytes: number }> = {};
    for (const name of ['app.js', 'worker.js', 'index.html']) {
      const body = await readFile(join(DEFAULT_DIST_DIR, name));
      bundle[name] = { bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
    }
    // No options, as a new user: first visit, then the models from Cache Storage.
    const loads: number[] = [];
    const page = await context.newPage();
    for (let visit = 0; visit < 2; visit++) loads.push(await openPage(page, server.url));
    const choice = (await exposed(page)).backend;
    await page.close();

    const perBackend: Record<string, unknown> = {};
    let defaultModeMedian: number | undefined;
    for (const backend of backends) {
      const results: Record<string, unknown> = {};
      let probeMs: Record<string, number> | undefined;
      for (const mode of modes) {
        const runs: Record<string, unknown>[] = [];
        for (const photo of photos) {
          // A page per mode and photo on slow backends: a photo given up leaves its worker busy.
          const run = await context.newPage();
          await openPage(run, `${server.url}?backend=${backend}`);
          probeMs ??= (await exposed(run)).backend?.choice.probeMs;
          await run.selectOption('#mode', mode);
          const timeoutMs = backend === 'wasm' ? 600_000 : (options.slowTimeoutMs ?? 120_000);
          const started = Date.now();
          await run.setInputFiles('#file', join(photosDir, photo));
          const finished = await run
            .waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state ?? ''), undefined, { timeout: timeoutMs })
            .then(
              () => true,
              () => false,
            );
          if (finished) {
            runs.push({ photo, ...(await exposed(run)).timingsMs });
            if (options.screenshotsDir && backend === 'wasm' && photo === photos[0] && (mode === 'gar:default' || mode === 'graphics')) {
              await run.screenshot({ path: join(options.screenshotsDir, mode === 'graphics' ? 'web-photo-graphics.png' : 'web-photo-gar.png') });
            }
          } else {
            runs.push({ photo, gaveUpAfterMs: Date.now() - started });
          }
          await run.close();
          if (!finished) break; // the other photos would take as long
        }
        const times = runs.map((r) => r.photoToMesh as number | undefined).filter((t): t is number => t !== undefined);
        const medianMs = times.length === runs.length ? median(times) : undefined;
        results[mode] = { medianMs, runs, ...(medianMs !== undefined && probeMs?.wasm ? { probeRatio: Math.round(medianMs / probeMs.wasm) } : {}) };
        if (backend === 'wasm' && mode === modes[0]) defaultModeMedian = medianMs;
      }
      perBackend[backend] = { probeMs, modes: results };
    }

    const live: Record<string, unknown>[] = [];
    if ((options.liveSeconds ?? 10) > 0) {
      for (const [k, tracker] of (options.liveTrackers ?? [{}]).entries()) {
        live.push(await benchLive(context, server.url, options.liveSeconds ?? 10, tracker, k === 0 ? options.screenshotsDir : undefined));
      }
    }

    return {
      chromium: context.browser()?.version() ?? 'persistent context',
      noOptions: { backend: choice?.backend, threads: choice?.threads, reason: choice?.choice.reason, probeMs: choice?.choice.probeMs },
      bundle,
      totalGzipBytes: Object.values(bundle).reduce((s, b) => s + b.gzipBytes, 0),
      pageReadyMs: { firstVisit: loads[0], secondVisitModelsFromCache: loads[1] },
      photoToMeshMs: { median: defaultModeMedian, mode: modes[0] },
      perBackend,
      live,
    };
  } finally {
    await context.close();
    await server.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function openPage(page: Page, url: string): Promise<number> {
  const started = Date.now();
  // Long: after a photo given up on software WebGL, Chromium's GPU process may still be busy with it.
  await page.goto(url, { timeout: 180_000 });
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 180_000 });
  return Date.now() - started;
}

/** Live mode on wasm for `seconds`: frames per second after the first frame (which searches the whole frame), per-frame times. */
async function benchLive(
  context: BrowserContext,
  url: string,
  seconds: number,
  tracker: Record<string, number>,
  screenshotsDir?: string,
): Promise<Record<string, unknown>> {
  const page = await context.newPage();
  try {
    await openPage(page, `${url}?backend=wasm&live=${encodeURIComponent(JSON.stringify(tracker))}`);
    await page.click('#live');
    await page.waitForFunction(() => ((globalThis as unknown as { facegar: Exposed }).facegar.live?.framesWithFace ?? 0) >= 1, undefined, { timeout: 120_000 });
    await page.waitForTimeout(seconds * 1000);
    const stats = (await exposed(page)).live!;
    if (screenshotsDir) await page.screenshot({ path: join(screenshotsDir, 'web-live.png') });
    await page.click('#live');
    const followed = stats.recent.slice(1);
    const spanMs = followed.length > 1 ? followed[followed.length - 1].atMs - followed[0].atMs : 0;
    return {
      backend: 'wasm',
      tracker,
      framesWithFace: stats.framesWithFace,
      framesPerSecond: spanMs > 0 ? Number((((followed.length - 1) * 1000) / spanMs).toFixed(2)) : 0,
      pageFps: Number(stats.fps.toFixed(2)),
      lastFrameMs: stats.last?.timingsMs,
      lastEncodeMs: stats.lastEncodeMs,
      medianLandmarkErrorPercent: Number(median(followed.map((r) => r.landmarkErrorPercent)).toFixed(2)),
    };
  } finally {
    await page.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      photos: { type: 'string' },
      modes: { type: 'string' },
      backends: { type: 'string' },
      'slow-timeout-s': { type: 'string' },
      'live-s': { type: 'string' },
      'live-trackers': { type: 'string' },
      'camera-fps': { type: 'string' },
      screenshots: { type: 'string' },
    },
  });
  const list = (value?: string) =>
    value
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const modes = list(values.modes);
  if (modes?.some((m) => !ALL_MODES.includes(m))) throw new Error(`--modes: each of ${ALL_MODES.join(', ')}`);
  console.log(
    JSON.stringify(
      await benchWeb({
        photos: list(values.photos),
        modes,
        backends: list(values.backends),
        slowTimeoutMs: values['slow-timeout-s'] ? 1000 * Number(values['slow-timeout-s']) : undefined,
        liveSeconds: values['live-s'] ? Number(values['live-s']) : undefined,
        cameraFps: values['camera-fps'] ? Number(values['camera-fps']) : undefined,
        liveTrackers: values['live-trackers'] ? (JSON.parse(values['live-trackers']) as Record<string, number>[]) : undefined,
        screenshotsDir: values.screenshots ? resolve(values.screenshots) : undefined,
      }),
      null,
      1,
    ),
  );
}
