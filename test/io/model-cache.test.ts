// Every request goes to a local server on 127.0.0.1; no other host is ever contacted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir, ensureBundle, type RemoteBundle } from '../../src/io/node/model-cache.ts';
import { EXIT_CODES, ModelUnavailableError, OutputNotWritableError } from '../../src/common/errors.ts';

// CI runs with FACEGAR_OFFLINE=1 so nothing reaches the internet; these tests download only from
// their own server on 127.0.0.1, and set the variable themselves where they test it.
delete process.env.FACEGAR_OFFLINE;

let root: string;
let server: Server;
let baseUrl: string;
const requests: string[] = [];
const contents = new Map<string, Buffer>();

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'facegar-cache-'));
  contents.set('a.json', Buffer.from('{"weights": [1, 2, 3]}\n'));
  contents.set('b.bin', Buffer.from(Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31) % 256)));
  contents.set('sub/c.obj', Buffer.from('v 1 2 3\n'.repeat(5000)));
  // Routes: /good/<file> serves it; /corrupt/ flips one byte; /cut/ announces the full
  // length, sends half, then drops the connection; anything else is a 404.
  server = createServer((req, res) => {
    requests.push(req.url!);
    const [, route, ...rest] = req.url!.split('/');
    const body = contents.get(rest.map(decodeURIComponent).join('/'));
    if (!body || !['good', 'corrupt', 'cut'].includes(route)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    if (route === 'good') res.end(body);
    else if (route === 'corrupt') {
      const bad = Buffer.from(body);
      bad[bad.length >> 1] ^= 0xff;
      res.end(bad);
    } else res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

function bundle(name: string, routes: string[], withSizes = true): RemoteBundle {
  return {
    name,
    baseUrls: routes.map((r) => `${baseUrl}/${r}/`),
    files: [...contents].map(([path, body], i) => ({ path, sha256: sha256(body), bytes: withSizes || i !== 1 ? body.length : undefined })),
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1))
    .sort();
}

test('downloads, verifies and reports progress; a second call is a cache hit with no request', async () => {
  const cacheDir = join(root, 'happy');
  const progress: [number, number, string][] = [];
  requests.length = 0;
  const dir = await ensureBundle(bundle('demo', ['good'], false), { cacheDir, offline: false, onProgress: (d, t, f) => progress.push([d, t, f]) });
  assert.equal(dir, join(cacheDir, 'demo'));
  for (const [path, body] of contents) assert.deepEqual(await readFile(join(dir, path)), body);
  assert.deepEqual(await filesUnder(dir), ['.facegar-bundle.json', 'a.json', 'b.bin', 'sub/c.obj']);
  assert.equal(requests.length, 3);
  const total = [...contents.values()].reduce((s, b) => s + b.length, 0);
  const last = progress.at(-1)!;
  assert.deepEqual(last.slice(0, 2), [total, total]);
  assert.ok(
    progress.every(([d, t], i) => d <= t && (i === 0 || d >= progress[i - 1][0])),
    'monotone, never past the total',
  );
  assert.deepEqual([...new Set(progress.map((p) => p[2]))], ['a.json', 'b.bin', 'sub/c.obj']);

  requests.length = 0;
  const neverFetch = (() => {
    throw new Error('fetched on a cache hit');
  }) as unknown as typeof fetch;
  assert.equal(await ensureBundle(bundle('demo', ['good'], false), { cacheDir, fetchImpl: neverFetch }), dir);
  assert.equal(await ensureBundle(bundle('demo', ['good'], false), { cacheDir, offline: true }), dir);
  assert.deepEqual(requests, []);
});

test('files already in place are verified by hash, not downloaded again; a damaged one is replaced', async () => {
  const cacheDir = join(root, 'prefilled');
  const dir = join(cacheDir, 'demo');
  for (const [path, body] of contents) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), body);
  }
  const damaged = Buffer.from(contents.get('sub/c.obj')!);
  damaged[0] = 0x23;
  await writeFile(join(dir, 'sub/c.obj'), damaged); // same size, wrong bytes, no marker
  requests.length = 0;
  await ensureBundle(bundle('demo', ['good']), { cacheDir });
  assert.deepEqual(
    requests.map((r) => r.split('/').slice(2).join('/')),
    ['sub/c.obj'],
  );
  assert.deepEqual(await readFile(join(dir, 'sub/c.obj')), contents.get('sub/c.obj'));

  // With a valid marker, a file whose size changed is caught too.
  await writeFile(join(dir, 'a.json'), 'short');
  requests.length = 0;
  await ensureBundle(bundle('demo', ['good']), { cacheDir });
  assert.deepEqual(
    requests.map((r) => r.split('/').slice(2).join('/')),
    ['a.json'],
  );
});

test('a checksum mismatch names the file and both hashes and deletes the download', async () => {
  const cacheDir = join(root, 'corrupt');
  const file = 'b.bin';
  const bad = Buffer.from(contents.get(file)!);
  bad[bad.length >> 1] ^= 0xff;
  const oneFile: RemoteBundle = { ...bundle('demo', ['corrupt']), files: bundle('demo', ['corrupt']).files.filter((f) => f.path === file) };
  await assert.rejects(ensureBundle(oneFile, { cacheDir }), (e: unknown) => {
    assert.ok(e instanceof ModelUnavailableError);
    assert.equal(e.exitCode, EXIT_CODES.modelUnavailable);
    assert.ok(e.message.startsWith('demo/b.bin: checksum mismatch'), e.message);
    assert.ok(e.message.includes(sha256(contents.get(file)!)) && e.message.includes(sha256(bad)), e.message);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  assert.deepEqual(await filesUnder(join(cacheDir, 'demo')), []);
});

test('an interrupted download leaves nothing at the final path; the next source is tried', async () => {
  const cacheDir = join(root, 'cut');
  await assert.rejects(ensureBundle(bundle('demo', ['cut']), { cacheDir }), (e: unknown) => {
    assert.ok(e instanceof ModelUnavailableError);
    assert.match(e.message, /^demo\/a\.json: download failed \(http:\/\/127\.0\.0\.1:\d+\/cut\/a\.json: .+\); pass --model DIR/);
    return true;
  });
  assert.deepEqual(await filesUnder(join(cacheDir, 'demo')), []);

  requests.length = 0;
  const dir = await ensureBundle(bundle('demo', ['missing', 'cut', 'good']), { cacheDir });
  for (const [path, body] of contents) assert.deepEqual(await readFile(join(dir, path)), body);
  assert.equal(requests.filter((r) => r.startsWith('/good/')).length, 3);
  assert.deepEqual(await filesUnder(dir), ['.facegar-bundle.json', 'a.json', 'b.bin', 'sub/c.obj']);
});

test('offline with files missing makes no request and says how to provide the files', async () => {
  const cacheDir = join(root, 'offline');
  requests.length = 0;
  const check = (e: unknown) => {
    assert.ok(e instanceof ModelUnavailableError);
    assert.match(e.message, /^demo: 3 of 3 files missing from .*offline.*--model DIR.*FACEGAR_MODEL_DIR/);
    return true;
  };
  await assert.rejects(ensureBundle(bundle('demo', ['good']), { cacheDir, offline: true }), check);
  const saved = process.env.FACEGAR_OFFLINE;
  process.env.FACEGAR_OFFLINE = '1';
  try {
    await assert.rejects(ensureBundle(bundle('demo', ['good']), { cacheDir }), check);
  } finally {
    if (saved === undefined) delete process.env.FACEGAR_OFFLINE;
    else process.env.FACEGAR_OFFLINE = saved;
  }
  assert.deepEqual(requests, []);
});

test('an unwritable cache directory gives OutputNotWritableError; bad bundles are refused', async () => {
  const file = join(root, 'plain-file');
  await writeFile(file, 'x');
  await assert.rejects(ensureBundle(bundle('demo', ['good']), { cacheDir: join(file, 'cache') }), OutputNotWritableError);
  for (const path of ['../escape.bin', '/abs.bin', 'a/./b.bin', 'a//b.bin']) {
    const bad: RemoteBundle = { name: 'demo', baseUrls: [`${baseUrl}/good/`], files: [{ path, sha256: '0'.repeat(64) }] };
    await assert.rejects(ensureBundle(bad, { cacheDir: join(root, 'bad') }), /path/);
  }
  await assert.rejects(ensureBundle({ ...bundle('..', ['good']) }, { cacheDir: join(root, 'bad') }), /bundle\.name/);
  assert.equal(
    await stat(join(root, 'bad')).then(
      () => true,
      () => false,
    ),
    false,
  );
});

test('defaultCacheDir: FACEGAR_CACHE_DIR, then XDG_CACHE_HOME/facegar, then ~/.cache/facegar', () => {
  const saved = { a: process.env.FACEGAR_CACHE_DIR, b: process.env.XDG_CACHE_HOME };
  try {
    process.env.FACEGAR_CACHE_DIR = '/x/facegar-cache';
    process.env.XDG_CACHE_HOME = '/y';
    assert.equal(defaultCacheDir(), '/x/facegar-cache');
    delete process.env.FACEGAR_CACHE_DIR;
    assert.equal(defaultCacheDir(), '/y/facegar');
    delete process.env.XDG_CACHE_HOME;
    assert.equal(defaultCacheDir(), join(homedir(), '.cache', 'facegar'));
  } finally {
    for (const [key, value] of [
      ['FACEGAR_CACHE_DIR', saved.a],
      ['XDG_CACHE_HOME', saved.b],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});
