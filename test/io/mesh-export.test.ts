import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshToObj, meshToPly, type ExportMesh } from '../../src/io/mesh-export.ts';
import { UsageError } from '../../src/common/errors.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

function randomMesh(vertexCount: number, triangleCount: number, uvCount: number, seed: number): Required<ExportMesh> {
  const r = seededRandom(seed);
  const positions = new Float32Array(vertexCount * 3).map(() => (r() - 0.5) * 200);
  const normals = new Float32Array(vertexCount * 3);
  for (let i = 0; i < vertexCount; i++) {
    const x = r() - 0.5,
      y = r() - 0.5,
      z = r() - 0.5,
      n = Math.hypot(x, y, z) || 1;
    normals.set([x / n, y / n, z / n], 3 * i);
  }
  const triangles = new Uint32Array(triangleCount * 3).map(() => Math.floor(r() * vertexCount));
  const uvs = new Float32Array(uvCount * 2).map(() => r());
  const triangleUvIndices = new Uint32Array(triangleCount * 3).map(() => Math.floor(r() * uvCount));
  const colors = new Uint8Array(vertexCount * 3).map(() => Math.floor(r() * 256));
  return { positions, triangles, normals, uvs, triangleUvIndices, colors };
}

interface ParsedObj {
  positions: number[];
  colors: number[];
  uvs: number[];
  normals: number[];
  faces: { v: number[]; vt: (number | undefined)[]; vn: (number | undefined)[] }[];
  comments: string[];
  mtllib?: string;
  usemtl?: string;
}

/** Tiny OBJ reader for the subset meshToObj writes (1-based indices turned 0-based). */
function parseObj(text: string): ParsedObj {
  const out: ParsedObj = { positions: [], colors: [], uvs: [], normals: [], faces: [], comments: [] };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [tag, ...rest] = line.split(' ');
    if (tag === '#') out.comments.push(rest.join(' '));
    else if (tag === 'mtllib') out.mtllib = rest.join(' ');
    else if (tag === 'usemtl') out.usemtl = rest.join(' ');
    else if (tag === 'v') {
      assert.ok(rest.length === 3 || rest.length === 6, line);
      out.positions.push(...rest.slice(0, 3).map(Number));
      out.colors.push(...rest.slice(3).map(Number));
    } else if (tag === 'vt') out.uvs.push(...rest.map(Number));
    else if (tag === 'vn') out.normals.push(...rest.map(Number));
    else if (tag === 'f') {
      assert.equal(rest.length, 3, line);
      const corners = rest.map((c) => c.split('/').map((s) => (s === '' ? undefined : Number(s) - 1)));
      out.faces.push({ v: corners.map((c) => c[0]!), vt: corners.map((c) => c[1]), vn: corners.map((c) => c[2]) });
    } else assert.fail(`unexpected line ${line}`);
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what} length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= tolerance, `${what}: max error ${worst} > ${tolerance}`);
}

test('OBJ with every attribute parses back to the same mesh (10k vertices)', () => {
  const mesh = randomMesh(10_000, 20_000, 12_000, 1);
  const text = meshToObj(mesh, { materialLibrary: 'face.mtl', materialName: 'skin', comment: 'facegar test\nsecond line' });
  const obj = parseObj(text);
  assertClose(obj.positions, mesh.positions, 0.5e-4 + 1e-9, 'positions (mm)');
  assertClose(obj.normals, mesh.normals, 0.5e-5 + 1e-9, 'normals');
  assertClose(obj.uvs, mesh.uvs, 0.5e-5 + 1e-9, 'uvs');
  assert.deepEqual(
    obj.colors.map((c) => Math.round(c * 255)),
    Array.from(mesh.colors),
  );
  assert.equal(obj.faces.length, 20_000);
  assert.deepEqual(
    obj.faces.flatMap((f) => f.v),
    Array.from(mesh.triangles),
  );
  assert.deepEqual(
    obj.faces.flatMap((f) => f.vt),
    Array.from(mesh.triangleUvIndices),
  );
  assert.deepEqual(
    obj.faces.flatMap((f) => f.vn),
    Array.from(mesh.triangles),
  );
  assert.deepEqual(obj.comments, ['facegar test', 'second line']);
  assert.equal(obj.mtllib, 'face.mtl');
  assert.equal(obj.usemtl, 'skin');
  // usemtl must come before the faces it applies to.
  assert.ok(text.indexOf('usemtl skin') < text.indexOf('\nf '));
});

test('OBJ face syntax follows the attributes given', () => {
  const full = randomMesh(4, 2, 4, 2);
  const base = { positions: full.positions, triangles: full.triangles };
  const onlyV = parseObj(meshToObj(base));
  assert.deepEqual(onlyV.faces[0].vt, [undefined, undefined, undefined]);
  assert.deepEqual(onlyV.faces[0].vn, [undefined, undefined, undefined]);
  assert.match(meshToObj(base), /^f \d+ \d+ \d+$/m);
  assert.match(meshToObj({ ...base, normals: full.normals }), /^f (\d+)\/\/\1 (\d+)\/\/\2 (\d+)\/\/\3$/m);
  // Per-vertex UVs (no triangleUvIndices): vt index equals the vertex index.
  const perVertexUv = parseObj(meshToObj({ ...base, uvs: full.uvs }));
  assert.deepEqual(
    perVertexUv.faces.flatMap((f) => f.vt),
    Array.from(full.triangles),
  );
  assert.ok(!meshToObj(base).includes('mtllib') && !meshToObj(base).includes('#'));
});

test('OBJ numbers are compact and rounded, never exponent or -0', () => {
  const mesh: ExportMesh = {
    positions: new Float32Array([12.5, -0, 1 / 3, 1e-7, -2, 100]),
    triangles: new Uint32Array([0, 1, 0]),
  };
  const lines = meshToObj(mesh)
    .split('\n')
    .filter((l) => l.startsWith('v '));
  assert.deepEqual(lines, ['v 12.5 0 0.3333', 'v 0 -2 100']);
});

test('PLY is binary little-endian and round-trips exactly', () => {
  const mesh = randomMesh(500, 900, 500, 3);
  for (const variant of [
    { positions: mesh.positions, triangles: mesh.triangles },
    { positions: mesh.positions, triangles: mesh.triangles, normals: mesh.normals },
    { positions: mesh.positions, triangles: mesh.triangles, normals: mesh.normals, colors: mesh.colors },
    { positions: mesh.positions, triangles: mesh.triangles, colors: mesh.colors },
  ] as ExportMesh[]) {
    const ply = parsePly(meshToPly(variant));
    assert.deepEqual(ply.positions, variant.positions);
    assert.deepEqual(ply.triangles, variant.triangles);
    assert.deepEqual(ply.normals, variant.normals);
    assert.deepEqual(ply.colors, variant.colors);
  }
});

test('bad meshes are rejected with a UsageError naming the field', () => {
  const ok = randomMesh(3, 1, 3, 4);
  const cases: [Partial<ExportMesh>, RegExp][] = [
    [{ triangles: new Uint32Array([0, 1, 3]) }, /mesh\.triangles\[2\]/],
    [{ positions: new Float32Array([0, 0, Number.NaN, 0, 0, 0, 1, 1, 1]) }, /mesh\.positions\[2\]/],
    [{ positions: new Float32Array(8) }, /mesh\.positions.*Float32Array\(8\)/],
    [{ normals: new Float32Array(6) }, /mesh\.normals/],
    [{ colors: new Uint8Array(3) }, /mesh\.colors/],
    [{ uvs: new Float32Array(4), triangleUvIndices: undefined }, /mesh\.uvs/],
    [{ triangleUvIndices: new Uint32Array([0, 1, 3]) }, /mesh\.triangleUvIndices\[2\]/],
  ];
  for (const [change, message] of cases) {
    const bad = { ...ok, ...change } as ExportMesh;
    assert.throws(
      () => meshToObj(bad),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
    );
    assert.throws(() => meshToPly(bad), UsageError);
  }
  assert.throws(() => meshToObj(ok, { materialName: 'a\nb' }), UsageError);
});

/** Tiny binary PLY reader for the layouts meshToPly writes. */
function parsePly(bytes: Uint8Array): ExportMesh {
  const headerEnd = Buffer.from(bytes).indexOf('end_header\n') + 'end_header\n'.length;
  const header = new TextDecoder().decode(bytes.subarray(0, headerEnd)).split('\n');
  assert.equal(header[0], 'ply');
  assert.equal(header[1], 'format binary_little_endian 1.0');
  const vertexCount = Number(header.find((l) => l.startsWith('element vertex '))!.split(' ')[2]);
  const faceCount = Number(header.find((l) => l.startsWith('element face '))!.split(' ')[2]);
  const vertexProps = header
    .slice(
      header.findIndex((l) => l.startsWith('element vertex')) + 1,
      header.findIndex((l) => l.startsWith('element face')),
    )
    .map((l) => l.split(' '));
  assert.deepEqual(header[header.findIndex((l) => l.startsWith('element face')) + 1], 'property list uchar uint vertex_indices');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const has = (name: string) => vertexProps.some((p) => p[2] === name);
  const positions = new Float32Array(vertexCount * 3);
  const normals = has('nx') ? new Float32Array(vertexCount * 3) : undefined;
  const colors = has('red') ? new Uint8Array(vertexCount * 3) : undefined;
  let o = headerEnd;
  for (let i = 0; i < vertexCount; i++) {
    for (const [, type, name] of vertexProps) {
      const axis = 'xyz'.indexOf(name.slice(-1)) >= 0 && name.length <= 2 ? 'xyz'.indexOf(name.slice(-1)) : ['red', 'green', 'blue'].indexOf(name);
      if (type === 'float') {
        const value = view.getFloat32(o, true);
        o += 4;
        (name.startsWith('n') ? normals! : positions)[3 * i + axis] = value;
      } else {
        assert.equal(type, 'uchar');
        colors![3 * i + axis] = bytes[o];
        o += 1;
      }
    }
  }
  const triangles = new Uint32Array(faceCount * 3);
  for (let f = 0; f < faceCount; f++) {
    assert.equal(bytes[o], 3);
    o += 1;
    for (let k = 0; k < 3; k++) {
      triangles[3 * f + k] = view.getUint32(o, true);
      o += 4;
    }
  }
  assert.equal(o, bytes.length, 'no trailing bytes');
  return { positions, triangles, normals, colors };
}
