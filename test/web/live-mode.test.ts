// End-to-end: live mode in headless Chromium with a fake camera (a Y4M made here from an example
// photo drifting left and right). The face is followed frame by frame, the mesh moves with it,
// the identity settles as frames accumulate, and the page reports frames per second.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startDemoServer } from '../../web/serve.ts';
import type { LiveStats } from '../../web/live-mode.ts';
import { writeFakeCameraVideo } from '../helpers/fake-camera.ts';
import { modelDir, photosDir, repositoryRoot, testCacheDir } from '../helpers/shared-data.ts';

const CHROMIUM_PATH = process.env.FACEGAR_CHROMIUM ?? '/usr/bin/chromium';
/** Frames with a face to wait for, and encoder estimates in the identity's mean: enough for it to settle visibly. */
const FRAMES = 12;
const IDENTITY_FRAMES = 8;
const DRIFT_PX = 60;

let server: Awaited<ReturnType<typeof startDemoServer>> | undefined;
let context: BrowserContext | undefined;
let workDir = '';

before(async () => {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set FACEGAR_CHROMIUM`);
  workDir = await mkdtemp(join(tmpdir(), 'facegar-live-'));
  const video = join(workDir, 'camera.y4m');
  await writeFakeCameraVideo(video, [join(photosDir, '000002.jpg')], { framesPerPhoto: 40, driftPx: DRIFT_PX });
  server = await startDemoServer({ port: 0, model: { modelDir, cacheDir: testCacheDir, offline: true }, photosDir });
  context = await chromium.launchPersistentContext(join(workDir, 'profile'), {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${video}`,
    ],
  });
  await context.grantPermissions(['camera'], { origin: new URL(server.url).origin });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test("live mode follows the fake camera's face: the mesh moves, the identity settles, frames per second are shown", { timeout: 240_000 }, async () => {
  const page = await context!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message.slice(0, 300)));
  try {
    await page.goto(`${server!.url}?backend=wasm`);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 90_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready', (await page.textContent('#message')) ?? '');
    await page.click('#live');
    await page.waitForFunction(
      ([frames, identityFrames]) => {
        const live = (globalThis as unknown as { facegar: { live?: LiveStats } }).facegar.live;
        return (live?.framesWithFace ?? 0) >= frames && (live?.last?.identityFrames ?? 0) >= identityFrames;
      },
      [FRAMES, IDENTITY_FRAMES],
      { timeout: 180_000 },
    );
    const live = await page.evaluate(() => (globalThis as unknown as { facegar: { live: LiveStats } }).facegar.live);
    const stats = (await page.textContent('#live-stats')) ?? '';
    await mkdir(join(repositoryRoot, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(repositoryRoot, 'test-artifacts', 'web-live.png') });
    await page.click('#live');
    await page.waitForFunction(() => document.body.dataset.state === 'ready', undefined, { timeout: 30_000 });

    assert.match(stats, /^live: \d+\.\d frames\/s on wasm · \d+\/\d+ frames with a face · identity from \d+ frames/);
    assert.ok(live.fps > 0, 'frames per second measured');
    const recent = live.recent;
    assert.ok(recent.length >= FRAMES);
    // Identity: accumulated from the frames the encoder ran on (the first, then every few), each
    // adding one to the count; frame n of those moves it by about 1/n of a new estimate's difference.
    assert.equal(recent[0].encoded, true, 'the encoder runs on the frame where the face is found');
    for (let k = 1; k < recent.length; k++) {
      assert.equal(recent[k].identityFrames - recent[k - 1].identityFrames, recent[k].encoded ? 1 : 0, `frame ${k}: identity count`);
    }
    assert.ok(recent.filter((r) => !r.encoded).length > recent.filter((r) => r.encoded).length, 'the encoder skips most followed frames');
    const encoded = recent.filter((r) => r.encoded);
    const identityStep = (k: number) => Math.hypot(...encoded[k].identityFirst.map((v, i) => v - encoded[k - 1].identityFirst[i]));
    const n = encoded.length;
    const early = (identityStep(1) + identityStep(2) + identityStep(3)) / 3;
    const late = (identityStep(n - 3) + identityStep(n - 2) + identityStep(n - 1)) / 3;
    assert.ok(late < early, `identity steps shrink as frames accumulate: early ${early.toFixed(4)}, late ${late.toFixed(4)}`);
    // The face drifts ±60 px at about 1.2 m (focal ≈ 1.5 × 640 px): the mesh's x moves tens of millimetres.
    const xs = recent.map((r) => r.translationMm[0]);
    const rangeMm = Math.max(...xs) - Math.min(...xs);
    assert.ok(rangeMm > 30, `the mesh follows the face sideways: x spans ${rangeMm.toFixed(0)} mm`);
    const errorsPercent = recent.map((r) => r.landmarkErrorPercent).sort((a, b) => a - b);
    const median = errorsPercent[errorsPercent.length >> 1];
    assert.ok(median < 15, `the mesh's landmarks stay on the face: median ${median.toFixed(1)} % of the eye distance`);
    console.log(
      `# live: ${live.fps.toFixed(1)} frames/s (wasm, this machine), ${live.framesWithFace} frames, x span ${rangeMm.toFixed(0)} mm, median landmark error ${median.toFixed(1)} %, identity step ${early.toFixed(4)} → ${late.toFixed(4)}`,
    );
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("live mode's tracker options from the address (?live=) are checked: a bad one says why and leaves the page ready", { timeout: 120_000 }, async () => {
  const page = await context!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message.slice(0, 300)));
  try {
    await page.goto(`${server!.url}?backend=wasm&live=${encodeURIComponent(JSON.stringify({ encoderInterval: 0 }))}`);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 90_000 });
    await page.click('#live');
    await page.waitForFunction(() => (document.querySelector('#message')?.textContent ?? '').includes('Live mode did not start'), undefined, {
      timeout: 60_000,
    });
    assert.match((await page.textContent('#message')) ?? '', /Live mode did not start: .*encoderInterval/);
    await page.waitForFunction(() => document.body.dataset.state === 'ready', undefined, { timeout: 30_000 });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
