// Kept apart from process-input.ts so that `facegar --help` and option checks load nothing heavy.
export type MeshFormat = 'obj' | 'ply' | 'glb';
export const MESH_FORMATS: readonly MeshFormat[] = ['obj', 'ply', 'glb'];
