/**
 * sae.topk.step / sae.gsae.step / sae.batchtopk.step on the peers' shapes: one Adam step of a TopK (g-SAE: β = 1)
 * SAE on random activations (and gradients ×1e-2), decoder parallel-gradient removal and unit-norm
 * projection included, through the project's SaeTrainer (which also tracks dead latents and
 * computes L0 / explained variance each step: more work than the peer does). AuxK, input
 * normalisation and b_dec initialisation are off to match the peer's step. The trainer's default
 * sparse path runs (cfg.sparseKernels): one dense matmul ranks the latents (two for the g-SAE,
 * with a = W_decᵀ g), the rest touches only the k picked latents. `flopPerStep` stays the
 * dense-equivalent count (the peer's work), used only to decide whether the reference runs.
 */
import * as E from '../../engine/index.js';
import { ArraySource } from '../../sae/data.js';
import { SaeTrainer } from '../../sae/trainer.js';
import { registerWorkload } from './registry.js';

const SHAPES = [
  { d: 256, m: 4096, k: 32, batch: 1024, quick: true },
  { d: 768, m: 16384, k: 32, batch: 1024, quick: false },
];

/**
 * topk and gsae on both shapes (the peers have them); batchtopk too (no peer: against TopK's step
 * in the same run), and its dense path (`sparseKernels: false`) at d256, so the sparse path's
 * speed-up is measured in the same run.
 */
const RUNS: { kind: 'topk' | 'gsae' | 'batchtopk'; s: (typeof SHAPES)[number]; dense: boolean; denseScore?: boolean }[] = [
  ...(['topk', 'gsae', 'batchtopk'] as const).flatMap((kind) => SHAPES.map((s) => ({ kind, s, dense: false }))),
  { kind: 'batchtopk' as const, s: SHAPES[0]!, dense: true },
  // the g-SAE ranking by the dense score (screenedTopk: false): what the screened primitive saves
  ...SHAPES.map((s) => ({ kind: 'gsae' as const, s, dense: false, denseScore: true })),
];

for (const { kind, s, dense, denseScore } of RUNS) {
  registerWorkload({
    name: dense ? `sae.${kind}.dense_step` : denseScore ? `sae.${kind}.dense_score_step` : `sae.${kind}.step`,
    unit: 'tokens/s',
    shape: { d: s.d, m: s.m, k: s.k, batch: s.batch },
    workPerStep: s.batch,
    // encoder matmul (+ the g projection) forward, dense-equivalent backward
    flopPerStep: (kind === 'gsae' ? 4 : 2) * s.batch * s.d * s.m * 3,
    quick: s.quick && !denseScore,
    setup() {
      const rng = new E.Rng(0);
      const rows = 2 * s.batch;
      const x = Float32Array.from({ length: rows * s.d }, () => rng.normal());
      const g = Float32Array.from({ length: rows * s.d }, () => rng.normal() * 1e-2);
      const source = new ArraySource(x, s.d, kind === 'gsae' ? g : null, { seed: 0, shuffle: false, name: 'bench' });
      const trainer = SaeTrainer.create(
        {
          variant: kind, dIn: s.d, dSae: s.m, k: s.k, beta: 1, batchSize: s.batch, totalSteps: 1_000_000, lr: 1e-4,
          auxkCoefficient: 0, normalizeActivations: 'none', bDecInit: 'zeros', logEvery: 1_000_000, seed: 0, sparseKernels: !dense, screenedTopk: !denseScore,
        },
        source,
      );
      return { step: () => void trainer.trainStep(), dispose: () => trainer.dispose() };
    },
  });
}
