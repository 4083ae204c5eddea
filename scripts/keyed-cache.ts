// The JSON-lines caches of the fitting scripts: one object per photo, keyed by `key`; a line with
// `missed: true` records a photo without a face, so it is not searched again.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** key → the cached row, or null for a recorded miss; empty when there is no cache file (yet). */
export async function readKeyedCache<Row extends { key: string }>(path: string | undefined): Promise<Map<string, Row | null>> {
  const cached = new Map<string, Row | null>();
  if (!path || !existsSync(path)) return cached;
  for (const line of (await readFile(path, 'utf8')).split('\n'))
    if (line) {
      const row = JSON.parse(line) as Row & { missed?: boolean };
      cached.set(row.key, row.missed ? null : row);
    }
  return cached;
}
