// Where the page's models come from: the morphable model (facegar's compact file) from a URL,
// kept in Cache Storage so a second visit needs no network; the detector's graph models from
// the demo server.

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
  if (!response.ok) throw new Error(`The morphable model could not be downloaded from ${url} (HTTP ${response.status}). Serve it with "npm run demo" or pass ?model=<url>.`);
  const bytes = await response.arrayBuffer();
  await cache?.put(url, new Response(bytes.slice(0), { headers: { 'content-type': 'application/octet-stream' } })).catch(() => undefined);
  return { bytes, fromCache: false };
}

interface ModelBytes { json: object; weights: Uint8Array[] }

/** A TF.js graph model (`<base><name>.json` and the weight shards its manifest lists) as bytes. */
export async function loadGraphModelBytes(base: string, name: string): Promise<ModelBytes> {
  const response = await fetch(`${base}${name}.json`);
  if (!response.ok) throw new Error(`The face detector model ${name} could not be loaded from ${base} (HTTP ${response.status}).`);
  const json = await response.json() as { weightsManifest?: { paths: string[] }[] };
  const paths = (json.weightsManifest ?? []).flatMap((group) => group.paths);
  const weights = await Promise.all(paths.map(async (path) => {
    const shard = await fetch(`${base}${path}`);
    if (!shard.ok) throw new Error(`The face detector weights ${path} could not be loaded (HTTP ${shard.status}).`);
    return new Uint8Array(await shard.arrayBuffer());
  }));
  return { json, weights };
}
