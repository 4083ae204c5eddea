// Kept apart from process-input.ts so that `facegar --help` and option checks load nothing heavy.
export type MeshFormat = 'obj' | 'ply' | 'glb';
export const MESH_FORMATS: readonly MeshFormat[] = ['obj', 'ply', 'glb'];

/** Benchmark prediction layouts `facegar reconstruct --layout` also writes (see eval/prediction-layout.ts). */
export const PREDICTION_LAYOUTS = ['now', 'micc'] as const;
export type PredictionLayout = (typeof PREDICTION_LAYOUTS)[number];
