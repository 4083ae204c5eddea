// Apart from reconstruct.ts so that face-tracker.ts can use it without an import cycle.

/** Distance between the eye centres (mean of iBUG points 36–41 and 42–47), px. */
export function interOcularDistance(landmarks68: Float32Array): number {
  const centre = (first: number) => {
    let x = 0,
      y = 0;
    for (let k = first; k < first + 6; k++) {
      x += landmarks68[2 * k] / 6;
      y += landmarks68[2 * k + 1] / 6;
    }
    return [x, y];
  };
  const [lx, ly] = centre(36),
    [rx, ry] = centre(42);
  return Math.hypot(rx - lx, ry - ly);
}
