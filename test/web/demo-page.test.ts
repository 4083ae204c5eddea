// End-to-end: the demo page in headless Debian Chromium, driven with playwright-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDemoServer } from '../../web/serve.ts';
import { Reconstructor, rescaleReconstruction } from '../../src/api/reconstruct.ts';
import { decodeImageFileScaled } from '../../src/io/node/decode-image.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { chooseRenderer, readGarModelFiles, readIdentityRegressorFiles } from '../../src/io/node/gar-models.ts';
import { modelDir, photosDir, repositoryRoot, testCacheDir } from '../helpers/shared-data.ts';
import { sharedModel } from '../helpers/model.ts';

export const CHROMIUM_PATH = process.env.FACEGAR_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PHOTOS = ['000002.jpg', '000031.jpg'];
/** The same fit options on the page (?fit=) and in Node. */
const FIT = { landmarkSteps: 200, photometricSteps: 16 };
const artifactsDir = join(repositoryRoot, 'test-artifacts');

let server: Awaited<ReturnType<typeof startDemoServer>> | undefined;
let context: BrowserContext | undefined;
let profileDir = '';

before(async () => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set FACEGAR_CHROMIUM`);
  }
  server = await startDemoServer({ port: 0, model: { modelDir, cacheDir: testCacheDir, offline: true }, photosDir });
  profileDir = await mkdtemp(join(tmpdir(), 'facegar-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1200, height: 900 },
  });
  await mkdir(artifactsDir, { recursive: true });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

async function openPage(query = `?backend=wasm&fit=${encodeURIComponent(JSON.stringify(FIT))}`): Promise<Page> {
  const page = await context!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message.slice(0, 300)));
  await page.goto(`${server!.url}${query}`);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 60_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  assert.equal(state, 'ready', `page did not get ready: ${await page.textContent('#message')} ${errors.join(' | ')}`);
  return page;
}

/** Vertex count of the POSITION accessor of a GLB, read with a minimal parser. */
function glbPositionCount(bytes: Uint8Array): { vertices: number; hasTexture: boolean } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint32(0, true), 0x46546c67, 'GLB magic');
  const jsonLength = view.getUint32(12, true);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(20, 20 + jsonLength)));
  const position = json.accessors[json.meshes[0].primitives[0].attributes.POSITION];
  return { vertices: position.count, hasTexture: Array.isArray(json.images) && json.images.length === 1 };
}

test('the demo page reconstructs two example photos like the Node library does', { timeout: 170_000 }, async () => {
  const model = await sharedModel();
  const expectedVertices = new Set(Array.from(model.triangles, (v, k) => v * 1e6 + model.triangleUvIndices[k])).size;
  // The page's graphics path uses the identity regressor the server offers, as the CLI's graphics path chooses it.
  const { identityRegressorDir } = await chooseRenderer({ renderer: 'graphics' });
  assert.ok(identityRegressorDir, 'the CLI chooses the shipped identity regressor for the graphics path');
  const identityRegressor = await readIdentityRegressorFiles(identityRegressorDir);
  const reconstructor = await Reconstructor.create({ model, detector: await loadDetectorModelFiles(), identityRegressor }, { backend: 'wasm' });
  const page = await openPage();
  try {
    const backend = await page.textContent('#backend');
    assert.match(backend ?? '', /wasm/);
    for (const photo of PHOTOS) {
      const path = join(photosDir, photo);
      await page.setInputFiles('#file', path);
      await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.state), 'done', `${photo}: ${await page.textContent('#message')}`);
      const exposed = await page.evaluate(
        () => (globalThis as unknown as { facegar: { result: { landmarks2d: number[][]; identityRegressor: boolean }; meshVertexCount: number } }).facegar,
      );
      assert.equal(exposed.result.identityRegressor, true, `${photo}: the page's graphics fit used the identity regressor`);

      // The GLB the page offers: the whole mesh, textured.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-glb')]);
      const glb = new Uint8Array(await readFile(await download.path()));
      const { vertices, hasTexture } = glbPositionCount(glb);
      assert.equal(vertices, expectedVertices, `${photo}: GLB vertices`);
      assert.ok(hasTexture, `${photo}: GLB texture`);
      assert.equal(exposed.meshVertexCount, expectedVertices, `${photo}: vertices three.js loaded`);

      // The page's landmarks against the library in Node on the same photo with the same options.
      const decoded = await decodeImageFileScaled(path, { maxSide: 2048 });
      const raw = await reconstructor.reconstruct(decoded.image, { maxFaces: 1, fit: FIT });
      const node = rescaleReconstruction(raw, 1 / decoded.scale, { width: decoded.originalWidth, height: decoded.originalHeight }).faces[0];
      const worstPx = worstLandmarkDistancePx(exposed.result.landmarks2d, node.landmarks2d);
      assert.ok(worstPx < 0.5, `${photo}: page vs Node landmarks differ by up to ${worstPx.toFixed(2)} px`);
      console.log(`# ${photo}: page vs Node landmarks, worst ${worstPx.toFixed(3)} px; GLB ${glb.length} bytes, ${vertices} vertices`);
      await page.screenshot({ path: join(artifactsDir, `web-demo-${photo.replace(/\.\w+$/, '')}.png`) });
    }
  } finally {
    reconstructor.dispose();
    await page.close();
  }
});

/** Worst distance (px) between two [68] × [x, y] landmark sets, the second flat. */
function worstLandmarkDistancePx(page: number[][], node: Float32Array): number {
  let worstPx = 0;
  page.forEach(([x, y], k) => {
    worstPx = Math.max(worstPx, Math.hypot(x - node[2 * k], y - node[2 * k + 1]));
  });
  return worstPx;
}

test(
  "the GAR path on the page: the encoder's estimate first, then the refinement, landmarks as the CLI's within 0.5 px (EXIF focal length read alike)",
  { timeout: 240_000 },
  async () => {
    const photo = '000031-exif.jpg',
      preset = 'fast';
    // An example photo whose EXIF gives the focal length (100 mm full-frame equivalent): the CLI holds the fit to it, and so must the page.
    const dir = await mkdtemp(join(tmpdir(), 'facegar-exif-'));
    const path = join(dir, photo);
    await sharp(join(photosDir, '000031.jpg'))
      .withExif({ IFD2: { FocalLengthIn35mmFilm: '100' } })
      .jpeg({ quality: 95 })
      .toFile(path);
    const model = await sharedModel();
    const choice = await chooseRenderer({ renderer: 'gar' });
    const gar = await readGarModelFiles({ garDir: choice.garDir!, encoderDir: choice.encoderDir, shapeEncoderDir: choice.shapeEncoderDir });
    const identityRegressor = await readIdentityRegressorFiles(choice.identityRegressorDir!);
    // What `facegar reconstruct --preset fast` runs (src/cli/process-input.ts): decode, reconstruct, rescale.
    const reconstructor = await Reconstructor.create({ model, detector: await loadDetectorModelFiles(), gar, identityRegressor }, { backend: 'wasm' });
    const page = await openPage(`?backend=wasm&renderer=gar&preset=${preset}`);
    try {
      assert.equal(await page.inputValue('#mode'), `gar:${preset}`);
      await page.setInputFiles('#file', path);
      await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state ?? ''), undefined, { timeout: 200_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.state), 'done', `${photo}: ${await page.textContent('#message')}`);
      const exposed = await page.evaluate(
        () =>
          (
            globalThis as unknown as {
              facegar: {
                result: {
                  landmarks2d: number[][];
                  pose: { focalPx: number; focalSource: string };
                  faces: { renderer: string; gar: { preset: string; identityRegressor: boolean } }[];
                };
                estimate?: { shownAfterMs: number };
                timingsMs: Record<string, number>;
              };
            }
          ).facegar,
      );
      assert.ok(exposed.estimate, "the encoder's estimate was shown");
      assert.ok(exposed.estimate.shownAfterMs < exposed.timingsMs.photoToMesh, 'the estimate came before the refined result');
      assert.equal(exposed.result.faces[0].renderer, 'gar');
      assert.equal(exposed.result.faces[0].gar.preset, preset);
      // The CLI's choice includes the shipped identity regressor (FaceRes is installed): the page loads and uses it too.
      assert.ok(choice.identityRegressorDir, 'the CLI chooses the shipped identity regressor');
      assert.equal(exposed.result.faces[0].gar.identityRegressor, true, 'the page used the identity regressor');
      for (const stage of ['detect', 'encode', 'landmarks', 'refine', 'texture'])
        assert.equal(await page.evaluate((id) => (document.getElementById(id) as HTMLProgressElement).value, `p-${stage}`), 1, `${stage} bar full`);
      // The crop beside the GAR's render: two 64² panels enlarged 4×, one pixel column of gap.
      assert.deepEqual(
        await page.evaluate(() => {
          const c = document.getElementById('gar-canvas') as HTMLCanvasElement;
          return [c.width, c.height];
        }),
        [2 * 256 + 4, 256],
      );
      assert.ok(await page.isVisible('#gar-canvas'));

      const decoded = await decodeImageFileScaled(path, { maxSide: 2048 });
      assert.ok(decoded.exifFocalPx, 'the test photo carries an EXIF focal length');
      const raw = await reconstructor.reconstruct(decoded.image, { maxFaces: 1, renderer: 'gar', garPreset: preset, knownFocalPx: decoded.exifFocalPx });
      const node = rescaleReconstruction(raw, 1 / decoded.scale, { width: decoded.originalWidth, height: decoded.originalHeight }).faces[0];
      assert.equal(exposed.result.pose.focalSource, 'known', 'the page read the focal length from EXIF');
      assert.ok(Math.abs(exposed.result.pose.focalPx / node.focalPx - 1) < 1e-3, `focal: page ${exposed.result.pose.focalPx}, Node ${node.focalPx}`);
      const worstPx = worstLandmarkDistancePx(exposed.result.landmarks2d, node.landmarks2d);
      console.log(
        `# ${photo} GAR ${preset}: page vs Node landmarks, worst ${worstPx.toFixed(3)} px; page ${exposed.timingsMs.photoToMesh} ms photo to mesh, estimate shown after ${exposed.estimate.shownAfterMs} ms`,
      );
      assert.ok(worstPx < 0.5, `${photo}: page vs Node landmarks differ by up to ${worstPx.toFixed(2)} px`);
      await page.screenshot({ path: join(artifactsDir, 'web-demo-gar.png') });
    } finally {
      reconstructor.dispose();
      await page.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('bad input on the page gives a message on the page', { timeout: 60_000 }, async () => {
  const page = await openPage();
  try {
    const dir = await mkdtemp(join(tmpdir(), 'facegar-bad-'));
    const notImage = join(dir, 'notes.jpg');
    await writeFile(notImage, 'this is text, not a photo\n');
    await page.setInputFiles('#file', notImage);
    await page.waitForFunction(() => document.body.dataset.state === 'failed', undefined, { timeout: 20_000 });
    assert.match((await page.textContent('#message')) ?? '', /notes\.jpg: not an image/);
    await rm(dir, { recursive: true, force: true });
  } finally {
    await page.close();
  }
});

test("the README's 10-line embedding example runs as written in a page of its own", { timeout: 90_000 }, async () => {
  const page = await context!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message.slice(0, 300)));
  try {
    await page.goto(`${server!.url}embed.html`);
    await page.waitForFunction(() => /vertices/.test(document.title), undefined, { timeout: 80_000 }).catch(() => undefined);
    const title = await page.title();
    assert.match(title, /^9409 vertices, landmark error \d+\.\d\d px$/, `embed page: "${title}" ${errors.join(' | ')}`);
  } finally {
    await page.close();
  }
});
