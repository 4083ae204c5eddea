/**
 * Parsers for the file formats the public benchmarks ship (text/bytes in, arrays out; no file
 * access here): Wavefront OBJ meshes (v/f only), MeshLab picked-points `.pp`, NumPy `.npy`
 * float arrays, whitespace-separated text matrices.
 */

export interface PlainMesh {
  /** [V*3] positions. */
  vertices: Float64Array;
  /** [F*3] vertex indices (polygons fanned into triangles). */
  triangles: Uint32Array;
}

/** Parse the `v` and `f` lines of an OBJ (1-based or negative indices; `f a/b/c` forms). */
export function parseObjMesh(text: string): PlainMesh {
  const vertices: number[] = [];
  const triangles: number[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('v ')) {
      const parts = line.trim().split(/\s+/);
      vertices.push(Number(parts[1]), Number(parts[2]), Number(parts[3]));
    } else if (line.startsWith('f ')) {
      const count = vertices.length / 3;
      const ids = line
        .trim()
        .split(/\s+/)
        .slice(1)
        .map((token) => {
          const index = parseInt(token.split('/')[0], 10);
          return index < 0 ? count + index : index - 1;
        });
      for (let k = 1; k + 1 < ids.length; k++) triangles.push(ids[0], ids[k], ids[k + 1]);
    }
  }
  return { vertices: Float64Array.from(vertices), triangles: Uint32Array.from(triangles) };
}

/** The points of a MeshLab picked-points file (`<point x=".." y=".." z=".." name=".."/>`), in file order → [N*3]. */
export function parsePickedPoints(text: string): Float64Array {
  const points: number[] = [];
  for (const match of text.matchAll(/<point\b[^>]*>/g)) {
    const tag = match[0];
    const value = (name: string) => {
      const found = new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(tag);
      if (!found) throw new RangeError(`picked point without ${name}: ${tag}`);
      return Number(found[1]);
    };
    points.push(value('x'), value('y'), value('z'));
  }
  return Float64Array.from(points);
}

/** A whitespace-separated numeric matrix (one row per line) → flat row-major array. */
export function parseTextMatrix(text: string): Float64Array {
  return Float64Array.from(
    text
      .split(/\s+/)
      .filter((token) => token.length > 0)
      .map(Number),
  );
}

/**
 * A NumPy `.npy` file (format 1.0–3.0) of float32/float64 (either byte order), C order →
 * { shape, data (flat, float64) }.
 */
export function parseNpy(bytes: Uint8Array): { shape: number[]; data: Float64Array } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new RangeError('not a .npy file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*True/.test(header);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (fortran) throw new RangeError('Fortran-ordered .npy arrays are not supported');
  const count = shape.reduce((a, b) => a * b, 1);
  const little = descr?.[0] !== '>';
  const kind = descr?.slice(1);
  const offset = headerStart + headerLength;
  const data = new Float64Array(count);
  if (kind === 'f4') for (let i = 0; i < count; i++) data[i] = view.getFloat32(offset + 4 * i, little);
  else if (kind === 'f8') for (let i = 0; i < count; i++) data[i] = view.getFloat64(offset + 8 * i, little);
  else throw new RangeError(`unsupported .npy dtype ${descr}`);
  return { shape, data };
}
