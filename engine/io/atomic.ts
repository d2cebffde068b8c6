/** Crash-safe file replacement, shared by every writer of checkpoints, weights and stores. */
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';

/**
 * Writes `data` to `path.tmp-<pid>`, then renames it over `path`: a reader (or a resumed run)
 * sees the old file or the new one, never half of one. The temporary file is removed on failure.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file may never have been created
    }
    throw e;
  }
}
