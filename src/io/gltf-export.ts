/**
 * Binary glTF 2.0 (.glb) export: one mesh with positions, normals, UVs and indices, and a PBR
 * material whose base colour is the face texture. Core module (no Node imports): the caller
 * supplies the texture already encoded as PNG (sharp in Node, a canvas in the browser).
 *
 * glTF differs from OBJ in two ways handled here: a vertex carries exactly one UV, so vertices
 * on UV seams are duplicated (one glTF vertex per distinct (vertex, UV) pair of the triangles);
 * and texture v points down the image (v_gltf = 1 − v_obj). Units are metres in glTF, so
 * millimetre positions are scaled by `metresPerUnit` (default 0.001).
 */
import { UsageError, invalidParameterError } from '../common/errors.ts';
import type { ExportMesh } from './mesh-export.ts';

export interface GlbOptions {
  /** PNG bytes of the base colour texture (top-left origin, as a texture from bakeFaceTexture). */
  texturePng?: Uint8Array;
  /** Scale from mesh units to metres. Default 0.001 (the mesh is in millimetres). */
  metresPerUnit?: number;
  /** Node and mesh name. Default "face". */
  name?: string;
  /** Written as asset.generator. Default "facegar". */
  generator?: string;
}

/** What a GLB holds, for callers that report it. */
export interface GlbLayout {
  /** glTF vertices (≥ mesh vertices: seam vertices are duplicated). */
  vertexCount: number;
  triangleCount: number;
  /** [vertexCount] int32: the mesh vertex each glTF vertex came from. */
  sourceVertex: Int32Array;
}

const GLB_MAGIC = 0x46546c67; // "glTF"
const CHUNK_JSON = 0x4e4f534a; // "JSON"
const CHUNK_BIN = 0x004e4942; // "BIN\0"
const FLOAT = 5126,
  UNSIGNED_INT = 5125;
const ARRAY_BUFFER = 34962,
  ELEMENT_ARRAY_BUFFER = 34963;

/**
 * Write `mesh` as a GLB file. `mesh.positions` [V*3] (mm unless metresPerUnit says otherwise),
 * `triangles` [F*3] counter-clockwise, optional `normals` [V*3], optional `uvs` [T*2] in OBJ
 * convention with `triangleUvIndices` [F*3] (or one UV per vertex).
 * @returns the .glb bytes and the vertex layout it used.
 */
export function meshToGlb(mesh: ExportMesh, options: GlbOptions = {}): { bytes: Uint8Array; layout: GlbLayout } {
  const scale = options.metresPerUnit ?? 0.001;
  if (!(scale > 0) || !Number.isFinite(scale)) throw invalidParameterError('metresPerUnit', 'a positive number', scale);
  if (options.texturePng !== undefined && !isPng(options.texturePng))
    throw invalidParameterError('texturePng', 'PNG bytes (\\x89PNG signature)', `${options.texturePng.length} bytes`);
  const { positions, triangles, normals, uvs } = mesh;
  if (!(positions instanceof Float32Array) || positions.length % 3 !== 0) throw new UsageError('Expected a Float32Array of length V*3 for mesh.positions');
  if (!(triangles instanceof Uint32Array) || triangles.length % 3 !== 0) throw new UsageError('Expected a Uint32Array of length F*3 for mesh.triangles');
  const meshVertexCount = positions.length / 3;
  for (let i = 0; i < triangles.length; i++) {
    if (triangles[i] >= meshVertexCount) throw invalidParameterError(`mesh.triangles[${i}]`, `a vertex index below ${meshVertexCount}`, triangles[i]);
  }
  if (normals !== undefined && normals.length !== positions.length)
    throw new UsageError(`Expected a Float32Array of length ${positions.length} for mesh.normals`);
  const uvIndices = uvs === undefined ? undefined : (mesh.triangleUvIndices ?? triangles);
  if (uvs !== undefined && uvIndices !== undefined) {
    if (uvIndices.length !== triangles.length) throw new UsageError(`Expected a Uint32Array of length ${triangles.length} for mesh.triangleUvIndices`);
    for (let i = 0; i < uvIndices.length; i++) {
      if (2 * uvIndices[i] + 1 >= uvs.length) throw invalidParameterError(`mesh.triangleUvIndices[${i}]`, `a UV index below ${uvs.length / 2}`, uvIndices[i]);
    }
  }

  // One glTF vertex per distinct (vertex, uv) pair, in order of first use.
  const pairIndex = new Map<number, number>();
  const sourceVertex: number[] = [];
  const sourceUv: number[] = [];
  const indices = new Uint32Array(triangles.length);
  const uvCount = uvs ? uvs.length / 2 : 1;
  for (let k = 0; k < triangles.length; k++) {
    const v = triangles[k],
      t = uvIndices ? uvIndices[k] : 0;
    const key = v * uvCount + t;
    let index = pairIndex.get(key);
    if (index === undefined) {
      index = sourceVertex.length;
      pairIndex.set(key, index);
      sourceVertex.push(v);
      sourceUv.push(t);
    }
    indices[k] = index;
  }
  const vertexCount = sourceVertex.length;
  const outPositions = new Float32Array(vertexCount * 3);
  const outNormals = normals ? new Float32Array(vertexCount * 3) : undefined;
  const outUvs = uvs ? new Float32Array(vertexCount * 2) : undefined;
  const min = [Infinity, Infinity, Infinity],
    max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < vertexCount; i++) {
    const v = sourceVertex[i];
    for (let a = 0; a < 3; a++) {
      const value = Math.fround(positions[3 * v + a] * scale);
      if (!Number.isFinite(value)) throw invalidParameterError(`mesh.positions[${3 * v + a}]`, 'a finite number', positions[3 * v + a]);
      outPositions[3 * i + a] = value;
      min[a] = Math.min(min[a], value);
      max[a] = Math.max(max[a], value);
      if (outNormals && normals) outNormals[3 * i + a] = normals[3 * v + a];
    }
    if (outUvs && uvs) {
      outUvs[2 * i] = uvs[2 * sourceUv[i]];
      outUvs[2 * i + 1] = 1 - uvs[2 * sourceUv[i] + 1];
    }
  }

  // Binary chunk: each view starts on a 4-byte boundary.
  const views: { bytes: Uint8Array; target?: number }[] = [{ bytes: asBytes(outPositions), target: ARRAY_BUFFER }];
  const attributes: Record<string, number> = { POSITION: 0 };
  const accessors: Record<string, unknown>[] = [{ bufferView: 0, componentType: FLOAT, count: vertexCount, type: 'VEC3', min, max }];
  if (outNormals) {
    attributes.NORMAL = accessors.length;
    accessors.push({ bufferView: views.length, componentType: FLOAT, count: vertexCount, type: 'VEC3' });
    views.push({ bytes: asBytes(outNormals), target: ARRAY_BUFFER });
  }
  if (outUvs) {
    attributes.TEXCOORD_0 = accessors.length;
    accessors.push({ bufferView: views.length, componentType: FLOAT, count: vertexCount, type: 'VEC2' });
    views.push({ bytes: asBytes(outUvs), target: ARRAY_BUFFER });
  }
  const indicesAccessor = accessors.length;
  accessors.push({ bufferView: views.length, componentType: UNSIGNED_INT, count: indices.length, type: 'SCALAR' });
  views.push({ bytes: asBytes(indices), target: ELEMENT_ARRAY_BUFFER });
  const textured = options.texturePng !== undefined && outUvs !== undefined;
  if (textured) views.push({ bytes: options.texturePng! });

  let binLength = 0;
  const bufferViews = views.map((view) => {
    const entry: Record<string, unknown> = { buffer: 0, byteOffset: binLength, byteLength: view.bytes.length };
    if (view.target !== undefined) entry.target = view.target;
    binLength = align4(binLength + view.bytes.length);
    return entry;
  });

  const name = options.name ?? 'face';
  const material: Record<string, unknown> = {
    name: `${name}-skin`,
    pbrMetallicRoughness: {
      metallicFactor: 0,
      roughnessFactor: 0.8,
      ...(textured ? { baseColorTexture: { index: 0 } } : { baseColorFactor: [0.8, 0.8, 0.8, 1] }),
    },
  };
  const gltf: Record<string, unknown> = {
    asset: { version: '2.0', generator: options.generator ?? 'facegar' },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ name, mesh: 0 }],
    meshes: [{ name, primitives: [{ attributes, indices: indicesAccessor, material: 0, mode: 4 }] }],
    materials: [material],
    accessors,
    bufferViews,
    buffers: [{ byteLength: binLength }],
    ...(textured
      ? {
          images: [{ bufferView: views.length - 1, mimeType: 'image/png' }],
          samplers: [{ magFilter: 9729, minFilter: 9987, wrapS: 33071, wrapT: 33071 }],
          textures: [{ source: 0, sampler: 0 }],
        }
      : {}),
  };

  const jsonBytes = new TextEncoder().encode(JSON.stringify(gltf));
  const jsonLength = align4(jsonBytes.length);
  const total = 12 + 8 + jsonLength + 8 + binLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, GLB_MAGIC, true);
  view.setUint32(4, 2, true);
  view.setUint32(8, total, true);
  view.setUint32(12, jsonLength, true);
  view.setUint32(16, CHUNK_JSON, true);
  out.set(jsonBytes, 20);
  out.fill(0x20, 20 + jsonBytes.length, 20 + jsonLength); // JSON pads with spaces
  let offset = 20 + jsonLength;
  view.setUint32(offset, binLength, true);
  view.setUint32(offset + 4, CHUNK_BIN, true);
  offset += 8;
  for (let i = 0; i < views.length; i++) out.set(views[i].bytes, offset + (bufferViews[i].byteOffset as number));
  return { bytes: out, layout: { vertexCount, triangleCount: triangles.length / 3, sourceVertex: Int32Array.from(sourceVertex) } };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function asBytes(array: Float32Array | Uint32Array): Uint8Array {
  // Typed arrays are little-endian on every platform facegar runs on (x86, ARM, wasm).
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

function isPng(bytes: Uint8Array): boolean {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return bytes instanceof Uint8Array && bytes.length > 8 && signature.every((b, i) => bytes[i] === b);
}
