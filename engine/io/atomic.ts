/** Crash-safe file replacement, shared by every writer of checkpoints, weights and stores. */
import { readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

/**
 * Removes the `<name>.tmp-<pid>` files a killed writer left in `dir` (a process killed between
 * writeFileSync and renameSync cannot clean up after itself). Call it only where one process
 * writes at a time, e.g. after a checkpoint is safely in place.
 */
export function removeStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no directory, nothing left over
  }
  for (const n of names) if (/\.tmp-\d+$/.test(n)) rmSync(join(dir, n), { force: true, recursive: true });
}
