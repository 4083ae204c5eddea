// End-to-end: the page's backend choice in headless Chromium, whose WebGL (without a GPU) is
// Chromium's software renderer, SwiftShader, as on many virtual machines and remote desktops.
// With no options the page must not pick it; made to use it, a photo that runs far past its
// expected time gets an offer to switch to wasm, which redoes the photo there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDemoServer } from '../../web/serve.ts';
import { expectedPhotoMs } from '../../web/expected-time.ts';
import { modelDir, photosDir, testCacheDir } from '../helpers/shared-data.ts';

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
];
const PHOTO = '000002.jpg';

let server: Awaited<ReturnType<typeof startDemoServer>> | undefined;
let context: BrowserContext | undefined;
let profileDir = '';

interface Exposed {
  backend: { backend: string; choice: { backend: string; reason: string; softwareWebgl: boolean; webglRenderer?: string; probeMs: Record<string, number> } };
  timingsMs?: Record<string, number>;
  result?: { faces: { renderer: string; gar?: { preset: string } }[] };
  slowOffer?: string;
}
const exposed = (page: Page) => page.evaluate(() => (globalThis as unknown as { facegar: Exposed }).facegar);

before(async () => {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set FACEGAR_CHROMIUM`);
  server = await startDemoServer({ port: 0, model: { modelDir, cacheDir: testCacheDir, offline: true }, photosDir });
  profileDir = await mkdtemp(join(tmpdir(), 'facegar-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
  });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

async function openPage(query: string, errors: string[]): Promise<Page> {
  const page = await context!.newPage();
  page.on('pageerror', (error) => errors.push(error.message.slice(0, 300)));
  await page.goto(`${server!.url}${query}`);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 90_000 });
  assert.equal(
    await page.evaluate(() => document.body.dataset.state),
    'ready',
    `page did not get ready: ${await page.textContent('#message')} ${errors.join(' | ')}`,
  );
  return page;
}

async function reconstruct(page: Page, timeoutMs: number): Promise<number> {
  const started = Date.now();
  await page.setInputFiles('#file', join(photosDir, PHOTO));
  await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state ?? ''), undefined, { timeout: timeoutMs });
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'done', `${PHOTO}: ${await page.textContent('#message')}`);
  return Date.now() - started;
}

test('with no options the page sees that WebGL is software, says so, and runs a photo on wasm', { timeout: 300_000 }, async () => {
  const errors: string[] = [];
  const page = await openPage('', errors);
  try {
    const { backend } = await exposed(page);
    assert.match(backend.choice.webglRenderer ?? '', /SwiftShader/i, 'this Chromium draws WebGL in software');
    assert.equal(backend.choice.softwareWebgl, true);
    assert.equal(backend.backend, 'wasm', `chose ${backend.backend}: ${backend.choice.reason}`);
    assert.match((await page.textContent('#backend')) ?? '', /^wasm/);
    assert.match((await page.textContent('#backend-reason')) ?? '', /WebGL here is drawn in software \(SwiftShader\)/);
    assert.ok(backend.choice.probeMs.wasm > 0);
    // The CLI's default: the GAR path, preset default.
    assert.equal(await page.inputValue('#mode'), 'gar:default');
    const photoMs = await reconstruct(page, 280_000);
    const after = await exposed(page);
    assert.equal(after.result?.faces[0].renderer, 'gar');
    // Timing is reported, not asserted (the machine may be busy): the photo ran on wasm, which is the reference.
    console.log(
      `# no options: ${backend.backend} (${backend.choice.reason}); ${PHOTO} photo to mesh ${photoMs} ms, expected about ${Math.round(expectedPhotoMs(backend.choice.probeMs.wasm, 'gar', 'default'))} ms from the wasm probe (${backend.choice.probeMs.wasm.toFixed(0)} ms)`,
    );
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test('a photo far past its expected time on software WebGL gets an offer to switch, which finishes it on wasm', { timeout: 300_000 }, async () => {
  const errors: string[] = [];
  const page = await openPage('?backend=webgl&renderer=gar&preset=fast', errors);
  try {
    assert.equal((await exposed(page)).backend.backend, 'webgl');
    assert.match((await page.textContent('#backend-reason')) ?? '', /asked for in the address/);
    await page.setInputFiles('#file', join(photosDir, PHOTO));
    await page.waitForSelector('#switch-backend', { timeout: 150_000 });
    assert.match((await page.textContent('#message')) ?? '', /This photo has taken \d+ s on webgl; on wasm it should take about \d+ s\./);
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'busy', 'the offer came while the photo was still running');
    await page.click('#switch-backend');
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 140_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'done', (await page.textContent('#message')) ?? '');
    const after = await exposed(page);
    assert.equal(after.backend.backend, 'wasm');
    assert.match((await page.textContent('#backend')) ?? '', /^wasm/);
    assert.equal(after.result?.faces[0].gar?.preset, 'fast', 'the same photo with the same settings');
    assert.equal(await page.locator('#switch-backend').count(), 0, 'the offer is gone');
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
