/**
 * The script a reconstruction worker thread starts from. From the sources (.ts) a worker needs tsx
 * registered first (worker-entry.mjs); the built package (dist/) runs plain JavaScript.
 */
export function reconstructWorkerEntry(): URL {
  return import.meta.url.endsWith('.ts') ? new URL('./worker-entry.mjs', import.meta.url) : new URL('./reconstruct-worker.js', import.meta.url);
}
