/**
 * The trainer's JSONL log (`train_log.jsonl`, one SAELens-named record per log step): appending a
 * record, and rewinding the file to a checkpoint's step when a run resumes.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/io/atomic.js';

export type LogRecord = Record<string, number>;

export const LOG_FILE = 'train_log.jsonl';

/** Appends `rec` as one line of outDir/train_log.jsonl. */
export function appendLog(outDir: string, rec: LogRecord): void {
  appendFileSync(join(outDir, LOG_FILE), `${JSON.stringify(rec)}\n`);
}

/** Keeps only the log lines up to `step` (a resumed run rewrites what followed its checkpoint). */
export function truncateLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => {
      try {
        return (JSON.parse(l) as { step?: number }).step! <= step;
      } catch {
        return false;
      }
    });
  // atomic: a kill while rewinding must not lose the lines before the checkpoint
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''));
}
