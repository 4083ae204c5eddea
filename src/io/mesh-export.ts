/**
 * Mesh export to Wavefront OBJ (text) and binary PLY. Core module: no Node imports, the
 * browser demo uses it for downloads.
 *
 * UV convention: `uvs` are in OBJ/OpenGL texture space, origin at the bottom-left corner of
 * the texture, v pointing up (as in ICT-FaceKit's own OBJ files). They are written to OBJ
 * unchanged; to sample a top-left-origin `RgbaImage` texture, use row (1 - v) * height.
 */
import { UsageError, invalidParameterError } from '../common/errors.ts';

/** A triangle mesh ready to be written. Positions in model space, millimetres. */
export interface ExportMesh {
  /** [V*3] float32 xyz, mm, right-handed, +y up. */
  positions: Float32Array;
  /** [F*3] uint32 vertex indices, counter-clockwise seen from outside. */
  triangles: Uint32Array;
  /** [V*3] float32 unit normals, one per vertex. */
  normals?: Float32Array;
  /** [T*2] float32 texture coordinates (u, v), OBJ convention (origin bottom-left). */
  uvs?: Float32Array;
  /** [F*3] uint32 indices into `uvs` per triangle corner; when absent, `uvs` is per vertex (T = V). */
  triangleUvIndices?: Uint32Array;
  /** [V*3] uint8 sRGB colours, one per vertex. */
  colors?: Uint8Array;
}

export interface ObjOptions {
  /** Written as `mtllib <name>` (a .mtl file beside the .obj). */
  materialLibrary?: string;
  /** Written as `usemtl <name>` before the faces. */
  materialName?: string;
  /** Free text written as `#` lines at the top; newlines start new comment lines. */
  comment?: string;
}

/**
 * Write `mesh` as Wavefront OBJ text: `v x y z [r g b]`, `vt u v`, `vn x y z`, then
 * `f v/vt/vn` with 1-based indices. Positions carry 4 decimals (0.1 µm), normals and UVs 5,
 * colours 4 (in 0..1, the common `v` colour extension; they round-trip to the same byte).
 * Numbers are written in shortest form ("12.5", not "12.5000").
 */
export function meshToObj(mesh: ExportMesh, options: ObjOptions = {}): string {
  const counts = validateMesh(mesh);
  const { positions, triangles, normals, uvs, colors } = mesh;
  const lines: string[] = [];
  if (options.comment !== undefined) {
    for (const line of options.comment.split(/\r?\n/)) lines.push(`# ${line}`);
  }
  if (options.materialLibrary !== undefined) lines.push(`mtllib ${singleLine(options.materialLibrary, 'materialLibrary')}`);

  for (let i = 0; i < counts.vertices; i++) {
    const p = 3 * i;
    let line = `v ${fmt(positions[p], 1e4)} ${fmt(positions[p + 1], 1e4)} ${fmt(positions[p + 2], 1e4)}`;
    if (colors) line += ` ${fmt(colors[p] / 255, 1e4)} ${fmt(colors[p + 1] / 255, 1e4)} ${fmt(colors[p + 2] / 255, 1e4)}`;
    lines.push(line);
  }
  if (uvs) {
    for (let i = 0; i < uvs.length; i += 2) lines.push(`vt ${fmt(uvs[i], 1e5)} ${fmt(uvs[i + 1], 1e5)}`);
  }
  if (normals) {
    for (let i = 0; i < normals.length; i += 3) {
      lines.push(`vn ${fmt(normals[i], 1e5)} ${fmt(normals[i + 1], 1e5)} ${fmt(normals[i + 2], 1e5)}`);
    }
  }
  if (options.materialName !== undefined) lines.push(`usemtl ${singleLine(options.materialName, 'materialName')}`);

  const uvIndex = mesh.triangleUvIndices ?? (uvs ? triangles : undefined);
  for (let f = 0; f < triangles.length; f += 3) {
    let line = 'f';
    for (let k = f; k < f + 3; k++) {
      const v = triangles[k] + 1;
      if (uvIndex && normals) line += ` ${v}/${uvIndex[k] + 1}/${v}`;
      else if (uvIndex) line += ` ${v}/${uvIndex[k] + 1}`;
      else if (normals) line += ` ${v}//${v}`;
      else line += ` ${v}`;
    }
    lines.push(line);
  }
  lines.push('');
  return lines.join('\n');
}

/**
 * Write `mesh` as binary little-endian PLY: vertex element with float x y z, then float
 * nx ny nz when normals are given and uchar red green blue when colours are given; face
 * element as `list uchar uint vertex_indices`. UVs are not written (they need per-corner
 * seams, which OBJ carries).
 */
export function meshToPly(mesh: ExportMesh): Uint8Array {
  const counts = validateMesh(mesh);
  const { positions, triangles, normals, colors } = mesh;
  const header = [
    'ply',
    'format binary_little_endian 1.0',
    'comment facegar mesh, millimetres',
    `element vertex ${counts.vertices}`,
    'property float x',
    'property float y',
    'property float z',
    ...(normals ? ['property float nx', 'property float ny', 'property float nz'] : []),
    ...(colors ? ['property uchar red', 'property uchar green', 'property uchar blue'] : []),
    `element face ${counts.triangles}`,
    'property list uchar uint vertex_indices',
    'end_header',
    '',
  ].join('\n');
  const headerBytes = new TextEncoder().encode(header);
  const vertexStride = 12 + (normals ? 12 : 0) + (colors ? 3 : 0);
  const faceStride = 1 + 12;
  const out = new Uint8Array(headerBytes.length + counts.vertices * vertexStride + counts.triangles * faceStride);
  out.set(headerBytes, 0);
  const view = new DataView(out.buffer);
  let o = headerBytes.length;
  for (let i = 0; i < counts.vertices; i++) {
    const p = 3 * i;
    view.setFloat32(o, positions[p], true);
    view.setFloat32(o + 4, positions[p + 1], true);
    view.setFloat32(o + 8, positions[p + 2], true);
    o += 12;
    if (normals) {
      view.setFloat32(o, normals[p], true);
      view.setFloat32(o + 4, normals[p + 1], true);
      view.setFloat32(o + 8, normals[p + 2], true);
      o += 12;
    }
    if (colors) {
      out[o] = colors[p];
      out[o + 1] = colors[p + 1];
      out[o + 2] = colors[p + 2];
      o += 3;
    }
  }
  for (let f = 0; f < triangles.length; f += 3) {
    out[o] = 3;
    view.setUint32(o + 1, triangles[f], true);
    view.setUint32(o + 5, triangles[f + 1], true);
    view.setUint32(o + 9, triangles[f + 2], true);
    o += faceStride;
  }
  return out;
}

/** Round to 1/scale and print in shortest form: an integer divided by a power of ten
 * prints with at most that many decimals. Non-finite values were rejected by validateMesh. */
function fmt(x: number, scale: number): string {
  const r = Math.round(x * scale) / scale;
  return r === 0 ? '0' : String(r);
}

function singleLine(value: string, name: string): string {
  if (/[\r\n]/.test(value) || value.trim() === '') throw invalidParameterError(name, 'a non-empty single-line name', value);
  return value;
}

function validateMesh(mesh: ExportMesh): { vertices: number; triangles: number } {
  const { positions, triangles, normals, uvs, triangleUvIndices, colors } = mesh;
  if (!(positions instanceof Float32Array) || positions.length % 3 !== 0) {
    throw arrayShapeError('mesh.positions', 'a Float32Array of length V*3', positions);
  }
  if (!(triangles instanceof Uint32Array) || triangles.length % 3 !== 0) {
    throw arrayShapeError('mesh.triangles', 'a Uint32Array of length F*3', triangles);
  }
  const vertices = positions.length / 3;
  for (let i = 0; i < positions.length; i++) {
    if (!Number.isFinite(positions[i])) throw invalidParameterError(`mesh.positions[${i}]`, 'a finite number', positions[i]);
  }
  for (let i = 0; i < triangles.length; i++) {
    if (triangles[i] >= vertices) throw invalidParameterError(`mesh.triangles[${i}]`, `a vertex index below ${vertices}`, triangles[i]);
  }
  if (normals !== undefined) {
    if (!(normals instanceof Float32Array) || normals.length !== positions.length) {
      throw arrayShapeError('mesh.normals', `a Float32Array of length ${positions.length}`, normals);
    }
    for (let i = 0; i < normals.length; i++) {
      if (!Number.isFinite(normals[i])) throw invalidParameterError(`mesh.normals[${i}]`, 'a finite number', normals[i]);
    }
  }
  if (colors !== undefined && (!(colors instanceof Uint8Array) || colors.length !== positions.length)) {
    throw arrayShapeError('mesh.colors', `a Uint8Array of length ${positions.length}`, colors);
  }
  if (triangleUvIndices !== undefined && uvs === undefined) {
    throw invalidParameterError('mesh.uvs', 'a Float32Array when triangleUvIndices is given', uvs);
  }
  if (uvs !== undefined) {
    if (!(uvs instanceof Float32Array) || uvs.length % 2 !== 0) {
      throw arrayShapeError('mesh.uvs', 'a Float32Array of length T*2', uvs);
    }
    for (let i = 0; i < uvs.length; i++) {
      if (!Number.isFinite(uvs[i])) throw invalidParameterError(`mesh.uvs[${i}]`, 'a finite number', uvs[i]);
    }
    const uvCount = uvs.length / 2;
    if (triangleUvIndices === undefined) {
      if (uvCount !== vertices) throw arrayShapeError('mesh.uvs', `one UV per vertex (length ${vertices * 2}) when triangleUvIndices is absent`, uvs);
    } else {
      if (!(triangleUvIndices instanceof Uint32Array) || triangleUvIndices.length !== triangles.length) {
        throw arrayShapeError('mesh.triangleUvIndices', `a Uint32Array of length ${triangles.length}`, triangleUvIndices);
      }
      for (let i = 0; i < triangleUvIndices.length; i++) {
        if (triangleUvIndices[i] >= uvCount) throw invalidParameterError(`mesh.triangleUvIndices[${i}]`, `a UV index below ${uvCount}`, triangleUvIndices[i]);
      }
    }
  }
  return { vertices, triangles: triangles.length / 3 };
}

/** Like invalidParameterError, but describes a typed array by type and length, not content. */
function arrayShapeError(name: string, expected: string, actual: unknown): UsageError {
  const received = ArrayBuffer.isView(actual)
    ? `${actual.constructor.name}(${(actual as unknown as ArrayLike<number>).length})`
    : `${String(actual)} of type ${typeof actual}`;
  return new UsageError(`Expected ${expected} for ${name} but received ${received}`);
}
