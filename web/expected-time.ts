// What a photo should take, so the page can tell when one runs far past it (and offer wasm).
// Kept apart from backend-probe.ts, which imports TF.js: the page's own bundle stays small.

/**
 * About how long a photo should take on wasm, from wasm's probe time: photo time = probe time ×
 * this ratio, measured with `node --import tsx bench/web.ts` (ratios printed as probeRatio).
 */
export const PHOTO_MS_PER_PROBE_MS: Readonly<Record<string, number>> = Object.freeze({
  'gar-instant': 20,
  'gar-fast': 60,
  'gar-default': 150,
  'gar-quality': 450,
  graphics: 100,
});

export function expectedPhotoMs(wasmProbeMs: number, renderer: string, preset: string): number {
  return wasmProbeMs * (PHOTO_MS_PER_PROBE_MS[renderer === 'gar' ? `gar-${preset}` : 'graphics'] ?? 150);
}
