// End-to-end: bad input on the demo page (no face, huge photo, webcam unavailable) gives a message
// on the page, the page stays usable, and nothing escapes as an uncaught page error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDemoServer } from '../../web/serve.ts';
import { MAX_PIXELS } from '../../web/limits.ts';
import { modelDir, photosDir, repositoryRoot, testCacheDir } from '../helpers/shared-data.ts';

// Same browser and launch style as demo-page.test.ts (not imported: importing a test file runs its tests).
const CHROMIUM_PATH = process.env.FACEGAR_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A fake camera (a test pattern, no face): whether the page may use it is up to the context's permissions.
  '--use-fake-device-for-media-stream',
];
/** A short fit: this file checks the page's behaviour, not the fit's accuracy. */
const FIT = { landmarkSteps: 40, photometricSteps: 2 };
const artifactsDir = join(repositoryRoot, 'test-artifacts');

let server: Awaited<ReturnType<typeof startDemoServer>> | undefined;
let context: BrowserContext | undefined;
let page: Page | undefined;
let profileDir = '';
let workDir = '';
const pageErrors: string[] = [];

before(async () => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set FACEGAR_CHROMIUM`);
  }
  server = await startDemoServer({ port: 0, model: { modelDir, cacheDir: testCacheDir, offline: true }, photosDir });
  profileDir = await mkdtemp(join(tmpdir(), 'facegar-chromium-'));
  workDir = await mkdtemp(join(tmpdir(), 'facegar-bad-input-'));
  // No camera permission is granted to the page at first: getUserMedia is denied.
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
  });
  await context.clearPermissions();
  await mkdir(artifactsDir, { recursive: true });
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message.slice(0, 300)));
  await page.goto(`${server.url}?backend=wasm&fit=${encodeURIComponent(JSON.stringify(FIT))}`);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready', `page did not get ready: ${await page.textContent('#message')}`);
});

after(async () => {
  await context?.close();
  await server?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Give the page a file through its picker and wait until it has finished with it. */
async function pick(path: string): Promise<{ state: string; message: string; messageKind: string }> {
  await page!.setInputFiles('#file', path);
  await page!.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 60_000 });
  return page!.evaluate(() => {
    const box = document.getElementById('message')!;
    return { state: document.body.dataset.state ?? '', message: box.textContent ?? '', messageKind: box.className };
  });
}

/** The message box is on screen (not a blank page, not a console-only error). */
async function assertMessageShown(pattern: RegExp): Promise<void> {
  assert.ok(await page!.isVisible('#message'), 'the message box is visible');
  assert.ok(await page!.isVisible('#drop'), 'the photo input is still there');
  assert.match((await page!.textContent('#message')) ?? '', pattern);
}

test('a photo without a face says so on the page, and the page stays usable', { timeout: 90_000 }, async () => {
  const blank = join(workDir, 'blank.png');
  await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .png()
    .toFile(blank);
  const result = await pick(blank);
  assert.equal(result.state, 'failed');
  assert.equal(result.messageKind, 'error');
  await assertMessageShown(/^blank\.png: no face found in this photo\./);
  await page!.screenshot({ path: join(artifactsDir, 'web-bad-input-no-face.png') });

  // The worker survived: a following good photo still reconstructs.
  const good = await pick(join(photosDir, '000002.jpg'));
  assert.equal(good.state, 'done', `after the blank photo: ${good.message}`);
  assert.notEqual(good.messageKind, 'error');
  assert.ok(await page!.evaluate(() => (globalThis as unknown as { facegar: { meshVertexCount?: number } }).facegar.meshVertexCount! > 0));
  assert.equal(await page!.locator('#downloads a').count(), 5);

  // A failure after a success leaves no stale mesh or downloads of the previous photo.
  const again = await pick(blank);
  assert.equal(again.state, 'failed');
  await assertMessageShown(/^blank\.png: no face found/);
  assert.equal(await page!.locator('#downloads a').count(), 0, "the previous photo's downloads are gone");
  assert.equal(await page!.textContent('#summary'), '');
  assert.equal(await page!.evaluate(() => (globalThis as unknown as { facegar: { meshVertexCount?: number } }).facegar.meshVertexCount), undefined);
  assert.deepEqual(pageErrors, []);
});

test('a photo over the pixel limit gets the size message', { timeout: 60_000 }, async () => {
  const width = 10_000,
    height = Math.floor(MAX_PIXELS / width) + 1;
  const huge = join(workDir, 'huge.png');
  // Uniform colour: tiny on disk, over the limit once decoded.
  await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 180, b: 160 } } })
    .png({ compressionLevel: 9 })
    .toFile(huge);
  assert.ok((await stat(huge)).size < 2e6, 'the huge test photo stays small on disk');
  const result = await pick(huge);
  assert.equal(result.state, 'failed');
  assert.equal(result.messageKind, 'error');
  await assertMessageShown(new RegExp(`^huge\\.png: the photo is ${width}×${height} pixels; at most ${MAX_PIXELS / 1e6} megapixels are accepted\\.`));
  assert.deepEqual(pageErrors, []);
});

test('a denied webcam gives a message on the page; an allowed one takes a photo', { timeout: 60_000 }, async () => {
  await page!.evaluate(() => {
    document.getElementById('message')!.className = '';
    document.getElementById('message')!.textContent = '';
  });
  await page!.click('#webcam');
  await page!.waitForFunction(() => document.getElementById('message')!.className === 'error', undefined, { timeout: 20_000 });
  await assertMessageShown(/^The webcam was denied: allow camera access for this page, or pick a photo instead\.$/);
  assert.ok(await page!.isDisabled('#capture'), 'no photo can be taken without a camera');
  await page!.screenshot({ path: join(artifactsDir, 'web-bad-input-webcam-denied.png') });

  // Allowed: the fake camera's test pattern is captured and reconstructed; it has no face, which the page says.
  await context!.grantPermissions(['camera'], { origin: new URL(server!.url).origin });
  await page!.click('#webcam');
  await page!.waitForFunction(() => !(document.getElementById('capture') as HTMLButtonElement).disabled, undefined, { timeout: 20_000 });
  assert.ok(await page!.isVisible('#video'));
  assert.equal(await page!.textContent('#message'), '', 'the denial message is gone once the camera runs');
  await page!.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).videoWidth > 0, undefined, { timeout: 20_000 });
  await page!.evaluate(() => {
    document.body.dataset.state = 'ready';
  });
  await page!.click('#capture');
  await page!.waitForFunction(
    () => ['done', 'failed'].includes(document.body.dataset.state ?? '') && document.getElementById('message')!.textContent !== '',
    undefined,
    { timeout: 60_000 },
  );
  await assertMessageShown(/^webcam\.png: no face found in this photo\./);
  assert.deepEqual(pageErrors, []);
});

test('the webcam button when the browser has no camera API gives a message on the page', { timeout: 30_000 }, async () => {
  // An insecure origin or an old browser: navigator.mediaDevices is missing.
  await page!.evaluate(() => {
    Object.defineProperty(navigator, 'mediaDevices', { value: undefined, configurable: true });
  });
  await page!.click('#webcam');
  await assertMessageShown(/^The webcam could not be started: this browser offers no camera access here/);
  assert.deepEqual(pageErrors, []);
});
