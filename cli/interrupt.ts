/**
 * Ctrl-C for the long commands (lm train, sae train, cache). The first SIGINT asks the job to
 * stop at its next safe point (after the current step or shard, with its checkpoint intact or
 * freshly written); the command then fails with an InterruptedError, which cli/main.ts prints as
 * one line and turns into exit code 130. A second SIGINT exits at once: every file the jobs write
 * is replaced atomically, so even that leaves the last checkpoint valid.
 */
export class InterruptedError extends Error {
  readonly exitCode = 130;
  constructor(message: string) {
    super(message);
    this.name = 'InterruptedError';
  }
}

export interface InterruptWatch {
  /** True once SIGINT has been received. */
  readonly requested: () => boolean;
  /** Removes the handler (call in a finally). */
  dispose(): void;
}

/** Installs the SIGINT handler; `say` prints the acknowledgement (through the progress bar, if any). */
export function watchInterrupt(say: (msg: string) => void, what: string): InterruptWatch {
  let requested = false;
  const onSigint = () => {
    if (requested) process.exit(130);
    requested = true;
    say(`interrupt: ${what} (Ctrl-C again to quit now)`);
  };
  process.on('SIGINT', onSigint);
  return { requested: () => requested, dispose: () => void process.off('SIGINT', onSigint) };
}
