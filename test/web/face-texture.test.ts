import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRgbaImage, type RgbaImage } from '../../src/common/image.ts';
import { cameraToClipArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { rasterize } from '../../src/raster/rasterize.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';
import { bakeFaceTexture, findMirrorVertices, TexelSource, validateFaceTextureConfig, type TextureFit } from '../../src/fit/face-texture.ts';
import { sharedModel } from '../helpers/model.ts';

const PHOTO_PX = 360;
const TEXTURE_PX = 256;

/** A painted texture: smooth colour ramps plus a coarse checker, as a function of OBJ UV (v up). */
function paintedUv(u: number, v: number): [number, number, number] {
  const checker = (Math.floor(u * 8) + Math.floor(v * 8)) % 2 === 0 ? 60 : 0;
  return [40 + 150 * u + checker, 40 + 150 * v, 200 - checker * 2];
}

/** A left/right symmetric paint: a function of |x|, y, z on the neutral mesh (mm). */
function paintedSymmetric(x: number, y: number, z: number): [number, number, number] {
  return [120 + 120 * Math.sin(Math.abs(x) / 18), 120 + 100 * Math.cos(y / 25), 90 + 0.8 * z];
}

function fitFor(model: MorphableModel, yawDeg: number): TextureFit {
  const rotation = Float64Array.from(rotationFromEuler(0, (yawDeg * Math.PI) / 180, 0));
  return { vertices: model.neutral, rotation, translationMm: [0, 20, -700], focalPx: 900, principalPointPx: [PHOTO_PX / 2, PHOTO_PX / 2] };
}

/** Render the neutral mesh as the camera sees it, each pixel coloured by `paint` at the visible surface point. */
function renderPhoto(
  model: MorphableModel,
  fit: TextureFit,
  paint: (corner: { uv: number[]; position: number[] }[], weights: number[]) => [number, number, number],
): RgbaImage {
  const photo = createRgbaImage(PHOTO_PX, PHOTO_PX);
  photo.data.fill(30);
  const cameraPoints = transformPointsArray(fit.vertices, fit.rotation, fit.translationMm);
  const clip = cameraToClipArray(cameraPoints, { focalPx: fit.focalPx, principalPointPx: fit.principalPointPx, width: PHOTO_PX, height: PHOTO_PX });
  const raster = rasterize(clip, model.triangles, { width: PHOTO_PX, height: PHOTO_PX });
  for (let p = 0; p < PHOTO_PX * PHOTO_PX; p++) {
    const id = raster.triangleIdPlusOne[p];
    if (id === 0) continue;
    const t = 3 * (id - 1);
    const b1 = raster.barycentrics[2 * p],
      b2 = raster.barycentrics[2 * p + 1];
    const corners = [0, 1, 2].map((k) => {
      const v = model.triangles[t + k],
        uv = model.triangleUvIndices[t + k];
      return { uv: [model.uvs[2 * uv], model.uvs[2 * uv + 1]], position: [model.neutral[3 * v], model.neutral[3 * v + 1], model.neutral[3 * v + 2]] };
    });
    const rgb = paint(corners, [1 - b1 - b2, b1, b2]);
    photo.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * p);
  }
  return photo;
}

const mix = (corners: { uv: number[]; position: number[] }[], weights: number[], key: 'uv' | 'position', axis: number) =>
  corners.reduce((sum, corner, k) => sum + weights[k] * corner[key][axis], 0);

/** Mean absolute RGB error over texels of the given source, against `expected` at each texel. */
function meanError(
  texture: ReturnType<typeof bakeFaceTexture>,
  wanted: number,
  expected: (p: number) => [number, number, number] | undefined,
): { error: number; count: number } {
  let sum = 0,
    count = 0;
  for (let p = 0; p < texture.source.length; p++) {
    if (texture.source[p] !== wanted) continue;
    const rgb = expected(p);
    if (!rgb) continue;
    for (let c = 0; c < 3; c++) sum += Math.abs(texture.image.data[4 * p + c] - Math.min(255, Math.max(0, rgb[c])));
    count++;
  }
  return { error: sum / (3 * count), count };
}

test('a frontal photo of a painted mesh bakes back to the painted texture', async () => {
  const model = await sharedModel();
  const fit = fitFor(model, 0);
  const photo = renderPhoto(model, fit, (corners, w) => paintedUv(mix(corners, w, 'uv', 0), mix(corners, w, 'uv', 1)));
  const texture = bakeFaceTexture(photo, fit, model, { sizePx: TEXTURE_PX });
  assert.equal(texture.image.width, TEXTURE_PX);
  assert.ok(texture.coverage.photo > 0.5, `photo coverage ${texture.coverage.photo}`);
  // Texel centre → OBJ UV: u = (i + 0.5) / W, v = 1 − (j + 0.5) / H (row 0 at the top).
  const expected = (p: number) => {
    const i = p % TEXTURE_PX,
      j = Math.floor(p / TEXTURE_PX);
    const u = (i + 0.5) / TEXTURE_PX,
      v = 1 - (j + 0.5) / TEXTURE_PX;
    // Skip texels near a checker edge, where a pixel of the photo straddles two squares.
    const near = (x: number) => Math.abs(x * 8 - Math.round(x * 8)) < 0.15;
    return near(u) || near(v) ? undefined : paintedUv(u, v);
  };
  const { error, count } = meanError(texture, TexelSource.photo, expected);
  assert.ok(count > 5000, `compared ${count} texels`);
  assert.ok(error < 6, `mean abs error ${error.toFixed(2)} (0..255)`);
  // Every texel, inside the layout or dilated around it, is opaque where filled and the rest untouched.
  let outsideOpaque = 0;
  for (let p = 0; p < texture.source.length; p++) if (texture.source[p] === TexelSource.empty && texture.image.data[4 * p + 3] !== 0) outsideOpaque++;
  assert.equal(outsideOpaque, 0);
});

test('a turned head: the hidden side is filled from the mirrored side with the right colours', async () => {
  const model = await sharedModel();
  const fit = fitFor(model, 55);
  const photo = renderPhoto(model, fit, (corners, w) =>
    paintedSymmetric(mix(corners, w, 'position', 0), mix(corners, w, 'position', 1), mix(corners, w, 'position', 2)),
  );
  const texture = bakeFaceTexture(photo, fit, model, { sizePx: TEXTURE_PX });
  assert.ok(texture.coverage.mirror > 0.1, `mirror coverage ${texture.coverage.mirror}`);
  assert.ok(texture.coverage.photo > 0.3, `photo coverage ${texture.coverage.photo}`);
  // Expected colour at a texel: the symmetric paint at the texel's 3D point, found by
  // rasterising the UV layout the same way the baker does.
  const uvClip = new Float32Array(model.uvs.length * 2);
  for (let i = 0; i < model.uvs.length / 2; i++) uvClip.set([2 * model.uvs[2 * i] - 1, 2 * model.uvs[2 * i + 1] - 1, 0, 1], 4 * i);
  const uvRaster = rasterize(uvClip, model.triangleUvIndices, { width: TEXTURE_PX, height: TEXTURE_PX });
  const expected = (p: number): [number, number, number] | undefined => {
    const id = uvRaster.triangleIdPlusOne[p];
    if (id === 0) return undefined;
    const b1 = uvRaster.barycentrics[2 * p],
      b2 = uvRaster.barycentrics[2 * p + 1];
    const w = [1 - b1 - b2, b1, b2];
    const point = [0, 1, 2].map((axis) => w.reduce((s, wk, k) => s + wk * model.neutral[3 * model.triangles[3 * (id - 1) + k] + axis], 0));
    return paintedSymmetric(point[0], point[1], point[2]);
  };
  const mirrored = meanError(texture, TexelSource.mirror, expected);
  const seen = meanError(texture, TexelSource.photo, expected);
  assert.ok(mirrored.count > 1000, `compared ${mirrored.count} mirrored texels`);
  assert.ok(seen.error < 8, `photo texels: mean abs error ${seen.error.toFixed(2)}`);
  assert.ok(mirrored.error < 12, `mirrored texels: mean abs error ${mirrored.error.toFixed(2)}`);
  // Without the mirror, those texels could only be filled by dilation / the mean colour.
  const plain = bakeFaceTexture(photo, fit, model, { sizePx: TEXTURE_PX, mirrorFill: false });
  assert.equal(plain.coverage.mirror, 0);
  assert.ok(plain.coverage.filled > texture.coverage.filled + 0.1);
});

test('the mirror map of the symmetric ICT face pairs vertices across x = 0', async () => {
  const model = await sharedModel();
  const mirror = findMirrorVertices(model.neutral, model.vertexCount);
  let worstMm = 0,
    involutive = 0;
  for (let v = 0; v < model.vertexCount; v++) {
    const m = mirror[v];
    const d = Math.hypot(
      model.neutral[3 * m] + model.neutral[3 * v],
      model.neutral[3 * m + 1] - model.neutral[3 * v + 1],
      model.neutral[3 * m + 2] - model.neutral[3 * v + 2],
    );
    worstMm = Math.max(worstMm, d);
    if (mirror[m] === v) involutive++;
  }
  assert.ok(worstMm < 3, `worst mirror mismatch ${worstMm.toFixed(3)} mm`);
  assert.ok(involutive / model.vertexCount > 0.95, `mirror of mirror is itself for ${involutive}`);
});

test('bad texture options are typed errors naming the option', () => {
  assert.throws(() => validateFaceTextureConfig({ sizePx: 3 }), /sizePx/);
  assert.throws(() => validateFaceTextureConfig({ dilationPasses: -1 }), /dilationPasses/);
  assert.throws(() => validateFaceTextureConfig({ minFacingCosine: Number.NaN }), /minFacingCosine/);
});
