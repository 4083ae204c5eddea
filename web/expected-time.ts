// What a photo should take, so the page can tell when one runs far past it (and offer wasm).
// Kept apart from backend-probe.ts, which imports TF.js: the page's own bundle stays small.

/**
 * About how long a photo should take on wasm, from wasm's probe time: photo time = probe time ×
 * this ratio. Measured with `node --import tsx bench/web.ts --photos 000002.jpg,000031.jpg --modes
 * gar:default,gar:instant,gar:fast,gar:quality,graphics` (probeRatio per mode: 374, 34, 113, 849,
 * 98) on the 2-core development machine, busy with other jobs; a photo is called slow only at
 * several times this (web/app.ts), so the ratio need not be exact.
 */
export const PHOTO_MS_PER_PROBE_MS: Readonly<Record<string, number>> = Object.freeze({
  'gar-instant': 35,
  'gar-fast': 110,
  'gar-default': 370,
  'gar-quality': 850,
  graphics: 100,
});

export function expectedPhotoMs(wasmProbeMs: number, renderer: string, preset: string): number {
  return wasmProbeMs * (PHOTO_MS_PER_PROBE_MS[renderer === 'gar' ? `gar-${preset}` : 'graphics'] ?? 150);
}
