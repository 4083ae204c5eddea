import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebIO } from '@gltf-transform/core';
import { meshToGlb } from '../../src/io/gltf-export.ts';
import { computeVertexNormalsArray } from '../../src/geometry/vertex-normals.ts';
import { encodePng } from '../../src/io/node/encode-image.ts';
import { createRgbaImage } from '../../src/common/image.ts';
import { sharedModel } from '../helpers/model.ts';

async function facePng(): Promise<Uint8Array> {
  const image = createRgbaImage(64, 64);
  for (let p = 0; p < 64 * 64; p++) image.data.set([(p % 64) * 4, Math.floor(p / 64) * 4, 128, 255], 4 * p);
  return encodePng(image);
}

test('a GLB of the face mesh parses back with its counts, bounds, UVs and texture', async () => {
  const model = await sharedModel();
  const normals = computeVertexNormalsArray(model.neutral, model.triangles);
  const texturePng = await facePng();
  const { bytes, layout } = meshToGlb(
    { positions: model.neutral, triangles: model.triangles, normals, uvs: model.uvs, triangleUvIndices: model.triangleUvIndices },
    { texturePng },
  );

  // Container: magic, version 2, total length, chunks 4-byte aligned.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint32(0, true), 0x46546c67);
  assert.equal(view.getUint32(4, true), 2);
  assert.equal(view.getUint32(8, true), bytes.length);
  assert.equal(view.getUint32(12, true) % 4, 0);

  // Seam vertices are split: one glTF vertex per distinct (vertex, uv) corner pair.
  const pairs = new Set<number>();
  for (let k = 0; k < model.triangles.length; k++) pairs.add(model.triangles[k] * 1e6 + model.triangleUvIndices[k]);
  assert.equal(layout.vertexCount, pairs.size);
  assert.ok(layout.vertexCount > model.vertexCount);

  const document = await new WebIO().readBinary(bytes);
  const root = document.getRoot();
  const [mesh] = root.listMeshes();
  const [primitive] = mesh.listPrimitives();
  const position = primitive.getAttribute('POSITION')!;
  assert.equal(position.getCount(), pairs.size);
  assert.equal(primitive.getIndices()!.getCount(), model.triangles.length);
  assert.equal(primitive.getAttribute('NORMAL')!.getCount(), pairs.size);
  // Bounds in metres equal the model's in millimetres / 1000.
  for (let axis = 0; axis < 3; axis++) {
    let lo = Infinity,
      hi = -Infinity;
    for (let v = 0; v < model.vertexCount; v++) {
      lo = Math.min(lo, model.neutral[3 * v + axis]);
      hi = Math.max(hi, model.neutral[3 * v + axis]);
    }
    assert.ok(Math.abs(position.getMin([])[axis] - lo / 1000) < 1e-6);
    assert.ok(Math.abs(position.getMax([])[axis] - hi / 1000) < 1e-6);
  }
  // UVs: v flipped to glTF's top-left origin.
  const uv = primitive.getAttribute('TEXCOORD_0')!;
  const first = primitive.getIndices()!.getScalar(0);
  const objUv = model.triangleUvIndices[0];
  assert.ok(Math.abs(uv.getElement(first, [])[0] - model.uvs[2 * objUv]) < 1e-6);
  assert.ok(Math.abs(uv.getElement(first, [])[1] - (1 - model.uvs[2 * objUv + 1])) < 1e-6);
  // Texture: the PNG bytes as given, bound as base colour.
  const texture = primitive.getMaterial()!.getBaseColorTexture()!;
  assert.equal(texture.getMimeType(), 'image/png');
  assert.deepEqual(Array.from(texture.getImage()!), Array.from(texturePng));
  assert.deepEqual(texture.getSize(), [64, 64]);
});

test('GLB without texture or UVs still writes a valid untextured mesh; bad PNG bytes are refused', async () => {
  const positions = new Float32Array([0, 0, 0, 10, 0, 0, 0, 10, 0]);
  const triangles = new Uint32Array([0, 1, 2]);
  const { bytes, layout } = meshToGlb({ positions, triangles });
  assert.equal(layout.vertexCount, 3);
  const document = await new WebIO().readBinary(bytes);
  const primitive = document.getRoot().listMeshes()[0].listPrimitives()[0];
  assert.equal(primitive.getAttribute('TEXCOORD_0'), null);
  assert.deepEqual(primitive.getAttribute('POSITION')!.getMax([]), [Math.fround(0.01), Math.fround(0.01), 0]);
  assert.throws(() => meshToGlb({ positions, triangles }, { texturePng: new Uint8Array(20) }), /texturePng/);
  assert.throws(() => meshToGlb({ positions, triangles: new Uint32Array([0, 1, 5]) }), /triangles\[2\]/);
});

// Blender (Debian package) imports the GLB with its texture when it is installed; CI may lack it.
const blender = ['/usr/bin/blender'].find((path) => existsSync(path));
test(
  'Blender imports the GLB with vertices, UVs and the texture image',
  { skip: blender ? false : 'blender not installed (apt-get install blender)' },
  async () => {
    const model = await sharedModel();
    const normals = computeVertexNormalsArray(model.neutral, model.triangles);
    const { bytes, layout } = meshToGlb(
      { positions: model.neutral, triangles: model.triangles, normals, uvs: model.uvs, triangleUvIndices: model.triangleUvIndices },
      { texturePng: await facePng() },
    );
    const dir = await mkdtemp(join(tmpdir(), 'facegar-glb-'));
    try {
      const path = join(dir, 'face.glb');
      await writeFile(path, bytes);
      const script = [
        'import bpy, json, numpy',
        // Debian bookworm pairs Blender 3.4 with numpy 1.24, which dropped the np.bool alias its glTF importer uses.
        'numpy.bool = getattr(numpy, "bool", bool)',
        'bpy.ops.wm.read_factory_settings(use_empty=True)',
        `bpy.ops.import_scene.gltf(filepath=${JSON.stringify(path)})`,
        'obj = [o for o in bpy.context.scene.objects if o.type == "MESH"][0]',
        'images = [i for i in bpy.data.images if i.size[0] > 0]',
        'print("RESULT " + json.dumps({"vertices": len(obj.data.vertices), "polygons": len(obj.data.polygons), "uvLayers": len(obj.data.uv_layers), "images": [list(i.size) for i in images]}))',
      ].join('\n');
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(blender!, ['-b', '--factory-startup', '--python-expr', script], { maxBuffer: 1 << 24 }, (error, out) =>
          error ? reject(error) : resolve(out),
        );
      });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      assert.ok(line, `Blender printed no result: ${stdout.slice(-500)}`);
      const result = JSON.parse(line.slice(7));
      // Blender merges the duplicated seam vertices back when it can; either count is a faithful import.
      assert.ok(result.vertices === layout.vertexCount || result.vertices === model.vertexCount, `Blender vertices ${result.vertices}`);
      assert.equal(result.polygons, model.triangles.length / 3);
      assert.equal(result.uvLayers, 1);
      assert.deepEqual(result.images, [[64, 64]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
