/**
 * Minimal Wavefront OBJ reading for morphable-model files: positions, texture coordinates and
 * polygon faces (quads split into two triangles along the 0–2 diagonal).
 */

/** Read the first `maxVertices` `v` lines (all when omitted) into [V*3], scaled by `scale`. */
export function parseObjPositions(text: string, scale: number, maxVertices = Infinity): Float32Array {
  const values: number[] = [];
  let start = 0;
  let count = 0;
  while (start < text.length && count < maxVertices) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (text.charCodeAt(start) === 118 /* v */ && text.charCodeAt(start + 1) === 32 /* space */) {
      const parts = text
        .slice(start + 2, end)
        .trim()
        .split(/\s+/);
      values.push(Number(parts[0]) * scale, Number(parts[1]) * scale, Number(parts[2]) * scale);
      count++;
    }
    start = end + 1;
  }
  return Float32Array.from(values);
}

export interface ObjTopology {
  /** [F*3] triangle vertex indices (0-based). */
  triangles: Uint32Array;
  /** [F*3] triangle texture-coordinate indices (0-based), parallel to `triangles`. */
  triangleUvIndices: Uint32Array;
  /** [T*2] texture coordinates. */
  uvs: Float32Array;
  /** For each source polygon, the index of its first triangle (polygon p → triangles [first[p], first[p+1])). */
  polygonFirstTriangle: Uint32Array;
}

/** A 1-based OBJ index as 0-based; throws RangeError unless it is a positive integer (relative, negative indices are not read). */
function objIndex(text: string, line: string): number {
  const index = Number(text);
  if (!Number.isInteger(index) || index < 1) throw new RangeError(`bad face line "${line.slice(0, 60)}"`);
  return index - 1;
}

/** Read `vt` and `f` lines. Faces must carry `v/vt` pairs; polygons with n > 3 corners are fanned. Throws RangeError on a bad index. */
export function parseObjTopology(text: string): ObjTopology {
  const uvs: number[] = [];
  const triangles: number[] = [];
  const triangleUvs: number[] = [];
  const polygonFirst: number[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('vt ')) {
      const parts = line.slice(3).trim().split(/\s+/);
      uvs.push(Number(parts[0]), Number(parts[1]));
    } else if (line.startsWith('f ')) {
      const corners = line.slice(2).trim().split(/\s+/);
      const vertexIds = corners.map((c) => objIndex(c.split('/')[0], line));
      const uvIds = corners.map((c) => objIndex(c.split('/')[1] ?? c.split('/')[0], line));
      polygonFirst.push(triangles.length / 3);
      for (let k = 1; k + 1 < corners.length; k++) {
        triangles.push(vertexIds[0], vertexIds[k], vertexIds[k + 1]);
        triangleUvs.push(uvIds[0], uvIds[k], uvIds[k + 1]);
      }
    }
  }
  polygonFirst.push(triangles.length / 3);
  return {
    triangles: Uint32Array.from(triangles),
    triangleUvIndices: Uint32Array.from(triangleUvs),
    uvs: Float32Array.from(uvs),
    polygonFirstTriangle: Uint32Array.from(polygonFirst),
  };
}
