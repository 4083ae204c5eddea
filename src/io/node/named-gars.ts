/**
 * Shipped GARs by the name --gar takes: studio (the default; trained on this project's renders,
 * MIT) and real (fine-tuned on real photos of LFW: non-commercial research use only). A tiny
 * module of its own, so option parsing can tell a name from a folder without loading checkpoints.
 */
export const NAMED_GARS = { studio: 'gar-small', real: 'gar-real-64' } as const;
export type GarName = keyof typeof NAMED_GARS;

/** Whether --gar's value is a shipped GAR's name rather than a folder. */
export function isGarName(value: string): value is GarName {
  return Object.hasOwn(NAMED_GARS, value);
}
