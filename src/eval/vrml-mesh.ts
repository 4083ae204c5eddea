import type { PlainMesh } from './benchmark-files.ts';

/**
 * A VRML 2.0 / VRML 97 (`.wrl`, text) reader for the triangle geometry of every
 * `IndexedFaceSet` in a file: `coord Coordinate { point [ x y z, … ] }` and
 * `coordIndex [ a, b, c, -1, … ]`. Polygons are fanned into triangles; the sets are
 * concatenated. Colours, normals, texture coordinates and transforms are ignored (scans carry
 * their geometry in the coordinates). `USE` of a coordinate node defined elsewhere is resolved.
 */
/**
 * Most points and triangles one file may give, all sets together (defaults of parseVrmlMesh's
 * options). A MICC scan has about 40,000 points; `USE` can repeat one large node any number of
 * times, so the work a small file asks for is bounded here.
 */
export const VRML_LIMITS = { maxPoints: 5_000_000, maxTriangles: 10_000_000 } as const;

export function parseVrmlMesh(text: string, limits: { maxPoints?: number; maxTriangles?: number } = {}): PlainMesh {
  const maxPoints = limits.maxPoints ?? VRML_LIMITS.maxPoints,
    maxTriangles = limits.maxTriangles ?? VRML_LIMITS.maxTriangles;
  const tokens = tokenizeVrml(text);
  const vertices: number[] = [];
  const triangles: number[] = [];
  const definedPoints = new Map<string, number[]>();
  let sets = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] !== 'IndexedFaceSet' || tokens[i + 1] !== '{') continue;
    const end = matchingClose(tokens, i + 1);
    let points: number[] | undefined;
    let indices: number[] | undefined;
    let k = i + 2;
    while (k < end) {
      const field = tokens[k];
      if (field === 'coord') {
        const parsed = readCoordinateNode(tokens, k + 1, definedPoints);
        points = parsed.points;
        k = parsed.next;
      } else if (field === 'coordIndex') {
        if (tokens[k + 1] !== '[') {
          indices = [Number(tokens[k + 1])];
          k += 2;
          continue;
        }
        const close = matchingClose(tokens, k + 1);
        indices = tokens
          .slice(k + 2, close)
          .filter((t) => t !== ',')
          .map(Number);
        k = close + 1;
      } else {
        k = skipFieldValue(tokens, k + 1);
      }
    }
    i = end;
    if (!points || !indices) continue;
    sets++;
    const offset = vertices.length / 3;
    const count = points.length / 3;
    if (offset + count > maxPoints)
      throw new RangeError(`the VRML file gives more than ${maxPoints} points (IndexedFaceSet ${sets}; USE repeats a node's points each time)`);
    for (const v of points) vertices.push(v);
    let polygon: number[] = [];
    const flush = () => {
      if (triangles.length / 3 + Math.max(0, polygon.length - 2) > maxTriangles)
        throw new RangeError(`the VRML file gives more than ${maxTriangles} triangles`);
      for (let c = 1; c + 1 < polygon.length; c++) triangles.push(offset + polygon[0], offset + polygon[c], offset + polygon[c + 1]);
      polygon = [];
    };
    for (const index of indices) {
      if (index < 0) {
        flush();
        continue;
      }
      if (!Number.isInteger(index) || index >= count) throw new RangeError(`VRML coordIndex ${index} outside the ${count} points of IndexedFaceSet ${sets}`);
      polygon.push(index);
    }
    flush();
  }
  if (sets === 0) throw new RangeError('no IndexedFaceSet with coord and coordIndex in the VRML file');
  return { vertices: Float64Array.from(vertices), triangles: Uint32Array.from(triangles) };
}

/** Words, numbers and the brackets `{ } [ ]`; commas are kept as separators, comments dropped. */
function tokenizeVrml(text: string): string[] {
  const tokens: string[] = [];
  for (const line of text.split('\n')) {
    // '#' starts a comment except inside strings; scans have no strings in geometry nodes.
    const hash = line.indexOf('#');
    const body = hash >= 0 && !line.slice(0, hash).includes('"') ? line.slice(0, hash) : line;
    for (const match of body.matchAll(/[{}[\],]|"[^"]*"|[^\s{}[\],]+/g)) tokens.push(match[0]);
  }
  return tokens;
}

function matchingClose(tokens: string[], open: number): number {
  const opener = tokens[open];
  const closer = opener === '{' ? '}' : ']';
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    if (tokens[k] === opener) depth++;
    else if (tokens[k] === closer && --depth === 0) return k;
  }
  throw new RangeError(`unbalanced "${opener}" in the VRML file`);
}

/** `[DEF name] Coordinate { point [ … ] }` or `USE name` from `start`. */
function readCoordinateNode(tokens: string[], start: number, defined: Map<string, number[]>): { points: number[]; next: number } {
  let k = start;
  if (tokens[k] === 'USE') {
    const points = defined.get(tokens[k + 1]);
    if (!points) throw new RangeError(`VRML USE of an undefined coordinate node "${tokens[k + 1]}"`);
    return { points, next: k + 2 };
  }
  let name: string | undefined;
  if (tokens[k] === 'DEF') {
    name = tokens[k + 1];
    k += 2;
  }
  if (tokens[k + 1] !== '{') throw new RangeError(`expected a Coordinate node after "coord", got "${tokens[k]}"`);
  const end = matchingClose(tokens, k + 1);
  let points: number[] = [];
  for (let j = k + 2; j < end; j++) {
    if (tokens[j] === 'point' && tokens[j + 1] === '[') {
      const close = matchingClose(tokens, j + 1);
      points = tokens
        .slice(j + 2, close)
        .filter((t) => t !== ',')
        .map(Number);
      break;
    }
  }
  if (points.length % 3 !== 0 || points.some((v) => !Number.isFinite(v))) throw new RangeError('VRML Coordinate point list is not a list of x y z numbers');
  if (name) defined.set(name, points);
  return { points, next: end + 1 };
}

/** Skip one field value: a bracketed list, `[DEF n] Node { … }`, `USE n`, or one or more scalars up to the next field name. */
function skipFieldValue(tokens: string[], start: number): number {
  let k = start;
  if (tokens[k] === '[') return matchingClose(tokens, k) + 1;
  if (tokens[k] === 'USE') return k + 2;
  if (tokens[k] === 'DEF') k += 2;
  if (tokens[k + 1] === '{') return matchingClose(tokens, k + 1) + 1;
  // Scalars (TRUE, 0.5, or "x y z" vectors): skip numbers/booleans/strings.
  k++;
  while (k < tokens.length && (/^[-+.\d]/.test(tokens[k]) || tokens[k] === ',')) k++;
  return k;
}
