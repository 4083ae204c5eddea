// Where the page's models come from: the morphable model (facegar's compact file) from a URL,
// kept in Cache Storage so a second visit needs no network; the GAR path's networks (GAR, encoder
// and shape-encoder checkpoints and the identity regressor, listed by the server's networks.json),
// their weights kept the same way; the detector's graph models from the demo server.
import type { CheckpointBytes, GarModelFiles, IdentityRegressorFiles } from '../src/index.ts';

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
  if (!response.ok) throw new Error(`The network ${name} could not be loaded from ${base} (HTTP ${response.status}).`);
  const json = (await response.json()) as { weightsManifest?: { paths: string[] }[] };
  const paths = (json.weightsManifest ?? []).flatMap((group) => group.paths);
  const weights = await Promise.all(
    paths.map(async (path) => {
      const shard = await fetch(`${base}${path}`);
      if (!shard.ok) throw new Error(`The weights ${path} of ${name} could not be loaded (HTTP ${shard.status}).`);
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
  /** The identity regressor's folder (its manifest.json and identity-regressor.bin), with a shape encoder only. */
  identityRegressor?: string;
  /** The CLI's default renderer ('gar' or 'graphics'). */
  defaultRenderer?: string;
}

/**
 * The GAR, encoder and shape-encoder checkpoints named by `<base>networks.json` (each `<base><folder>/checkpoint.json`
 * and the weights file it names), and the identity regressor (ReconstructorResources.identityRegressor: both paths use it) (`<base><folder>/manifest.json`,
 * `identity-regressor.bin`, with the FaceRes network from `detectorBase`), or undefined when the
 * server lists none (the page then runs the graphics path only). Weights come from Cache Storage
 * when this URL with this SHA-256 was cached before, else from the network; weights whose SHA-256
 * differs from the manifest's are refused. A regressor that does not load is left out (the fit
 * runs without it, as the CLI's does offline) and `identityRegressorProblem` says why.
 */
export async function loadNetworkFiles(
  base: string,
  onProgress: (text: string) => void,
  detectorBase = new URL('../detector/', base).href,
): Promise<{ files?: GarModelFiles; identityRegressor?: IdentityRegressorFiles; list: NetworkList; fromCache: boolean; identityRegressorProblem?: string }> {
  const listResponse = await fetch(`${base}networks.json`).catch(() => undefined);
  const list: NetworkList = listResponse?.ok ? await listResponse.json() : {};
  if (!list.gar) return { list, fromCache: false };
  const cache = 'caches' in globalThis ? await caches.open(CACHE_NAME).catch(() => undefined) : undefined;
  let fromCache = true;
  const manifestOf = async <T>(url: string, what: string): Promise<T> => {
    const response = await fetch(url).catch(() => undefined);
    if (!response?.ok) throw new Error(`The ${what} could not be loaded from ${url} (${response ? `HTTP ${response.status}` : 'network error'}).`);
    return (await response.json()) as T;
  };
  const weightsAt = async (weightsUrl: string, sha256: string | undefined, what: string): Promise<Uint8Array> => {
    // The SHA-256 in the key: a replaced model is fetched again, not served stale from the cache.
    const key = `${weightsUrl}?sha256=${sha256 ?? 'none'}`;
    const cached = await cache?.match(key);
    if (cached) return new Uint8Array(await cached.arrayBuffer());
    fromCache = false;
    onProgress(`${what}: downloading ${weightsUrl}`);
    const fetched = await fetch(weightsUrl).catch(() => undefined);
    if (!fetched?.ok)
      throw new Error(`The ${what} weights could not be downloaded from ${weightsUrl} (${fetched ? `HTTP ${fetched.status}` : 'network error'}).`);
    const weights = new Uint8Array(await fetched.arrayBuffer());
    const actual = sha256 === undefined ? undefined : await sha256Hex(weights);
    if (actual !== undefined && actual !== sha256)
      throw new Error(`${weightsUrl}: the ${what} weights do not match the SHA-256 in their manifest (damaged or replaced file).`);
    await cache?.put(key, new Response(weights.slice(0), { headers: { 'content-type': 'application/octet-stream' } })).catch(() => undefined);
    return weights;
  };
  const hex = (sha256: unknown) => (typeof sha256 === 'string' ? sha256.toLowerCase() : undefined);
  const checkpoint = async (folder: string, what: string): Promise<CheckpointBytes> => {
    const manifestUrl = new URL(`${folder}/checkpoint.json`, base).href;
    const manifest = await manifestOf<{ weightsPath?: unknown; weightsSha256?: unknown }>(manifestUrl, what);
    if (typeof manifest.weightsPath !== 'string') throw new Error(`${manifestUrl}: not a facegar checkpoint (no weightsPath).`);
    return { manifest, weights: await weightsAt(new URL(manifest.weightsPath, manifestUrl).href, hex(manifest.weightsSha256), what) };
  };
  const gar = await checkpoint(list.gar, 'GAR');
  const encoder = list.encoder ? await checkpoint(list.encoder, 'encoder') : undefined;
  const shapeEncoder = list.shapeEncoder ? await checkpoint(list.shapeEncoder, 'shape encoder') : undefined;
  let identityRegressor: IdentityRegressorFiles | undefined;
  let identityRegressorProblem: string | undefined;
  if (list.identityRegressor && shapeEncoder) {
    try {
      const manifestUrl = new URL(`${list.identityRegressor}/manifest.json`, base).href;
      const manifest = await manifestOf<{ sha256?: unknown }>(manifestUrl, 'identity regressor');
      const weights = await weightsAt(new URL('identity-regressor.bin', manifestUrl).href, hex(manifest.sha256), 'identity regressor');
      identityRegressor = { weights, embedding: await loadGraphModelBytes(detectorBase, 'faceres'), source: list.identityRegressor };
    } catch (error) {
      identityRegressorProblem = (error as Error).message;
    }
  }
  return {
    files: {
      gar,
      encoder,
      garSource: list.gar,
      encoderSource: list.encoder,
      ...(shapeEncoder ? { shapeEncoder, shapeEncoderSource: list.shapeEncoder } : {}),
    },
    ...(identityRegressor ? { identityRegressor } : {}),
    list,
    fromCache,
    ...(identityRegressorProblem ? { identityRegressorProblem } : {}),
  };
}

async function sha256Hex(bytes: Uint8Array): Promise<string | undefined> {
  if (!globalThis.crypto?.subtle) return undefined; // insecure origin: no check possible
  const digest = await crypto.subtle.digest('SHA-256', bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
