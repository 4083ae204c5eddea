import { MESH_POINT_COUNT } from './facemesh.ts';

/**
 * For each iBUG-68 point (0-based, image-left side of an upright face first, as in the
 * 300-W annotations), the MediaPipe mesh points whose mean stands in for it. Where an
 * iBUG point falls between two mesh vertices, both are listed.
 * The table is mirror-symmetric: iBUG mirror pairs use mirrored mesh vertices. Jaw
 * points follow FaceMesh's contour, i.e. the visible silhouette at large yaw.
 */
export const IBUG68_FROM_MESH468: readonly (readonly number[])[] = [
  // 0–16 jaw, image-left ear to chin to image-right ear
  [127], [234], [93], [132, 58], [58, 172], [136], [150], [176], [152],
  [400], [379], [365], [397, 288], [361, 288], [323], [454], [356],
  // 17–21 image-left brow (outer → inner), 22–26 image-right brow (inner → outer)
  [70], [63], [105], [66], [107],
  [336], [296], [334], [293], [300],
  // 27–30 nose bridge to tip, 31–35 nostril base, image-left to image-right
  [168, 6], [197, 195], [5], [4],
  [75], [97], [2], [326], [305],
  // 36–41 image-left eye: outer corner, upper lid ×2, inner corner, lower lid ×2
  [33], [160], [158], [133], [153], [144],
  // 42–47 image-right eye: inner corner, upper lid ×2, outer corner, lower lid ×2
  [362], [385], [387], [263], [373], [380],
  // 48–59 outer lip from the image-left corner, over the upper lip, back along the lower
  [61], [39], [37], [0], [267], [269], [291], [321, 405], [314], [17], [84], [181, 91],
  // 60–67 inner lip, same order
  [78], [81], [13], [311], [308], [402], [14], [178],
];

/**
 * iBUG-68 points from a FaceMesh mesh. `mesh468`: [468 * 3] x, y, z; returns [68 * 2]
 * x, y in the same coordinates.
 */
export function meshToIbug68(mesh468: Float32Array): Float32Array {
  if (mesh468.length !== MESH_POINT_COUNT * 3) throw new RangeError(`meshToIbug68: expected ${MESH_POINT_COUNT * 3} values, got ${mesh468.length}`);
  const out = new Float32Array(68 * 2);
  IBUG68_FROM_MESH468.forEach((indices, k) => {
    let x = 0, y = 0;
    for (const i of indices) { x += mesh468[3 * i]; y += mesh468[3 * i + 1]; }
    out[2 * k] = x / indices.length;
    out[2 * k + 1] = y / indices.length;
  });
  return out;
}
