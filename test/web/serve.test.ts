// The demo server against a careless or hostile client (issue 17): streamed files, bounded
// memory under many stalled downloads, safe headers on every answer, GET/HEAD only, and only
// for a loopback Host (DNS rebinding).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTENT_SECURITY_POLICY, startDemoServer } from '../../web/serve.ts';
import { modelDir, repositoryRoot, testCacheDir } from '../helpers/shared-data.ts';

let server: Awaited<ReturnType<typeof startDemoServer>> | undefined;

before(async () => {
  const distDir = await mkdtemp(join(tmpdir(), 'facegar-dist-'));
  await writeFile(join(distDir, 'index.html'), '<!doctype html><title>facegar</title>');
  server = await startDemoServer({ port: 0, build: false, distDir, model: { modelDir, cacheDir: testCacheDir, offline: true } });
});
after(async () => {
  await server?.close();
});

/** A raw HTTP/1.1 exchange (fetch cannot send a forged Host header or odd methods). */
function rawRequest(port: number, head: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('error', reject);
    socket.on('end', () => {
      const [headText, ...rest] = data.split('\r\n\r\n');
      const [statusLine, ...lines] = headText.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

const port = () => Number(new URL(server!.url).port);

test('every answer carries a content type, nosniff and the CSP; files come with their length', async () => {
  for (const [path, status, type] of [
    ['/', 200, 'text/html'],
    ['/models/ict-facekit.fgmm', 200, 'application/octet-stream'],
    ['/nothing-here', 404, 'text/plain'],
    ['/../../etc/passwd', 404, 'text/plain'],
  ] as const) {
    const response = await fetch(new URL(path, server!.url));
    assert.equal(response.status, status, path);
    assert.match(response.headers.get('content-type') ?? '', new RegExp(`^${type}`), path);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, path);
    const body = new Uint8Array(await response.arrayBuffer());
    assert.equal(Number(response.headers.get('content-length')), body.length, path);
  }
  assert.match(CONTENT_SECURITY_POLICY, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(CONTENT_SECURITY_POLICY, /frame-ancestors 'none'/);
  const head = await rawRequest(port(), `HEAD /models/ict-facekit.fgmm HTTP/1.1\r\nHost: 127.0.0.1:${port()}\r\nConnection: close\r\n\r\n`);
  assert.equal(head.status, 200);
  assert.ok(Number(head.headers['content-length']) > 1e6 && head.body === '', 'HEAD: the length, no body');
});

test('methods other than GET and HEAD get 405 with Allow; a foreign Host header gets 403', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND']) {
    const response = await rawRequest(port(), `${method} / HTTP/1.1\r\nHost: 127.0.0.1:${port()}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.equal(response.status, 405, method);
    assert.equal(response.headers.allow, 'GET, HEAD');
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
  }
  for (const host of ['evil.example', `evil.example:${port()}`, `127.0.0.1.evil.example:${port()}`, `localhost:${port() + 1}`, '']) {
    const response = await rawRequest(port(), `GET /models/ict-facekit.fgmm HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(response.status, 403, `Host: ${host}`);
    assert.ok(response.body.length < 200, 'no file for a foreign host');
  }
  for (const host of [`localhost:${port()}`, `LOCALHOST:${port()}`, `127.0.0.1:${port()}`]) {
    assert.equal((await rawRequest(port(), `HEAD / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).status, 200, host);
  }
});

/** Resident memory (bytes) of a process, from /proc. */
function residentBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) * 1024;
}

test(
  "sixty stalled downloads of the model do not load it sixty times into the server's memory",
  { skip: process.platform !== 'linux' && 'reads /proc' },
  async (t) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(repositoryRoot, 'web/serve.ts'), '--port', '0', '--no-build'], {
      cwd: repositoryRoot,
      env: { ...process.env, FACEGAR_MODEL_DIR: modelDir, FACEGAR_CACHE_DIR: testCacheDir, FACEGAR_OFFLINE: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const sockets: Socket[] = [];
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
          if (m) resolve(m[0]);
        });
        child.on('exit', (code) => reject(new Error(`demo server exited with ${code}`)));
      });
      const serverPort = Number(new URL(url).port);
      const fileBytes = Number((await fetch(new URL('/models/ict-facekit.fgmm', url), { method: 'HEAD' })).headers.get('content-length'));
      const before = residentBytes(child.pid!);
      // Each client asks for the 18 MB model, takes the first bytes, then stops reading.
      await Promise.all(
        Array.from(
          { length: 60 },
          () =>
            new Promise<void>((resolve, reject) => {
              const socket = connect(serverPort, '127.0.0.1', () =>
                socket.write(`GET /models/ict-facekit.fgmm HTTP/1.1\r\nHost: 127.0.0.1:${serverPort}\r\n\r\n`),
              );
              sockets.push(socket);
              socket.once('data', () => {
                socket.pause();
                resolve();
              });
              socket.on('error', reject);
            }),
        ),
      );
      await new Promise((r) => setTimeout(r, 1000)); // let the server fill what it buffers per connection
      const grownBytes = residentBytes(child.pid!) - before;
      t.diagnostic(
        `server resident memory ${(before / 2 ** 20).toFixed(0)} MiB before, +${(grownBytes / 2 ** 20).toFixed(0)} MiB with 60 stalled downloads of ${(fileBytes / 2 ** 20).toFixed(0)} MiB`,
      );
      // Reading the whole file per request took 60 × 18 MB ≈ 1.1 GB; streaming keeps a buffer per connection.
      assert.ok(
        grownBytes < 3 * fileBytes,
        `server memory grew by ${(grownBytes / 2 ** 20).toFixed(0)} MiB for 60 stalled ${(fileBytes / 2 ** 20).toFixed(0)} MiB downloads`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      child.kill();
    }
  },
);

test("networks.json lists the CLI's identity regressor beside the shape encoder, and its files and FaceRes are served as they are on disk", async () => {
  const base = server!.url;
  const list = (await (await fetch(new URL('/models/networks.json', base))).json()) as { shapeEncoder?: string; identityRegressor?: string };
  assert.ok(list.shapeEncoder, 'a shape encoder is listed');
  assert.equal(list.identityRegressor, 'identity-regressor');
  const served = async (path: string) => new Uint8Array(await (await fetch(new URL(path, base))).arrayBuffer());
  const onDisk = (path: string) => new Uint8Array(readFileSync(path));
  assert.deepEqual(
    await served('/models/identity-regressor/identity-regressor.bin'),
    onDisk(join(repositoryRoot, 'models/identity-regressor/identity-regressor.bin')),
  );
  const manifest = JSON.parse(new TextDecoder().decode(await served('/models/identity-regressor/manifest.json'))) as { sha256: string };
  assert.match(manifest.sha256, /^[0-9a-f]{64}$/);
  const faceres = JSON.parse(new TextDecoder().decode(await served('/detector/faceres.json'))) as { weightsManifest: { paths: string[] }[] };
  assert.equal((await fetch(new URL(`/detector/${faceres.weightsManifest[0].paths[0]}`, base))).status, 200);
  // Only the regressor's own two files: nothing else of its folder.
  assert.equal((await fetch(new URL('/models/identity-regressor/MODEL_CARD.md', base))).status, 404);
});
