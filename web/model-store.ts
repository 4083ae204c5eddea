// Where the page's models come from: the morphable model (facegar's compact file) from a URL,
// kept in Cache Storage so a second visit needs no network; the GAR path's networks (GAR and
// encoder checkpoints, listed by the server's networks.json), their weights kept the same way;
// the detector's graph models from the demo server.
import type { CheckpointBytes, GarModelFiles } from '../src/index.ts';

const CACHE_NAME = 'facegar-models-v1';

/**
 * The compact morphable model's bytes: from Cache Storage when this URL was fetched before,
 * else from the network (then cached). Throws an Error whose message a person can act on.
 */
export async function loadCompactModelBytes(url: string, onProgress: (text: string) => void): Promise<{ bytes: ArrayBuffer; fromCache: boolean }> {
  const cache = 'caches' in globalThis ? await caches.open(CACHE_NAME).catch(() => undefined) : undefined;
  const cached = await cache?.match(url);
  if (cached) {
    onProgress('morphable model: from the browser cache');
    return { bytes: await cached.arrayBuffer(), fromCache: true };
  }
  onProgress(`morphable model: downloading ${url}`);
  let response: Response;
  try {
    response = await fetch(url);
  } catch {
    throw new Error(`The morphable model could not be downloaded from ${url} (network error). Check the URL (?model=…) or your connection.`);
  }
  if (!response.ok)
    throw new Error(`The morphable model could not be downloaded from ${url} (HTTP ${response.status}). Serve it with "npm run demo" or pass ?model=<url>.`);
  const bytes = await response.arrayBuffer();
  await cache?.put(url, new Response(bytes.slice(0), { headers: { 'content-type': 'application/octet-stream' } })).catch(() => undefined);
  return { bytes, fromCache: false };
}

interface ModelBytes {
  json: object;
  weights: Uint8Array[];
}

/** A TF.js graph model (`<base><name>.json` and the weight shards its manifest lists) as bytes. */
export async function loadGraphModelBytes(base: string, name: string): Promise<ModelBytes> {
  const response = await fetch(`${base}${name}.json`);
  if (!response.ok) throw new Error(`The face detector model ${name} could not be loaded from ${base} (HTTP ${response.status}).`);
  const json = (await response.json()) as { weightsManifest?: { paths: string[] }[] };
  const paths = (json.weightsManifest ?? []).flatMap((group) => group.paths);
  const weights = await Promise.all(
    paths.map(async (path) => {
      const shard = await fetch(`${base}${path}`);
      if (!shard.ok) throw new Error(`The face detector weights ${path} could not be loaded (HTTP ${shard.status}).`);
      return new Uint8Array(await shard.arrayBuffer());
    }),
  );
  return { json, weights };
}

/**
 * The detector's landmark map (FaceMesh's mesh → the model's own 68 landmarks), as the CLI uses it;
 * undefined when the server has none (the page then fits FaceMesh's points, as before the map).
 */
export async function loadLandmarkMap(base: string): Promise<Uint8Array | undefined> {
  const response = await fetch(`${base}facemesh-landmark-map.bin`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`The landmark map could not be loaded from ${base} (HTTP ${response.status}).`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The server's list of networks (web/serve.ts: the GAR and encoder the CLI's lookup finds). */
export interface NetworkList {
  gar?: string;
  encoder?: string;
  shapeEncoder?: string;
  /** The CLI's default renderer ('gar' or 'graphics'). */
  defaultRenderer?: string;
}

/**
 * The GAR, encoder and shape-encoder checkpoints named by `<base>networks.json` (each `<base><folder>/checkpoint.json`
 * and the weights file it names), or undefined when the server lists none (the page then runs the
 * graphics path only). Weights come from Cache Storage when this URL with this SHA-256 was cached
 * before, else from the network; weights whose SHA-256 differs from the manifest's are refused.
 */
export async function loadNetworkFiles(
  base: string,
  onProgress: (text: string) => void,
): Promise<{ files?: GarModelFiles; list: NetworkList; fromCache: boolean }> {
  const listResponse = await fetch(`${base}networks.json`).catch(() => undefined);
  const list: NetworkList = listResponse?.ok ? await listResponse.json() : {};
  if (!list.gar) return { list, fromCache: false };
  const cache = 'caches' in globalThis ? await caches.open(CACHE_NAME).catch(() => undefined) : undefined;
  let fromCache = true;
  const checkpoint = async (folder: string, what: string): Promise<CheckpointBytes> => {
    const manifestUrl = new URL(`${folder}/checkpoint.json`, base).href;
    const response = await fetch(manifestUrl).catch(() => undefined);
    if (!response?.ok) throw new Error(`The ${what} could not be loaded from ${manifestUrl} (${response ? `HTTP ${response.status}` : 'network error'}).`);
    const manifest = (await response.json()) as { weightsPath?: unknown; weightsSha256?: unknown };
    if (typeof manifest.weightsPath !== 'string') throw new Error(`${manifestUrl}: not a facegar checkpoint (no weightsPath).`);
    const sha256 = typeof manifest.weightsSha256 === 'string' ? manifest.weightsSha256.toLowerCase() : undefined;
    const weightsUrl = new URL(manifest.weightsPath, manifestUrl).href;
    // The SHA-256 in the key: a replaced model is fetched again, not served stale from the cache.
    const key = `${weightsUrl}?sha256=${sha256 ?? 'none'}`;
    const cached = await cache?.match(key);
    let weights: Uint8Array;
    if (cached) {
      weights = new Uint8Array(await cached.arrayBuffer());
    } else {
      fromCache = false;
      onProgress(`${what}: downloading ${weightsUrl}`);
      const fetched = await fetch(weightsUrl).catch(() => undefined);
      if (!fetched?.ok)
        throw new Error(`The ${what} weights could not be downloaded from ${weightsUrl} (${fetched ? `HTTP ${fetched.status}` : 'network error'}).`);
      weights = new Uint8Array(await fetched.arrayBuffer());
      const actual = sha256 === undefined ? undefined : await sha256Hex(weights);
      if (actual !== undefined && actual !== sha256)
        throw new Error(`${weightsUrl}: the ${what} weights do not match the SHA-256 in checkpoint.json (damaged or replaced file).`);
      await cache?.put(key, new Response(weights.slice(0), { headers: { 'content-type': 'application/octet-stream' } })).catch(() => undefined);
    }
    return { manifest, weights };
  };
  const gar = await checkpoint(list.gar, 'GAR');
  const encoder = list.encoder ? await checkpoint(list.encoder, 'encoder') : undefined;
  const shapeEncoder = list.shapeEncoder ? await checkpoint(list.shapeEncoder, 'shape encoder') : undefined;
  return {
    files: { gar, encoder, garSource: list.gar, encoderSource: list.encoder, ...(shapeEncoder ? { shapeEncoder, shapeEncoderSource: list.shapeEncoder } : {}) },
    list,
    fromCache,
  };
}

async function sha256Hex(bytes: Uint8Array): Promise<string | undefined> {
  if (!globalThis.crypto?.subtle) return undefined; // insecure origin: no check possible
  const digest = await crypto.subtle.digest('SHA-256', bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
