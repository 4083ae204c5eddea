/** Which renderer a fit runs through: the GAR (encoder + refinement) or the graphics renderer (SH shading). */
export const RENDERER_NAMES = ['gar', 'graphics'] as const;
export type RendererName = (typeof RENDERER_NAMES)[number];

/** Most faces reconstructed per photo, largest first, unless asked otherwise (library and CLI). */
export const DEFAULT_MAX_FACES = 4;

/**
 * THE default renderer of `facegar reconstruct` (and of loadReconstructorResources-style lookups):
 * with 'gar' the GAR path runs whenever a shipped GAR and encoder are both found under models/
 * (else the graphics path); with 'graphics' the GAR path runs only on request (--renderer gar,
 * --gar, --encoder). Set by the numbers on the example photos and the synthetic benchmark (README).
 * A file of its own, free of imports, so the CLI's --help can show it without loading networks.
 */
export const DEFAULT_RENDERER: RendererName = 'gar';
