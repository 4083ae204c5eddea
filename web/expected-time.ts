// What a photo should take, so the page can tell when one runs far past it (and offer wasm).
// Kept apart from backend-probe.ts, which imports TF.js: the page's own bundle stays small.

/**
 * About how long a photo should take on wasm, from wasm's probe time: photo time = probe time ×
 * this ratio. `node --import tsx bench/web.ts --photos 000002.jpg,000031.jpg --modes
 * gar:default,gar:instant,gar:fast,gar:quality,graphics` gave probeRatio 374, 34, 113, 849, 98 with
 * a probe of 116 ms, on the 2-core development machine busy with other jobs; a later run with
 * `--modes gar:instant` got a 25 ms probe and an instant ratio of 118. The short probe catches the
 * cores free more often than a photo's seconds do, so under load the ratio grows; the constants sit
 * between the two runs (the geometric mean of the instant ratios, 63, and the others scaled as the
 * first run's). `gar-shading` was `gar-default` × 1.26, the CLI's time ratio of the two presets
 * (`facegar eval synthetic --n 6 --seed 1 --methods gar-encoder-init --preset default|shading`:
 * 7.98 against 6.34 s); the default is now the shading preset plus 100 render-free settle steps,
 * about 2 % more (the eval's ms per image on the Cycles tuning sets). A photo is called slow only
 * at several times this (web/app.ts).
 */
export const PHOTO_MS_PER_PROBE_MS: Readonly<Record<string, number>> = Object.freeze({
  'gar-instant': 63,
  'gar-fast': 210,
  'gar-default': 890,
  'gar-quality': 1570,
  'gar-shading': 870,
  graphics: 180,
});

export function expectedPhotoMs(wasmProbeMs: number, renderer: string, preset: string): number {
  return wasmProbeMs * (PHOTO_MS_PER_PROBE_MS[renderer === 'gar' ? `gar-${preset}` : 'graphics'] ?? 150);
}
