// The page's input limits, shared with its end-to-end tests (so a test can build a photo just over them).
/** Files larger than this are refused before reading them. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Photos with more pixels than this are refused (decoding one takes width·height·4 bytes of memory). */
export const MAX_PIXELS = 80e6;
/** Photos are fitted at most this large on the longer side; results are given in original pixels. */
export const MAX_FIT_SIDE_PX = 2048;
