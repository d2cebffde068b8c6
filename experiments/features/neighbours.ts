/**
 * Decoder nearest neighbours: for each latent, the other latents whose decoder rows have the
 * largest cosine with its own, best first. Cosines come from the engine in blocks of rows
 * ([b, m] at a time, never the whole m × m matrix); the selection runs on the host so the latent
 * itself is excluded exactly. Ties go to the lower index. A zero row has cosine 0 with everything.
 */
import * as E from '../../engine/index.js';

export function decoderNeighbours(decoderRows: E.Tensor, n: number, block = 128): { index: number; cosine: number }[][] {
  const [m, d] = decoderRows.shape as [number, number];
  const k = Math.min(n, m - 1);
  const out: { index: number; cosine: number }[][] = [];
  const unit = E.keep(E.tidy(() => E.div(decoderRows, E.maximum(E.sqrt(E.sum(E.mul(decoderRows, decoderRows), -1, true)), 1e-30))));
  try {
    for (let first = 0; first < m; first += block) {
      const b = Math.min(block, m - first);
      const cos = E.tidy(() => E.matmul(E.slice(unit, [first, 0], [b, d]), unit, false, true).toArray() as Float32Array);
      for (let r = 0; r < b; r++) {
        const self = first + r;
        const row = cos.subarray(r * m, (r + 1) * m);
        out.push(topOf(row, k, self).map((j) => ({ index: j, cosine: row[j]! })));
      }
    }
  } finally {
    E.dispose(unit);
  }
  return out;
}

/** Indices of the k largest entries of row (excluding `skip`), largest first, ties to the lower index. */
export function topOf(row: ArrayLike<number>, k: number, skip: number): number[] {
  const best: number[] = [];
  for (let j = 0; j < row.length; j++) {
    if (j === skip) continue;
    const v = row[j]!;
    if (best.length === k && !(v > row[best[k - 1]!]!)) continue;
    let at = best.length === k ? k - 1 : best.length;
    if (best.length < k) best.push(j);
    while (at > 0 && v > row[best[at - 1]!]!) {
      best[at] = best[at - 1]!;
      at--;
    }
    best[at] = j;
  }
  return best;
}
