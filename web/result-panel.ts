// The result panel's parts that need no page state: the one-line summary, the download links,
// and RGBA images drawn onto canvases.
import type { PhotoSettings, ResultFiles } from './messages.ts';

/** The summary line under a result: path, landmark error, pose, texture coverage, stage times. */
export function resultSummary(
  json: Record<string, unknown>,
  settings: PhotoSettings,
  backend: string | undefined,
  coverage: { photo: number; mirror: number },
  photoToMeshMs: number,
): string {
  const pose = json.pose as { anglesDeg: { pitch: number; yaw: number; roll: number } };
  const timings = json.timingsMs as Record<string, number>;
  const fitText = settings.renderer === 'gar' ? `GAR path, preset ${settings.preset}` : 'graphics path';
  const stageText = ['encode', 'landmarks', 'refine']
    .filter((k) => timings[k] !== undefined)
    .map((k) => `${k} ${Math.round(timings[k])} ms`)
    .join(', ');
  return (
    `${fitText} on ${backend}: landmark error ${json.landmarkErrorPx} px (${((100 * (json.landmarkErrorPx as number)) / (json.interOcularPx as number)).toFixed(1)} % of the eye distance) · ` +
    `yaw ${pose.anglesDeg.yaw.toFixed(0)}°, pitch ${pose.anglesDeg.pitch.toFixed(0)}° · texture: ${(100 * coverage.photo).toFixed(0)} % seen, ${(100 * coverage.mirror).toFixed(0)} % mirrored · ` +
    `times: detect ${Math.round(timings.detect)} ms, fit ${Math.round(timings.fit)} ms${stageText ? ` (${stageText})` : ''}, texture ${Math.round(timings.texture)} ms, photo to mesh ${Math.round(photoToMeshMs)} ms`
  );
}

/** Replace `container`'s links with one per result file (ids download-glb, -obj, -mtl, -texture, -json). */
export function replaceDownloadLinks(container: HTMLElement, files: ResultFiles): void {
  container.replaceChildren();
  const link = (name: string, data: BlobPart, type: string, id: string) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([data], { type }));
    a.download = name;
    a.id = id;
    a.textContent = name;
    container.appendChild(a);
  };
  link(files.names.glb, files.glb as BlobPart, 'model/gltf-binary', 'download-glb');
  link(files.names.obj, files.obj, 'text/plain', 'download-obj');
  link(files.names.mtl, files.mtl, 'text/plain', 'download-mtl');
  link(files.names.texture, files.texturePng as BlobPart, 'image/png', 'download-texture');
  link(files.names.json, files.json, 'application/json', 'download-json');
}

export function toImageData(image: { width: number; height: number; data: Uint8ClampedArray }): ImageData {
  return new ImageData(new Uint8ClampedArray(image.data), image.width, image.height);
}

export function drawImage(canvas: HTMLCanvasElement, image: ImageData): void {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')!.putImageData(image, 0, 0);
}
