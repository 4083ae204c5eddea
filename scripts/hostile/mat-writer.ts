// A minimal MATLAB level-5 .mat writer (little-endian; double, single, int32 and char arrays), for
// the tests of src/io/mat-file.ts and the hostile .mat files of scripts/hostile/dataset-cases.ts.
/** One variable to write. */
export interface MatVariable { name: string; className: 'double' | 'single' | 'int32' | 'char'; dims: number[]; data?: number[]; text?: string }
/** A data element: tag + payload (small format for ≤ 4 bytes), padded to 8 bytes unless compressed (type 15). */
export function element(type: number, payload: Uint8Array): Uint8Array {
  if (payload.length <= 4 && payload.length > 0 && type !== 14 && type !== 15) {
    const small = new Uint8Array(8); // small data element format
    new DataView(small.buffer).setUint32(0, (payload.length << 16) | type, true);
    small.set(payload, 4);
    return small;
  }
  const padded = type === 15 ? payload.length : Math.ceil(payload.length / 8) * 8;
  const out = new Uint8Array(8 + padded);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, payload.length, true);
  out.set(payload, 8);
  return out;
}
export const concat = (parts: Uint8Array[]) => { const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
/** A miMATRIX element holding `v`. */
export function matrixElement(v: MatVariable): Uint8Array {
  const classId = { double: 6, single: 7, int32: 12, char: 4 }[v.className];
  const flags = new Uint8Array(8); new DataView(flags.buffer).setUint32(0, classId, true);
  const dims = new Uint8Array(4 * v.dims.length); v.dims.forEach((d, i) => new DataView(dims.buffer).setInt32(4 * i, d, true));
  let data: Uint8Array;
  let type: number;
  if (v.className === 'char') { type = 4; data = new Uint8Array(2 * v.text!.length); [...v.text!].forEach((c, i) => new DataView(data.buffer).setUint16(2 * i, c.charCodeAt(0), true)); }
  else if (v.className === 'double') { type = 9; data = new Uint8Array(new Float64Array(v.data!).buffer); }
  else if (v.className === 'single') { type = 7; data = new Uint8Array(new Float32Array(v.data!).buffer); }
  else { type = 5; data = new Uint8Array(new Int32Array(v.data!).buffer); }
  return element(14, concat([element(6, flags), element(5, dims), element(1, new TextEncoder().encode(v.name)), element(type, data)]));
}
/** A .mat file of `variables`, each in a compressed element when `compressed`. */
export async function writeMat(variables: MatVariable[], compressed: boolean): Promise<Uint8Array> {
  const parts = await Promise.all(variables.map(async (v) => (compressed ? element(15, await deflate(matrixElement(v))) : matrixElement(v))));
  return concat([matHeader(), ...parts]);
}

/** The 128-byte header of a little-endian level-5 .mat file. */
export function matHeader(): Uint8Array {
  const header = new Uint8Array(128).fill(32);
  header.set(new TextEncoder().encode('MATLAB 5.0 MAT-file, written by facegar\'s tests'));
  new DataView(header.buffer).setUint16(124, 0x0100, true);
  header.set([0x49, 0x4d], 126); // "IM": little-endian
  return header;
}

/** zlib deflate (what a compressed element holds), through the platform's CompressionStream. */
export async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new CompressionStream('deflate'))).arrayBuffer());
}
