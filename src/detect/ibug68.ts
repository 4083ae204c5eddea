import { MESH_POINT_COUNT } from './facemesh.ts';

/** A mesh point and its weight in the weighted mean that stands in for one iBUG point. */
export type WeightedMeshPoint = readonly [meshIndex: number, weight: number];

const each = (...indices: number[]): readonly WeightedMeshPoint[] => indices.map((i) => [i, 1 / indices.length] as const);

/**
 * For each iBUG-68 point (0-based, image-left side of an upright face first, as in the
 * 300-W annotations), the MediaPipe mesh points whose weighted mean stands in for it (weights
 * sum to 1). The table is mirror-symmetric: iBUG mirror pairs use mirrored mesh vertices.
 *
 * Jaw points follow FaceMesh's face oval, i.e. the visible silhouette at large yaw. Their
 * places along the oval are where the fitted ICT-FaceKit model's own jaw landmarks project
 * (mean over the 17 example photos, left and right averaged): iBUG spacing along the jaw is
 * loosely defined, and matching the model's spacing keeps the fit from being pulled along it.
 */
export const IBUG68_FROM_MESH468: readonly (readonly WeightedMeshPoint[])[] = [
  // 0–16 jaw, image-left ear to chin to image-right ear
  [
    [162, 0.35],
    [127, 0.65],
  ],
  each(234),
  [
    [93, 0.8],
    [132, 0.2],
  ],
  [
    [132, 0.75],
    [58, 0.25],
  ],
  [
    [58, 0.4],
    [172, 0.6],
  ],
  each(136),
  [
    [150, 0.15],
    [149, 0.85],
  ],
  each(176, 148),
  each(152),
  each(400, 377),
  [
    [379, 0.15],
    [378, 0.85],
  ],
  each(365),
  [
    [288, 0.4],
    [397, 0.6],
  ],
  [
    [361, 0.75],
    [288, 0.25],
  ],
  [
    [323, 0.8],
    [361, 0.2],
  ],
  each(454),
  [
    [389, 0.35],
    [356, 0.65],
  ],
  // 17–21 image-left brow (outer → inner), 22–26 image-right brow (inner → outer)
  each(70),
  each(63),
  each(105),
  each(66),
  each(107),
  each(336),
  each(296),
  each(334),
  each(293),
  each(300),
  // 27–30 nose bridge to tip, 31–35 nostril base, image-left to image-right
  each(168, 6),
  each(197, 195),
  each(5),
  each(4),
  each(75),
  each(97),
  each(2),
  each(326),
  each(305),
  // 36–41 image-left eye: outer corner, upper lid ×2, inner corner, lower lid ×2
  each(33),
  each(160),
  each(158),
  each(133),
  each(153),
  each(144),
  // 42–47 image-right eye: inner corner, upper lid ×2, outer corner, lower lid ×2
  each(362),
  each(385),
  each(387),
  each(263),
  each(373),
  each(380),
  // 48–59 outer lip from the image-left corner, over the upper lip, back along the lower
  each(61),
  each(39),
  each(37),
  each(0),
  each(267),
  each(269),
  each(291),
  each(321, 405),
  each(314),
  each(17),
  each(84),
  each(181, 91),
  // 60–67 inner lip, same order
  each(78),
  each(81),
  each(13),
  each(311),
  each(308),
  each(402),
  each(14),
  each(178),
];

/**
 * iBUG-68 points from a FaceMesh mesh. `mesh468`: [468 * 3] x, y, z; returns [68 * 2]
 * x, y in the same coordinates.
 */
export function meshToIbug68(mesh468: Float32Array): Float32Array {
  if (mesh468.length !== MESH_POINT_COUNT * 3) throw new RangeError(`meshToIbug68: expected ${MESH_POINT_COUNT * 3} values, got ${mesh468.length}`);
  const out = new Float32Array(68 * 2);
  IBUG68_FROM_MESH468.forEach((points, k) => {
    let x = 0,
      y = 0;
    for (const [i, weight] of points) {
      x += weight * mesh468[3 * i];
      y += weight * mesh468[3 * i + 1];
    }
    out[2 * k] = x;
    out[2 * k + 1] = y;
  });
  return out;
}
