/**
 * Things in front of the face in a studio photo: loose hair strands and a hand. Drawn in image
 * space over the shaded linear-RGB frame, placed in "face units" so they land on the face at any
 * pose and size: origin between the eye centres, unit = the outer-eye-corner distance in pixels,
 * x right, y down. Plain JS.
 */

/** One hair strand: a cubic Bézier through 4 control points [x0, y0, … x3, y3] (face units). */
export interface HairStrand {
  controlPoints: number[];
  widthPx: number;
}

export interface StudioOccluders {
  hair: { colorRgb: [number, number, number]; strands: HairStrand[] } | null;
  /** A hand-like blob: palm ellipse plus four finger capsules. */
  hand: { centre: [number, number]; palmRadius: number; angleRad: number; fingerLength: number; toneRgb: [number, number, number] } | null;
}

/** Where face units sit in the image. */
export interface FaceFrame {
  originPx: [number, number];
  unitPx: number;
}

/**
 * Paint the occluders into `linear` [H*W*3] (linear RGB), lit with `lightLevel` (ambient +
 * direct, a scalar). Returns the per-pixel coverage [H*W] 0..1 (for tests and masks).
 */
export function paintOccluders(
  linear: Float32Array,
  width: number,
  height: number,
  occluders: StudioOccluders,
  frame: FaceFrame,
  lightLevel: number,
): Float32Array {
  const coverageAll = new Float32Array(width * height);
  const toPx = (x: number, y: number): [number, number] => [frame.originPx[0] + x * frame.unitPx, frame.originPx[1] + y * frame.unitPx];
  if (occluders.hand) {
    const hand = occluders.hand;
    const [cx, cy] = toPx(...hand.centre);
    const palm = hand.palmRadius * frame.unitPx,
      finger = hand.fingerLength * frame.unitPx;
    const dx = Math.sin(hand.angleRad),
      dy = -Math.cos(hand.angleRad); // fingers point along (dx, dy)
    const capsules: [number, number, number, number, number][] = [];
    for (let f = 0; f < 4; f++) {
      const across = (f - 1.5) * 0.42 * palm,
        along = f === 0 || f === 3 ? 0.85 : 1;
      const bx = cx + dx * 0.6 * palm - dy * across,
        by = cy + dy * 0.6 * palm + dx * across;
      capsules.push([bx, by, bx + dx * finger * along, by + dy * finger * along, 0.2 * palm]);
    }
    const reach = palm + finger + 2;
    forBox(width, height, cx - reach, cy - reach, cx + reach, cy + reach, (x, y, p) => {
      // Signed distance (px) to the palm ellipse (elongated along the fingers) ∪ the fingers.
      const rx = x - cx,
        ry = y - cy;
      const along = rx * dx + ry * dy,
        across = -rx * dy + ry * dx;
      let distance = Math.hypot(along / 1.15, across) - palm;
      let thickness = palm;
      for (const [ax, ay, bx, by, radius] of capsules) {
        const d = segmentDistance(x, y, ax, ay, bx, by) - radius;
        if (d < distance) {
          distance = d;
          thickness = radius;
        }
      }
      const coverage = clamp01(0.5 - distance);
      if (coverage <= 0) return;
      const round = Math.sqrt(clamp01(-distance / thickness));
      const shade = lightLevel * (0.45 + 0.55 * round) * (1 - 0.15 * clamp01(along / (palm + finger)));
      blend(linear, p, coverage, hand.toneRgb.map((c) => c * shade) as [number, number, number]);
      coverageAll[p] = Math.max(coverageAll[p], coverage);
    });
  }
  if (occluders.hair) {
    for (const strand of occluders.hair.strands) {
      const points = Array.from({ length: 33 }, (_, i) => toPx(...bezier(strand.controlPoints, i / 32)));
      const radius = strand.widthPx / 2;
      for (let s = 0; s + 1 < points.length; s++) {
        const [ax, ay] = points[s],
          [bx, by] = points[s + 1];
        forBox(
          width,
          height,
          Math.min(ax, bx) - radius - 1,
          Math.min(ay, by) - radius - 1,
          Math.max(ax, bx) + radius + 1,
          Math.max(ay, by) + radius + 1,
          (x, y, p) => {
            const coverage = clamp01(radius + 0.5 - segmentDistance(x, y, ax, ay, bx, by));
            if (coverage <= coverageAll[p]) return; // a strand covers a pixel once
            // Sheen along the strand: brighter in its middle third.
            const sheen = 1 + 0.6 * Math.max(0, Math.sin((Math.PI * s) / (points.length - 1)) - 0.5);
            const colour = occluders.hair!.colorRgb.map((c) => c * lightLevel * sheen) as [number, number, number];
            blend(linear, p, (coverage - coverageAll[p]) / (1 - coverageAll[p] + 1e-6), colour);
            coverageAll[p] = coverage;
          },
        );
      }
    }
  }
  return coverageAll;
}

function bezier(c: number[], t: number): [number, number] {
  const u = 1 - t,
    w = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
  return [w[0] * c[0] + w[1] * c[2] + w[2] * c[4] + w[3] * c[6], w[0] * c[1] + w[1] * c[3] + w[2] * c[5] + w[3] * c[7]];
}

/** Distance from pixel centre (x, y) to the segment a–b. */
function segmentDistance(x: number, y: number, ax: number, ay: number, bx: number, by: number): number {
  const ex = bx - ax,
    ey = by - ay,
    length2 = ex * ex + ey * ey;
  const t = length2 > 0 ? clamp01(((x - ax) * ex + (y - ay) * ey) / length2) : 0;
  return Math.hypot(x - ax - t * ex, y - ay - t * ey);
}

/** Visit pixel centres (x + 0.5, y + 0.5) of the clipped box. */
function forBox(width: number, height: number, x0: number, y0: number, x1: number, y1: number, visit: (x: number, y: number, pixel: number) => void): void {
  const left = Math.max(0, Math.floor(x0)),
    right = Math.min(width - 1, Math.ceil(x1));
  const top = Math.max(0, Math.floor(y0)),
    bottom = Math.min(height - 1, Math.ceil(y1));
  for (let row = top; row <= bottom; row++) for (let column = left; column <= right; column++) visit(column + 0.5, row + 0.5, row * width + column);
}

function blend(linear: Float32Array, pixel: number, alpha: number, rgb: [number, number, number]): void {
  for (let k = 0; k < 3; k++) linear[3 * pixel + k] += alpha * (rgb[k] - linear[3 * pixel + k]);
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
